"""``inescape generate``: a cohort to Parquet with its fidelity summary, byte-identical from two
processes for the same seed, loaded into the configured database, and one clear line for a
mistake."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3

import polars as pl

from inescape.cli.common import with_runtime
from inescape.settings import load_settings
from tests.support.processes import run_cli


def digest(paths) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(paths))).hexdigest()


def test_two_processes_write_the_same_bytes_and_report_fidelity(tmp_path):
    env = {"INESCAPE_DATA_DIR": str(tmp_path / "data")}
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        out = tmp_path / name / "cohort.parquet"
        result = run_cli(
            "generate", "--profile", "us-seer", "--n", "3000", "--seed", "7", "--out", str(out), env=env
        )
        assert result.returncode == 0, result.stderr
        runs.append((result.stdout, list((tmp_path / name).glob("cohort*.parquet"))))

    (stdout, files), (_, again) = runs
    assert len(files) == 6  # patients and its five child tables
    assert digest(files) == digest(again)
    assert "targets within the profile's tolerance" in stdout
    assert pl.read_parquet(tmp_path / "a" / "cohort.parquet").height == 3000


def test_a_cohort_is_loaded_into_the_configured_database(tmp_path):
    env = {"INESCAPE_DATA_DIR": str(tmp_path / "data")}

    result = run_cli(
        "generate", "--profile", "iran-golestan", "--n", "1200", "--to-database", env=env, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert "loaded 1,200 patients" in result.stdout
    with sqlite3.connect(tmp_path / "data" / "inescape.db") as db:
        rows = db.execute("SELECT origin, count(*) FROM patients GROUP BY origin").fetchall()
    assert rows == [("synthetic", 1200)]


def test_a_cohort_loaded_from_the_command_line_has_its_dataset_record_and_audit_event(tmp_path):
    env = {"INESCAPE_DATA_DIR": str(tmp_path / "data")}

    result = run_cli(
        "generate", "--profile", "us-seer", "--n", "600", "--seed", "5", "--to-database", env=env, timeout=120
    )

    assert result.returncode == 0, result.stderr
    found = re.search(
        r"loaded 600 patients into the clinical database \(dataset ([0-9a-f-]{36})\)", result.stdout
    )
    assert found, result.stdout
    dataset, events = asyncio.run(with_runtime(load_settings(env), lambda rt: _record_of(rt, found.group(1))))
    assert (dataset.kind, dataset.origin, dataset.profile, dataset.n, dataset.seed) == (
        "synthetic",
        "synthetic",
        "us-seer",
        600,
        5,
    )
    assert dataset.outputs == ["database"]
    assert dataset.rows == {"patients": 600}
    assert dataset.fidelity["targets"]
    assert [(e.action, e.user, e.outcome, e.resource_id) for e in events] == [
        ("generation.cohort_loaded", "cli", "success", found.group(1))
    ]


async def _record_of(runtime, dataset_id: str):
    from inescape.modules.auth.api import GatewayApi
    from inescape.modules.generation.api import DatasetsApi

    dataset = await runtime.facade(DatasetsApi).describe(dataset_id)
    trail = runtime.facade(GatewayApi).trail
    events = await trail.query(filters={"action": "generation.cohort_loaded"}, before_seq=None, limit=10)
    return dataset, events


def test_a_mistake_is_one_clear_message_and_nothing_is_written(tmp_path):
    env = {"INESCAPE_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "cohort.parquet"

    unknown = run_cli("generate", "--profile", "atlantis", "--n", "10", "--out", str(out), env=env)
    bad_quota = run_cli(
        "generate",
        "--profile",
        "us-seer",
        "--n",
        "10",
        "--out",
        str(out),
        "--quota",
        '{"where": {"planet": "mars"}}',
        env=env,
    )
    nowhere = run_cli("generate", "--profile", "us-seer", "--n", "10", env=env)

    assert unknown.returncode == 1
    assert "atlantis" in unknown.stderr
    assert "Traceback" not in unknown.stderr + bad_quota.stderr
    assert bad_quota.returncode == 1
    assert "quota" in bad_quota.stderr
    assert nowhere.returncode == 2
    assert "--out" in nowhere.stderr
    assert list(tmp_path.glob("cohort*")) == []
