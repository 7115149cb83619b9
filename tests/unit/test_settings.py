from __future__ import annotations

import pytest

from inescape.kernel.errors import ConfigurationError
from inescape.settings import describe_settings, load_settings


def test_no_configuration_means_embedded_backends_under_the_data_dir(tmp_path):
    settings = load_settings({"INESCAPE_DATA_DIR": str(tmp_path)})

    assert settings.embedded
    assert settings.database_url == f"sqlite:///{tmp_path}/inescape.db"
    assert settings.modules == ["auth", "patients", "generation", "collection", "training", "cds"]


def test_nested_settings_come_from_prefixed_variables():
    settings = load_settings(
        {
            "INESCAPE_DATABASE_URL": "postgresql://u:p@db:5432/inescape",
            "INESCAPE_DATABASE_POOL_SIZE": "20",
            "INESCAPE_REDIS_URL": "redis://cache:6379/1",
            "INESCAPE_S3_ENDPOINT_URL": "http://minio:9000",
            "INESCAPE_MODULES": "cds, patients",
            "INESCAPE_LOG_LEVEL": "debug",
            "INESCAPE_JOBS_EMBEDDED_WORKER": "no",
        }
    )

    assert settings.database.pool_size == 20
    assert settings.redis.url == "redis://cache:6379/1"
    assert settings.s3_enabled
    assert not settings.embedded
    assert settings.modules == ["cds", "patients"]
    assert settings.log.level == "DEBUG"
    assert settings.jobs.embedded_worker is False


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"INESCAPE_DATABASE_POOL_SIZE": "lots"}, "INESCAPE_DATABASE_POOL_SIZE"),
        ({"INESCAPE_DATABASE_ECHO": "maybe"}, "INESCAPE_DATABASE_ECHO"),
        ({"INESCAPE_MONGODB_URL": "mysql://x"}, "INESCAPE_MONGODB_URL"),
        ({"INESCAPE_S3_ENDPOINT_URL": "minio:9000"}, "INESCAPE_S3_ENDPOINT_URL"),
        ({"INESCAPE_SERVER_PORT": "70000"}, "INESCAPE_SERVER_PORT"),
        ({"INESCAPE_PLUGINS": "nocolon"}, "INESCAPE_PLUGINS"),
        ({"INESCAPE_LOG_FORMAT": "xml"}, "INESCAPE_LOG_FORMAT"),
    ],
)
def test_a_malformed_setting_is_named_in_the_error(env, setting):
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)

    assert raised.value.setting == setting
    assert str(raised.value).startswith(f"{setting}: ")
    assert "\n" not in str(raised.value)


def test_every_setting_is_described_for_the_readme():
    rows = {name: default for name, _type, default in describe_settings()}

    assert rows["INESCAPE_DATA_DIR"] == "'./inescape-data'"
    assert "INESCAPE_REDIS_URL" in rows
    assert "INESCAPE_JOBS_LEASE_SECONDS" in rows


def test_a_certificate_without_its_key_is_one_line_naming_the_certificate_variable(tmp_path):
    certfile = tmp_path / "cert.pem"
    certfile.write_text("-----BEGIN CERTIFICATE-----\n")

    with pytest.raises(ConfigurationError) as raised:
        load_settings({"INESCAPE_DATA_DIR": str(tmp_path), "INESCAPE_SERVER_SSL_CERTFILE": str(certfile)})

    assert raised.value.setting == "INESCAPE_SERVER_SSL_CERTFILE"
    assert "INESCAPE_SERVER_SSL_KEYFILE" in raised.value.problem
    assert "\n" not in str(raised.value)


def test_a_missing_key_file_is_named(tmp_path):
    certfile = tmp_path / "cert.pem"
    certfile.write_text("-----BEGIN CERTIFICATE-----\n")

    with pytest.raises(ConfigurationError) as raised:
        load_settings(
            {
                "INESCAPE_SERVER_SSL_CERTFILE": str(certfile),
                "INESCAPE_SERVER_SSL_KEYFILE": str(tmp_path / "absent.pem"),
            }
        )

    assert raised.value.setting == "INESCAPE_SERVER_SSL_KEYFILE"
    assert "\n" not in str(raised.value)


def test_cors_is_off_and_hsts_on_by_default():
    server = load_settings({}).server

    assert server.cors_origins == []
    assert server.cors_allow_credentials is False
    assert server.hsts is True
