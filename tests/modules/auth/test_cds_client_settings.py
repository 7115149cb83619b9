"""Trusted CDS clients as an operator configures them: a mistake stops start-up naming the variable."""

from __future__ import annotations

import json

import pytest

from inescape.kernel.errors import ConfigurationError
from inescape.modules.auth.gateway import trusted_cds_clients
from inescape.modules.auth.settings import AuthSettings

EHR = {"issuer": "https://ehr.example", "jwks_url": "https://ehr.example/jwks.json"}


def test_inline_and_file_clients_are_read_together(tmp_path):
    other = tmp_path / "clients.json"
    other.write_text(json.dumps([{"issuer": "https://other.example", "jku_hosts": ["keys.other.example"]}]))

    clients = trusted_cds_clients(AuthSettings(cds_clients=json.dumps([EHR]), cds_clients_file=str(other)))

    assert [c.issuer for c in clients] == ["https://ehr.example", "https://other.example"]
    assert clients[1].jku_hosts == ["keys.other.example"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json", "JSON array"),
        (json.dumps([{"issuer": "https://ehr.example"}]), "needs jwks_url, jwks or jku_hosts"),
        (json.dumps([{**EHR, "jwks_url": "http://ehr.example/jwks.json"}]), "https"),
        (
            json.dumps([{"issuer": "https://ehr.example", "jwks": {"keys": [{"kty": "nope"}]}}]),
            "not a JWK set",
        ),
        (json.dumps([EHR, EHR]), "configured twice"),
        (json.dumps([{**EHR, "jwks_uri": "typo"}]), "JSON array"),
    ],
)
def test_a_malformed_client_list_names_the_variable_and_the_problem(value, problem):
    with pytest.raises(ConfigurationError) as raised:
        trusted_cds_clients(AuthSettings(cds_clients=value))

    assert raised.value.setting == "INESCAPE_AUTH_CDS_CLIENTS"
    assert problem in str(raised.value)


def test_a_missing_client_file_names_its_variable(tmp_path):
    with pytest.raises(ConfigurationError) as raised:
        trusted_cds_clients(AuthSettings(cds_clients_file=str(tmp_path / "absent.json")))

    assert raised.value.setting == "INESCAPE_AUTH_CDS_CLIENTS_FILE"
