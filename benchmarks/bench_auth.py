"""Cost of the gateway on a patient read: authentication (ES256 token), RBAC guard and an
audit event, as a ratio against the same handler without them, measured in the same run.

Two apps from ``create_app()`` serve ``GET /api/v1/bench/patients/{id}`` (a 22-field record),
both with the full INEsCape HTTP stack (request id, metrics, security headers, rate limiter):

* ``open``: the handler alone (no auth module mounted, no audit);
* ``gateway``: the auth module mounted, the request carries a clinician's bearer token, the
  guard checks the route's permission, and the gateway appends the route's declared,
  hash-chained audit event (embedded defaults: the SQL JSON document store on SQLite) before
  the answer starts.

In-process ASGI, variants interleaved within every repetition; prints medians and the
per-repetition ratio range. Nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_auth.py [--requests N] [--repeats K]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_http import FIELDS, HEADERS, SCOPE, PatientRecord, access_log_to_devnull, lifespan, versions

from inescape.modules.auth.api import GatewayApi  # named in a route's signature: resolved at module level

PATH = "/api/v1/bench/patients/{patient_id:int}"


def handler(*, audited: bool) -> Any:
    from litestar import get

    if not audited:

        @get(PATH, opt={"permission": "patients.jobs.read"})
        async def read_patient(patient_id: int) -> PatientRecord:
            return PatientRecord(id=patient_id, **FIELDS)

        return read_patient

    from inescape.modules.auth.api import Audit

    # The audit is declared beside the permission, as every module's patient routes do; the
    # gateway writes it before the answer starts.
    audit = Audit("patients.read", "patient", resource_id="patient_id", patient_id="patient_id")

    @get(PATH, opt={"permission": "patients.jobs.read", "audit": audit})
    async def read_audited(patient_id: int) -> PatientRecord:
        return PatientRecord(id=patient_id, **FIELDS)

    return read_audited


def build(variant: str, data_dir: str) -> Any:
    from inescape.app import create_app
    from inescape.kernel.modules import ModuleSpec
    from inescape.modules_loader import load_specs
    from inescape.settings import load_settings

    gated = variant == "gateway"
    wiring: dict[str, Any] = {"requires": (GatewayApi,)} if gated else {}
    spec = ModuleSpec(
        name="bench", title="bench", port=8009, route_handlers=[handler(audited=gated)], **wiring
    )
    specs = [*load_specs(["auth"]), spec] if gated else [spec]
    env = {"INESCAPE_DATA_DIR": data_dir, "INESCAPE_RATE_LIMITS": "api=100000/1"}
    return create_app(load_settings(env), specs, worker=False)


async def clinician_token(app: Any) -> bytes:
    from inescape.kernel.ids import new_id
    from inescape.modules.auth.api import Principal

    gateway = app.state.runtime.facade(GatewayApi)
    # a token is honoured only for a live account
    user = await gateway.accounts.create(
        username="dr.bench", display_name="Dr Bench", roles=["clinician"], password=new_id() + "-bench-pw"
    )
    pair = await gateway.sessions.issue(Principal(id=str(user.id), username="dr.bench", roles=["clinician"]))
    return f"Bearer {pair.access_token}".encode()


async def timed(app: Any, n: int, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[float, int]:
    scope = {
        **SCOPE,
        "path": "/api/v1/bench/patients/42",
        "raw_path": b"/api/v1/bench/patients/42",
        "headers": list(headers),
    }
    bad = 0
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    started = time.perf_counter_ns()
    for _ in range(n):
        await app(dict(scope), receive, send)
        bad += status != 200
    return (time.perf_counter_ns() - started) / n / 1000, bad


async def main(n: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as open_dir, tempfile.TemporaryDirectory() as gate_dir:
        apps = {"open": build("open", open_dir), "gateway": build("gateway", gate_dir)}
        with access_log_to_devnull():
            async with lifespan(apps["open"]), lifespan(apps["gateway"]):
                auth = (b"authorization", await clinician_token(apps["gateway"]))
                headers = {"open": HEADERS, "gateway": (*HEADERS, auth)}
                for name, app in apps.items():
                    await timed(app, max(n // 10, 50), headers[name])  # warm-up
                results: dict[str, list[float]] = {k: [] for k in apps}
                errors = dict.fromkeys(apps, 0)
                for rep in range(repeats):
                    order = list(apps) if rep % 2 == 0 else list(reversed(apps))
                    for name in order:
                        us, bad = await timed(apps[name], n, headers[name])
                        results[name].append(us)
                        errors[name] += bad
    ratios = [g / o for g, o in zip(results["gateway"], results["open"], strict=True)]
    print("INEsCape gateway cost on a patient read: in-process ASGI, embedded defaults")
    print(f"  {versions()}")
    print(f"  {n} requests x {repeats} repetitions per variant, interleaved")
    print("  cost = gateway µs/request ÷ open µs/request in the same repetition; 1.00x = free\n")
    print(f"{'variant':<10}{'median µs/req':>16}{'min..max':>22}{'non-200':>10}")
    for name, values in results.items():
        print(
            f"{name:<10}{statistics.median(values):>16.1f}"
            f"{f'{min(values):.1f}..{max(values):.1f}':>22}{errors[name]:>10}"
        )
    print(
        f"\n  gateway ÷ open: {statistics.median(ratios):.2f}x (per repetition "
        f"{min(ratios):.2f}..{max(ratios):.2f}x); target <= 5x. The audit append (one "
        "transaction, group-committed) is still the largest part"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeats))
