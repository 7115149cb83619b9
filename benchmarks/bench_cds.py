"""Decision support speed: staging calls per second, and recommendation latency p50/p99
in-process and over HTTP, in one run.

* **staging**: ``stage()`` over every combination the AJCC tables define (each kind and
  histology), round after round; calls per second, with the undefined combinations (which
  raise a ``StagingError`` naming the field) timed separately.
* **recommendations, in-process**: ``recommend()`` (stage from TNM, then the guideline rules)
  on a mix of vignettes (early, locally advanced, metastatic by biomarker, adjuvant, ECOG 3),
  each call timed on its own; p50/p99 against the 10 ms p99 target.
* **recommendations, over HTTP**: ``POST /api/v1/cds/recommendations`` to ``inescape serve``
  (modules auth + cds) on 127.0.0.1 with a clinician's bearer token: JWT, RBAC guard, rate
  limiter, validation, an audit event per call; sequential keep-alive requests from one
  client, each timed; p50/p99. The same vignettes.

Prints tables and exits 0: nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_cds.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import LOOPBACK, free_port, versions  # noqa: E402

VIGNETTES: list[dict[str, Any]] = [
    {"histology": "adenocarcinoma", "location": "egj", "t": "T3", "n": "N1", "m": "M0", "ecog": 1,
     "fit_for_surgery": True, "msi": "MSS"},
    {"histology": "squamous_cell_carcinoma", "location": "middle", "t": "T3", "n": "N1", "m": "M0",
     "ecog": 0, "fit_for_surgery": True},
    {"histology": "squamous_cell_carcinoma", "location": "upper", "t": "T1a", "n": "N0", "m": "M0",
     "ecog": 0},
    {"histology": "adenocarcinoma", "location": "lower", "t": "T3", "n": "N2", "m": "M1", "ecog": 1,
     "her2": "3+", "pdl1_cps": 5, "msi": "MSS"},
    {"histology": "squamous_cell_carcinoma", "location": "middle", "t": "T4b", "n": "N1", "m": "M1",
     "ecog": 1, "pdl1_tps": 10, "pdl1_cps": 12, "msi": "MSS"},
    {"histology": "squamous_cell_carcinoma", "location": "lower", "kind": "post_neoadjuvant", "t": "T2",
     "n": "N1", "m": "M0", "ecog": 1, "pathologic_complete_response": False,
     "prior_treatments": [{"kind": "systemic", "intent": "neoadjuvant"},
                          {"kind": "radiotherapy", "intent": "neoadjuvant"},
                          {"kind": "surgery", "margin": "R0"}]},
    {"histology": "adenocarcinoma", "location": "egj", "t": "T2", "n": "N0", "m": "M0", "ecog": 3},
    {"histology": "adenocarcinoma", "location": "lower", "t": "T3", "n": "N1", "m": "M1", "ecog": 1},
]  # fmt: skip


def staging_inputs() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every T x N x M x G x L input of every table: (defined ones, undefined ones)."""
    from inescape.modules.cds.staging import StagingError, stage
    from inescape.modules.cds.staging.tables import (
        GRADES,
        LOCATIONS,
        M_CATEGORIES,
        N_CATEGORIES,
        T_CATEGORIES,
    )

    good, bad = [], []
    for kind, histology in itertools.product(
        ("clinical", "pathological", "post_neoadjuvant"), ("squamous_cell_carcinoma", "adenocarcinoma")
    ):
        for t, n, m, g, loc in itertools.product(T_CATEGORIES, N_CATEGORIES, M_CATEGORIES, GRADES, LOCATIONS):
            values = {
                "kind": kind,
                "histology": histology,
                "t": t,
                "n": n,
                "m": m,
                "grade": g,
                "location": loc,
            }
            try:
                stage(**values)
            except StagingError:
                bad.append(values)
            else:
                good.append(values)
    return good, bad


def staging_rate(inputs: list[dict[str, str]], seconds: float) -> float:
    from inescape.modules.cds.staging import StagingError, stage

    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for values in inputs:
            with contextlib.suppress(StagingError):
                stage(**values)
        calls += len(inputs)
    return calls / (time.perf_counter() - started)


