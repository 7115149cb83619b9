"""The operator's commands: create users from a prompt or a script, and verify the audit
chain, which fails loudly once someone edits the stored events."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from inescape.modules.auth.audit import FIELDS, KEYED_FIELDS
from tests.support.auth import PASSWORD
from tests.support.processes import run_cli


def env(tmp_path) -> dict[str, str]:
    return {"INESCAPE_DATA_DIR": str(tmp_path / "data"), "INESCAPE_LOG_LEVEL": "WARNING"}


def test_create_user_reads_the_password_from_stdin_and_refuses_duplicates(tmp_path):
    first = run_cli(
        "create-user",
        "dr.karimi",
        "--role",
        "clinician",
        "--role",
        "researcher",
        "--password-stdin",
        env=env(tmp_path),
        stdin=PASSWORD + "\n",
    )
    again = run_cli(
        "create-user",
        "dr.karimi",
        "--role",
        "admin",
        "--password-stdin",
        env=env(tmp_path),
        stdin=PASSWORD + "\n",
    )

    assert first.returncode == 0, first.stderr
    assert "created dr.karimi (clinician, researcher)" in first.stdout
    assert again.returncode == 1
    assert "taken" in again.stderr
    assert "Traceback" not in again.stderr


def test_create_user_one_time_makes_an_account_that_must_change_its_password(tmp_path):
    made = run_cli(
        "create-user",
        "dr.handed",
        "--role",
        "clinician",
        "--password-stdin",
        "--one-time",
        env=env(tmp_path),
        stdin=PASSWORD + "\n",
    )
    plain = run_cli(
        "create-user",
        "dr.own",
        "--role",
        "clinician",
        "--password-stdin",
        env=env(tmp_path),
        stdin=PASSWORD + "\n",
    )
    listed = run_cli("users", "list", "--json", env=env(tmp_path))

    assert made.returncode == 0, made.stderr
    assert "one-time: it must be changed at the first login" in made.stdout
    assert plain.returncode == 0, plain.stderr
    users = {u["username"]: u for u in json.loads(listed.stdout)["items"]}
    assert users["dr.handed"]["must_change_password"] is True
    assert users["dr.own"]["must_change_password"] is False


def test_create_user_refuses_a_weak_password_and_says_why(tmp_path):
    result = run_cli(
        "create-user", "nurse", "--role", "clinician", "--password-stdin", env=env(tmp_path), stdin="short\n"
    )

    assert result.returncode == 1
    assert "at least 12 characters" in result.stderr


def test_create_user_asks_twice_at_the_prompt(tmp_path):
    result = run_cli(
        "create-user", "auditor1", "--role", "auditor", env=env(tmp_path), stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.returncode == 0, result.stderr


def three_users(tmp_path) -> None:
    for name in ("a.user", "b.user", "c.user"):
        made = run_cli(
            "create-user",
            name,
            "--role",
            "auditor",
            "--password-stdin",
            env=env(tmp_path),
            stdin=PASSWORD + "\n",
        )
        assert made.returncode == 0, made.stderr


def test_audit_verify_passes_then_names_the_event_someone_altered(tmp_path):
    three_users(tmp_path)
    intact = run_cli("audit", "verify", env=env(tmp_path))

    db = sqlite3.connect(tmp_path / "data" / "inescape.db")
    db.execute(
        "UPDATE documents SET body = json_set(body, '$.detail', 'nothing happened') "
        "WHERE collection = 'audit_logs' AND id = '000000000002'"
    )
    db.commit()
    db.close()
    broken = run_cli("audit", "verify", env=env(tmp_path))

    assert intact.returncode == 0, intact.stderr
    assert "intact: 3 events" in intact.stdout
    assert broken.returncode == 1
    assert "event 2 was altered" in broken.stderr


def test_audit_verify_reports_the_newest_events_deleted(tmp_path):
    three_users(tmp_path)
    db = sqlite3.connect(tmp_path / "data" / "inescape.db")
    db.execute("DELETE FROM documents WHERE collection = 'audit_logs' AND id = '000000000003'")
    db.commit()
    db.close()

    result = run_cli("audit", "verify", env=env(tmp_path))

    assert result.returncode == 1
    assert "event 3 deleted at the end" in result.stderr, result.stderr
    assert "intact" not in result.stdout


def test_audit_verify_reports_an_event_altered_with_the_hashes_recomputed_after_it(tmp_path):
    """Whoever can write the database but lacks the key recomputes every hash from the altered
    event on, the way the unkeyed chain was made: the chain is whole, its signatures are not."""
    three_users(tmp_path)
    db = sqlite3.connect(tmp_path / "data" / "inescape.db")
    rows = db.execute("SELECT id, body FROM documents WHERE collection = 'audit_logs' ORDER BY id").fetchall()
    events = [json.loads(body) for _, body in rows]
    events[1]["detail"] = "nothing happened"
    for event in events[1:]:
        event["prev_hash"] = events[events.index(event) - 1]["hash"]
        names = KEYED_FIELDS if "key_id" in event else FIELDS  # the attacker reads the source
        fields = {k: event.get(k) for k in names}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        event["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
    for (doc_id, _), event in zip(rows, events, strict=True):
        db.execute(
            "UPDATE documents SET body = ? WHERE collection = 'audit_logs' AND id = ?",
            (json.dumps(event), doc_id),
        )
    db.commit()
    db.close()

    result = run_cli("audit", "verify", env=env(tmp_path))

    assert result.returncode == 1
    assert "event 2 was altered" in result.stderr, result.stderr
    assert "event 3 was altered" in result.stderr
    assert "does not follow" not in result.stderr  # the links were made good; the key was missing
