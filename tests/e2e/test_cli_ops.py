"""The operator's everyday commands: quiet one-shot commands, ``--json`` for scripts, the
profiles and the accounts listed, the keys an installation needs made once, and a busy port
named rather than a traceback."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest
from click.testing import CliRunner

from inescape.cli import main
from inescape.infra.crypto import KeyRing
from inescape.infra.tokens import load_or_create_key_file
from tests.support.auth import PASSWORD
from tests.support.processes import run_cli


@pytest.fixture(autouse=True)
def _umask():
    """The command sets this process's umask (to 077) when it runs in it: put it back."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def env(tmp_path) -> dict[str, str]:
    # INFO, the default: what a new user sees
    return {"INESCAPE_DATA_DIR": str(tmp_path / "data"), "INESCAPE_LOG_LEVEL": "INFO"}


def create(tmp_path, name: str, *roles: str, json_output: bool = False, one_time: bool = False):
    options = [arg for role in roles for arg in ("--role", role)]
    return run_cli(
        "create-user",
        name,
        *options,
        "--password-stdin",
        *(["--json"] if json_output else []),
        *(["--one-time"] if one_time else []),
        env=env(tmp_path),
        stdin=PASSWORD + "\n",
    )


def test_creating_the_first_account_prints_one_line_without_start_up_logs(tmp_path):
    result = create(tmp_path, "admin", "admin")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("inescape: created admin (admin), id ")
    assert len(result.stdout.splitlines()) == 1
    assert "alembic" not in result.stderr
    assert "no user accounts yet" not in result.stderr


def test_users_list_shows_every_account_as_a_table_and_as_json(tmp_path):
    made = create(tmp_path, "dr.karimi", "clinician", "researcher", json_output=True)
    create(tmp_path, "admin", "admin")
    create(tmp_path, "nurse.new", "clinician", one_time=True)

    table = run_cli("users", "list", env=env(tmp_path))
    listed = run_cli("users", "list", "--json", env=env(tmp_path))

    assert json.loads(made.stdout)["roles"] == ["clinician", "researcher"]
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["USERNAME", "ROLES", "STATE"],
        ["admin", "admin", "active"],
        ["dr.karimi", "clinician,researcher", "active"],
        ["nurse.new", "clinician", "active,"],
    ]
    assert "active, one-time password" in lines[3]
    assert "one-time" not in "".join(lines[:3])
    items = json.loads(listed.stdout)["items"]
    assert [(u["username"], u["roles"], u["last_login_at"]) for u in items] == [
        ("admin", ["admin"], None),
        ("dr.karimi", ["clinician", "researcher"], None),
        ("nurse.new", ["clinician"], None),
    ]
    # no password or its hash: the only field that names one is the one-time flag
    assert [sorted(k for k in u if "password" in k) for u in items] == [["must_change_password"]] * 3
    assert [u["must_change_password"] for u in items] == [False, False, True]
    assert "$argon2" not in listed.stdout


def test_audit_verify_reports_the_chain_as_json(tmp_path):
    create(tmp_path, "admin", "admin")

    result = run_cli("audit", "verify", "--json", env=env(tmp_path))

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["ok"], report["checked"], report["problems"]) == (True, 1, [])


def test_generate_reports_its_summary_as_json_with_the_bar_on_stderr(tmp_path):
    out = tmp_path / "cohort.parquet"

    result = run_cli(
        "generate", "--profile", "us-seer", "--n", "300", "--out", str(out), "--json", env=env(tmp_path)
    )

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["profile"], summary["n"], summary["seed"]) == ("us-seer", 300, 0)
    assert str(out) in [f["path"] for f in summary["files"]]
    assert summary["fidelity"]["targets"]
    assert "Generating 300 patients" in result.stderr


def test_profiles_lists_the_names_generate_takes():
    text = CliRunner().invoke(main, ["profiles"])
    data = CliRunner().invoke(main, ["profiles", "--json"])

    assert text.exit_code == 0, text.output
    names = [item["name"] for item in json.loads(data.output)["items"]]
    assert {"global", "iran-golestan", "us-seer"} <= set(names)
    assert [line.split()[0] for line in text.output.splitlines()] == names
    assert "inescape profiles" in CliRunner().invoke(main, ["generate", "--help"]).output


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_init_makes_loadable_private_keys_once(tmp_path):
    keys = tmp_path / "keys"

    first = CliRunner().invoke(main, ["keys", "init", "--out", str(keys), "--json"])
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    again = CliRunner().invoke(main, ["keys", "init", "--out", str(keys)])

    assert first.exit_code == 0, first.output
    assert [f["created"] for f in json.loads(first.output)["files"]] == [True, True, True]
    assert sorted(before) == ["backup-key", "encryption.json", "jwt-signing.json"]
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before  # never replaced
    assert again.output.count("kept ") == 3
    assert mode(keys) == 0o700
    assert {mode(p) for p in keys.iterdir()} == {0o600}
    ring = KeyRing.from_file(keys / "encryption.json")
    assert len(ring.key(ring.active_id)) == 32
    assert load_or_create_key_file(keys / "jwt-signing.json")[0].is_private


def test_keys_init_writes_helm_values_and_adds_compose_secrets_keeping_existing_ones(tmp_path):
    keys, values, dotenv = tmp_path / "keys", tmp_path / "keys-values.yaml", tmp_path / ".env"
    dotenv.write_text("POSTGRES_PASSWORD=mine\nINESCAPE_IMAGE=registry.example.org/inescape:0.1.0")

    result = CliRunner().invoke(
        main, ["keys", "init", "--out", str(keys), "--helm-values", str(values), "--compose-env", str(dotenv)]
    )

    assert result.exit_code == 0, result.output
    written = json.loads(values.read_text().split("\n", 1)[1])["keys"]  # JSON is YAML
    assert written["create"] is True
    assert written["encryptionJson"] == (keys / "encryption.json").read_text()
    assert written["jwtSigningJson"] == (keys / "jwt-signing.json").read_text()
    pairs = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert pairs["POSTGRES_PASSWORD"] == "mine"
    assert pairs["INESCAPE_IMAGE"] == "registry.example.org/inescape:0.1.0"
    assert len(pairs["REDIS_PASSWORD"]) >= 24
    assert pairs["REDIS_PASSWORD"] != pairs["MONGO_PASSWORD"]
    assert pairs["INESCAPE_BACKUP_KEY"] == (keys / "backup-key").read_text().strip()
    assert mode(values) == mode(dotenv) == 0o600


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_cli("serve", "--port", str(port), env=env(tmp_path))

    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        f"inescape: port {port} on 127.0.0.1 is already in use (another `inescape serve`?); "
        "stop it, or choose another port with --port or INESCAPE_SERVER_PORT"
    )
    assert "Traceback" not in result.stderr


def test_a_worker_serves_its_own_metrics_on_the_metrics_port(tmp_path):
    import time

    import httpx

    from tests.support.processes import Served, free_port

    port = free_port()
    worker = Served("worker", "--metrics-port", str(port), env=env(tmp_path), log=tmp_path / "worker.log")
    worker.start()
    try:
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not text:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.TransportError:
                assert worker.proc is not None
                assert worker.proc.poll() is None, worker.log()
                time.sleep(0.2)
    finally:
        worker.stop()

    assert "inescape_build_info{" in text, worker.log()
    assert "# TYPE inescape_job_duration_seconds histogram" in text