def percentiles(samples_us: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples_us)
    p = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), p[98], ordered[-1]


def recommend_inprocess(rounds: int) -> list[float]:
    import msgspec

    from inescape.modules.cds.api import ClinicalFacts
    from inescape.modules.cds.library import CdsLibrary

    recommend = CdsLibrary().recommend  # the StagingApi facade
    facts = [msgspec.convert(v, ClinicalFacts) for v in VIGNETTES]
    for f in facts:  # warm-up: rule set loaded and compiled
        recommend(f)
    samples = []
    for _ in range(rounds):
        for f in facts:
            started = time.perf_counter_ns()
            recommend(f)
            samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def serve(workdir: Path) -> tuple[subprocess.Popen[bytes], int, str, Path]:
    from bench_patients import create_account, issue_token

    from inescape.infra.tokens import new_signing_key, write_key_file

    key_file = workdir / "jwt-signing.json"
    write_key_file(key_file, [new_signing_key()])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INESCAPE_")} | {
        "INESCAPE_DATA_DIR": str(workdir / "data"),
        "INESCAPE_AUTH_SIGNING_KEY_FILE": str(key_file),
        "INESCAPE_RATE_LIMITS": "api=1000000/1",
        "INESCAPE_LOG_LEVEL": "WARNING",
    }
    log_path = workdir / "serve.log"
    # cds alone (and the gateway guarding it); the modules whose facades it requires are bound, not served
    argv = ["serve", "--module", "cds", "--host", LOOPBACK, "--port", str(port)]
    cmd = [sys.executable, "-m", "inescape", *argv]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return proc, port, issue_token(key_file, create_account(env)), log_path


def recommend_http(
    port: int, token: str, rounds: int, proc: subprocess.Popen[bytes], log_path: Path
) -> list[float]:
    import httpx

    url = f"http://{LOOPBACK}:{port}/api/v1/cds/recommendations"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        deadline = time.monotonic() + 90
        while True:
            try:
                if client.post(url, json=VIGNETTES[0], headers=headers).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("inescape serve did not answer:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
        for vignette in VIGNETTES * 20:  # warm-up
            client.post(url, json=vignette, headers=headers)
        samples, bad = [], 0
        for _ in range(rounds):
            for vignette in VIGNETTES:
                started = time.perf_counter_ns()
                response = client.post(url, json=vignette, headers=headers)
                samples.append((time.perf_counter_ns() - started) / 1000)
                bad += response.status_code != 200
    if bad:
        print(f"WARNING: {bad} responses were not 200", file=sys.stderr)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (nox -s bench)")
    args = parser.parse_args(argv)
    seconds, rounds, http_rounds = (1.0, 300, 60) if args.quick else (3.0, 2000, 300)

    good, bad = staging_inputs()
    defined, undefined = staging_rate(good, seconds), staging_rate(bad, seconds / 2)
    local = recommend_inprocess(rounds)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, token, log_path = serve(Path(tmp))
        try:
            remote = recommend_http(port, token, http_rounds, proc, log_path)
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    print("INEsCape decision support")
    print(f"  {versions()}\n")
    print(f"staging: {len(good)} defined and {len(bad)} undefined inputs (all six tables)")
    print(f"  defined   {defined:>12,.0f} calls/s")
    print(f"  undefined {undefined:>12,.0f} calls/s (each a StagingError naming the field)\n")
    print(f"recommendations: {len(VIGNETTES)} vignettes, each call timed")
    print(f"{'':<26}{'p50 µs':>10}{'p99 µs':>10}{'max µs':>10}{'calls':>8}")
    for name, samples in (("in-process recommend()", local), ("HTTP POST (auth+audit)", remote)):
        p50, p99, worst = percentiles(samples)
        print(f"{name:<26}{p50:>10.0f}{p99:>10.0f}{worst:>10.0f}{len(samples):>8}")
    p99_ms = percentiles(local)[1] / 1000
    verdict = "met" if p99_ms < 10 else "MISSED"
    print(f"\n  target: in-process p99 < 10 ms -> {p99_ms:.3f} ms, {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
