"""Request-path overhead of the INEsCape HTTP stack, as a ratio against a bare Litestar app.

Three apps serve the same ``GET /api/v1/bench/patients/{id}`` handler returning a 22-field
record:

* ``bare-litestar``: the handler in ``Litestar([handler])``, nothing else;
* ``inescape``: the handler mounted as a module in ``create_app()`` (request id, Prometheus
  metrics, JSON access log formatted and written to ``os.devnull``, exception handlers;
  tracing only if the ``OTEL_*`` environment turns it on);
* ``fastapi``: the same record as a pydantic model in FastAPI, a reference point only.

Method 1 (always): drive each app's ASGI callable in-process with a synthetic scope, N
requests per variant per repetition, the variants interleaved in every repetition.
Method 2 (``--http``): each app under uvicorn in its own subprocess on 127.0.0.1, load from
``wrk`` when it is on PATH, otherwise from httpx; bounded by duration and request count.

The result is a ratio between variants measured in the same run; absolute numbers depend on
the machine. It prints a table and exits 0: nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_http.py [--requests N] [--repeats K] [--http]
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import io
import json
import logging
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import msgspec
import pydantic

LITESTAR_PATH = "/api/v1/bench/patients/{patient_id:int}"
FASTAPI_PATH = "/api/v1/bench/patients/{patient_id}"
REQUEST_PATH = "/api/v1/bench/patients/42"
VARIANTS = ("bare-litestar", "inescape", "inescape-no-access-log", "fastapi")
BASELINE = "bare-litestar"
LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------- the record


class PatientRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    mrn: str
    given_name: str
    family_name: str
    sex: str
    birth_date: dt.date
    age: int
    height_cm: float
    weight_kg: float
    bmi: float
    ecog: int
    smoker: bool
    histology: str
    tumour_site: str
    t_stage: str
    n_stage: str
    m_stage: str
    stage_group: str
    diagnosis_date: dt.date
    neoadjuvant: bool
    updated_at: dt.datetime
    tags: list[str]


class PatientModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)

    id: int
    mrn: str
    given_name: str
    family_name: str
    sex: str
    birth_date: dt.date
    age: int
    height_cm: float
    weight_kg: float
    bmi: float
    ecog: int
    smoker: bool
    histology: str
    tumour_site: str
    t_stage: str
    n_stage: str
    m_stage: str
    stage_group: str
    diagnosis_date: dt.date
    neoadjuvant: bool
    updated_at: dt.datetime
    tags: list[str]


FIELDS: dict[str, Any] = {
    "mrn": "MRN-0042-7781",
    "given_name": "Maria",
    "family_name": "Fernandes",
    "sex": "female",
    "birth_date": dt.date(1957, 3, 14),
    "age": 67,
    "height_cm": 162.5,
    "weight_kg": 58.3,
    "bmi": 22.08,
    "ecog": 1,
    "smoker": False,
    "histology": "adenocarcinoma",
    "tumour_site": "distal oesophagus",
    "t_stage": "T3",
    "n_stage": "N1",
    "m_stage": "M0",
    "stage_group": "III",
    "diagnosis_date": dt.date(2024, 2, 9),
    "neoadjuvant": True,
    "updated_at": dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC),
    "tags": ["cross", "surgery-planned"],
}


# --------------------------------------------------------------------------- the three apps


def litestar_handler() -> Any:
    """A fresh handler object per app (a Litestar handler belongs to one app)."""
    from litestar import get

    @get(LITESTAR_PATH)
    async def get_patient(patient_id: int) -> PatientRecord:
        return PatientRecord(id=patient_id, **FIELDS)

    return get_patient


def build_bare() -> Any:
    from litestar import Litestar

    return Litestar([litestar_handler()])


def build_inescape(data_dir: str, *, access_log: bool = True) -> Any:
    from inescape.app import create_app
    from inescape.kernel.modules import ModuleSpec
    from inescape.settings import load_settings

    spec = ModuleSpec(name="bench", title="bench", port=8009, route_handlers=[litestar_handler()])
    # worker=False: the embedded job worker's polling threads are not on the request path.
    # the rate limiter runs (its cost is part of the stack) with a limit the load never reaches
    env = {
        "INESCAPE_DATA_DIR": data_dir,
        "INESCAPE_LOG_ACCESS": str(access_log).lower(),
        "INESCAPE_RATE_LIMITS": "api=100000/1,default=100000/1",
    }
    return create_app(load_settings(env), modules=[spec], worker=False)


def build_fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(FASTAPI_PATH, response_model=PatientModel)
    async def get_patient(patient_id: int) -> PatientModel:
        return PatientModel(id=patient_id, **FIELDS)

    return app


def build(variant: str, data_dir: str) -> Any:
    if variant.startswith("inescape"):
        return build_inescape(data_dir, access_log=variant == "inescape")
    return build_bare() if variant == "bare-litestar" else build_fastapi()


def tracing_state(app: Any) -> str:
    tracer = getattr(getattr(app, "asgi_handler", None), "tracer", None)
    return "on" if tracer is not None else "off"


@contextlib.contextmanager
def access_log_to_devnull() -> Iterator[logging.StreamHandler[Any]]:
    """The INEsCape JSON logging, with the root handler writing to os.devnull: every access
    line is built and formatted, then discarded."""
    from inescape.infra.telemetry import configure_logging

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    touched = [
        logging.getLogger(n)
        for n in ("uvicorn.access", "dramatiq", "botocore", "urllib3", "pymongo", "uvicorn.error")
    ]
    saved = [(lg, lg.level, lg.propagate) for lg in touched]
    configure_logging("INFO", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    with open(os.devnull, "w") as sink:
        handler.setStream(sink)
        try:
            yield handler
        finally:
            root.handlers[:], root.level = saved_handlers, saved_level
            for lg, level, propagate in saved:
                lg.setLevel(level)
                lg.propagate = propagate


# --------------------------------------------------------------------------- in-process ASGI


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run an app's ASGI lifespan (start-up, then shut-down on exit)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started.get('message', started)}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": REQUEST_PATH,
    "raw_path": REQUEST_PATH.encode(),
    "root_path": "",
    "query_string": b"",
    "client": (LOOPBACK, 50000),
    "server": (LOOPBACK, 8000),
}
HEADERS = ((b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"), (b"user-agent", b"bench-http"))


@dataclass
class Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


async def one_request(app: Any) -> Captured:
    out = Captured()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out.status, out.headers = message["status"], list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            out.body += message.get("body", b"")

    await app({**SCOPE, "headers": list(HEADERS), "state": {}}, receive, send)
    return out


async def timed_block(app: Any, n: int) -> tuple[int, int]:
    """N requests back to back; returns (elapsed ns, responses that were not 200)."""
    bad = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal bad
        if message["type"] == "http.response.start" and message["status"] != 200:
            bad += 1

    scope, headers = SCOPE, HEADERS
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(n):
        await app({**scope, "headers": list(headers), "state": {}}, receive, send)
    return time.perf_counter_ns() - start, bad


async def check_apps(apps: dict[str, Any], handler: logging.StreamHandler[Any]) -> list[str]:
    """One request each before timing: same JSON body everywhere, and the INEsCape stack did
    its work (request id header, a formatted access log line, the request counted)."""
    from inescape.infra.http import flush_access_log

    problems, bodies = [], {}
    for name, app in apps.items():
        capture = io.StringIO()
        previous = handler.setStream(capture)
        got = await one_request(app)
        flush_access_log()  # the line is buffered off the request path
        handler.setStream(previous)
        if got.status != 200:
            problems.append(f"{name}: status {got.status}: {got.body[:200]!r}")
            continue
        bodies[name] = json.loads(got.body)
        if name == "inescape":
            problems += check_inescape(app, got, capture.getvalue())
    if len({json.dumps(b, sort_keys=True) for b in bodies.values()}) > 1:
        problems.append(f"the bodies differ: {bodies}")
    return problems


def check_inescape(app: Any, got: Captured, log_text: str) -> list[str]:
    problems = []
    if not any(name == b"x-request-id" for name, _ in got.headers):
        problems.append("inescape: no x-request-id header")
    lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    if not any(e.get("logger") == "inescape.access" and e.get("request_id") for e in lines):
        problems.append(f"inescape: no JSON access log line (got {log_text!r})")
    if b"/api/v1/bench/patients/" not in app.state.services.metrics.render():
        problems.append("inescape: the request was not counted in the metrics")
    return problems


@dataclass
class Series:
    """Per-repetition results for one variant (µs/request, or req/s for HTTP)."""

    values: list[float] = field(default_factory=list)
    errors: int = 0


async def run_inprocess(n: int, repeats: int, warmup: int) -> tuple[dict[str, Series], str]:
    with tempfile.TemporaryDirectory(prefix="inescape-bench-") as data_dir:
        async with contextlib.AsyncExitStack() as stack:
            logging.disable(logging.INFO)  # start-up chatter (migrations) is not the point
            try:
                apps = {v: build(v, data_dir) for v in VARIANTS}
                for app in apps.values():
                    await stack.enter_async_context(lifespan(app))
            finally:
                logging.disable(logging.NOTSET)
            # After every start-up (Litestar's default logging config runs at start-up).
            handler = stack.enter_context(access_log_to_devnull())
            problems = await check_apps(apps, handler)
            for problem in problems:
                print(f"WARNING: {problem}", file=sys.stderr)
            for app in apps.values():
                await timed_block(app, warmup)
            series = {v: Series() for v in VARIANTS}
            for rep in range(repeats):
                for variant in rotated(VARIANTS, rep):
                    elapsed, bad = await timed_block(apps[variant], n)
                    series[variant].values.append(elapsed / n / 1000)
                    series[variant].errors += bad
                print(f"  in-process repetition {rep + 1}/{repeats} done", file=sys.stderr)
            return series, tracing_state(apps["inescape"])


def rotated(items: tuple[str, ...], k: int) -> list[str]:
    """A B C, B C A, C A B, ...: interleaved, and no variant always runs first."""
    k %= len(items)
    return [*items[k:], *items[:k]]


# --------------------------------------------------------------------------- loopback HTTP


def serve(variant: str, port: int, data_dir: str) -> None:
    """The --serve entry point: one app under uvicorn on 127.0.0.1 (a subprocess)."""
    import uvicorn

    app = build(variant, data_dir)
    ctx = access_log_to_devnull() if variant == "inescape" else contextlib.nullcontext()
    with ctx:
        uvicorn.run(
            app,
            host=LOOPBACK,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            date_header=False,
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    variant: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{REQUEST_PATH}"


def start_server(variant: str, workdir: Path) -> Server:
    port = free_port()
    data_dir = workdir / f"data-{variant}"
    log_path = workdir / f"{variant}.log"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        variant,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    return Server(variant, port, proc, log_path)


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url, timeout=2.0, trust_env=False).status_code == 200:
                return
        time.sleep(0.2)
    tail = server.log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{server.variant} did not come up on port {server.port}:\n{tail}")


def check_served_metrics(server: Server) -> None:
    """The served INEsCape app counted the load in its metrics (its stack really ran)."""
    import httpx

    url = f"http://{LOOPBACK}:{server.port}/metrics"
    text = httpx.get(url, timeout=10.0, trust_env=False).text
    if not re.search(
        r'http_requests_total\{[^}]*route="/api/v1/bench/patients/[^"]*"'
        r'[^}]*status="200"\} [1-9]',
        text,
    ):
        print("WARNING: the served inescape app did not count the requests", file=sys.stderr)


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def httpx_burst(url: str, duration: float, max_requests: int, concurrency: int) -> tuple[float, int]:
    """Keep-alive load from one httpx client: (req/s, non-200 responses)."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:
        await asyncio.gather(*(client.get(url) for _ in range(concurrency)))  # open connections
        ok = bad = 0
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal ok, bad
            while ok + bad < max_requests and time.perf_counter() < deadline:
                response = await client.get(url)
                if response.status_code == 200:
                    ok += 1
                else:
                    bad += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok / (time.perf_counter() - start), bad


async def raw_burst(port: int, duration: float, max_requests: int, concurrency: int) -> tuple[float, int]:
    """Keep-alive HTTP/1.1 load from plain asyncio streams (a few µs of client work per
    request, where httpx spends hundreds): (req/s, non-200 responses)."""
    request = (
        f"GET {REQUEST_PATH} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
        "Accept: application/json\r\nUser-Agent: bench-http\r\n\r\n"
    ).encode()
    conns = [await asyncio.open_connection(LOOPBACK, port) for _ in range(concurrency)]
    ok = bad = 0

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal ok, bad
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        if length is None:
            raise RuntimeError(f"response without content-length: {head!r}")
        await reader.readexactly(int(length.group(1)))
        if head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
            ok += 1
        else:
            bad += 1

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while ok + bad < max_requests and time.perf_counter() < deadline:
            await one(reader, writer)

    try:
        for reader, writer in conns:  # one request per connection before the clock starts
            await one(reader, writer)
        ok = bad = 0
        deadline = time.perf_counter() + duration
        start = time.perf_counter()
        await asyncio.gather(*(worker(r, w) for r, w in conns))
        return ok / (time.perf_counter() - start), bad
    finally:
        for _, writer in conns:
            writer.close()


def wrk_burst(wrk: str, url: str, duration: float, concurrency: int) -> tuple[float, int]:
    seconds = max(1, round(duration))
    cmd = [wrk, "-t", "2", "-c", str(concurrency), "-d", f"{seconds}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if rate is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(rate.group(1)), int(non_2xx.group(1)) if non_2xx else 0


def run_http(args: argparse.Namespace, wrk: str | None) -> dict[str, Series]:
    for name in ("httpx", "httpcore"):  # a log line per client request would slow the client
        logging.getLogger(name).setLevel(logging.WARNING)
    series = {v: Series() for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="inescape-bench-http-") as tmp:
        servers = {v: start_server(v, Path(tmp)) for v in VARIANTS}
        try:
            for server in servers.values():
                wait_ready(server)
            load = _load_function(args, wrk)
            for server in servers.values():  # warm-up
                load(server, min(1.0, args.http_duration))
            for rep in range(args.repeats):
                for variant in rotated(VARIANTS, rep):
                    rate, bad = load(servers[variant], args.http_duration)
                    series[variant].values.append(rate)
                    series[variant].errors += bad
                print(f"  http repetition {rep + 1}/{args.repeats} done", file=sys.stderr)
            check_served_metrics(servers["inescape"])
        finally:
            for server in servers.values():
                stop_server(server)
    return series


def _load_function(args: argparse.Namespace, wrk: str | None) -> Callable[[Server, float], tuple[float, int]]:
    conc, cap = args.http_concurrency, args.http_max_requests
    if args.load == "wrk":
        assert wrk is not None
        return lambda server, duration: wrk_burst(wrk, server.url, duration, conc)
    if args.load == "httpx":
        return lambda server, duration: asyncio.run(httpx_burst(server.url, duration, cap, conc))
    return lambda server, duration: asyncio.run(raw_burst(server.port, duration, cap, conc))


def choose_load(args: argparse.Namespace) -> str | None:
    """Settle ``args.load`` (auto: wrk when on PATH, else the asyncio client); return wrk's
    path when wrk is used."""
    wrk = shutil.which("wrk")
    if args.load == "auto":
        args.load = "wrk" if wrk else "raw"
    if args.load == "wrk" and wrk is None:
        raise SystemExit("--load wrk: wrk is not on PATH")
    return wrk if args.load == "wrk" else None


# --------------------------------------------------------------------------- the report


def ratios(series: dict[str, Series], variant: str, invert: bool) -> list[float]:
    """Per-repetition variant ÷ baseline (baseline ÷ variant for rates)."""
    pairs = zip(series[variant].values, series[BASELINE].values, strict=True)
    return [b / v if invert else v / b for v, b in pairs]


def table(series: dict[str, Series], unit: str, invert: bool) -> list[str]:
    head = (
        f"{'variant':<23}{'median ' + unit:>16}{'min..max ' + unit:>24}"
        f"{'overhead':>11}{'per-rep range':>17}{'non-200':>9}"
    )
    lines = [head, "-" * len(head)]
    for variant in VARIANTS:
        values = series[variant].values
        r = ratios(series, variant, invert)
        spread = f"{min(values):.1f}..{max(values):.1f}"
        lines.append(
            f"{variant:<23}{statistics.median(values):>16.1f}{spread:>24}"
            f"{statistics.median(r):>10.2f}x{min(r):>9.2f}..{max(r):.2f}x"
            f"{series[variant].errors:>8}"
        )
    return lines


def versions() -> str:
    names = ("litestar", "fastapi", "pydantic", "msgspec", "uvicorn", "inescape")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:  # a missing distribution just goes unreported
            found.append(f"{name} ?")
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        + ", ".join(found)
        + f"; {platform.machine()}, {os.cpu_count()} CPUs"
    )


def report_inprocess(series: dict[str, Series], args: argparse.Namespace, tracing: str) -> None:
    print()
    print("INEsCape request-path overhead: in-process ASGI (no sockets, no server)")
    print(f"  {versions()}")
    print(
        f"  GET {REQUEST_PATH} -> 22-field record; {args.requests} requests x "
        f"{args.repeats} repetitions per variant, variants interleaved in every repetition"
    )
    print(
        f"  inescape = create_app() stack: request id, metrics, JSON access log to "
        f"os.devnull, tracing {tracing}"
    )
    print("  inescape-no-access-log = the same with INESCAPE_LOG_ACCESS=false")
    print(
        "  overhead = variant µs/request ÷ bare-litestar µs/request in the same repetition "
        "(median of the per-repetition ratios); 1.00x = no overhead"
    )
    print()
    for line in table(series, "µs/req", invert=False):
        print(line)
    extra = statistics.median(series["inescape"].values) - statistics.median(series[BASELINE].values)
    print(f"\n  inescape adds {extra:.1f} µs per request over bare Litestar (median difference)")


def report_http(series: dict[str, Series], args: argparse.Namespace, wrk: str | None) -> None:
    tool = {
        "wrk": f"wrk ({wrk}, 2 threads)",
        "raw": "asyncio streams client in this process (plain HTTP/1.1 keep-alive)",
        "httpx": "httpx AsyncClient in this process (the client is likely the bottleneck: "
        "the ratios then understate the overhead)",
    }[args.load]
    print()
    print("INEsCape request-path overhead: loopback HTTP (uvicorn, one process per app)")
    print(
        f"  load: {tool}; {args.http_concurrency} keep-alive connections, "
        f"{args.http_duration:g} s per variant per repetition"
        + ("" if wrk else f", at most {args.http_max_requests} requests")
    )
    print("  client and servers share this machine's CPUs; only the app under load is busy")
    print("  overhead = bare-litestar req/s ÷ variant req/s in the same repetition; 1.00x = no overhead")
    print()
    for line in table(series, "req/s", invert=True):
        print(line)


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--requests",
        type=int,
        default=20_000,
        help="in-process requests per variant per repetition (default 20000)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=2_000, help="in-process warm-up requests per variant (default 2000)"
    )
    parser.add_argument(
        "--http", action="store_true", help="also measure over loopback HTTP with uvicorn subprocesses"
    )
    parser.add_argument(
        "--http-duration",
        type=float,
        default=3.0,
        help="seconds of load per variant per repetition (default 3)",
    )
    parser.add_argument(
        "--http-max-requests",
        type=int,
        default=100_000,
        help="cap on requests per httpx burst (default 100000)",
    )
    parser.add_argument(
        "--http-concurrency", type=int, default=16, help="keep-alive connections (default 16)"
    )
    parser.add_argument(
        "--load",
        choices=("auto", "wrk", "raw", "httpx"),
        default="auto",
        help="load generator for --http: wrk when on PATH, else a plain "
        "asyncio client (auto, the default); httpx is available but "
        "too slow a client to show server-side differences",
    )
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--requests and --repeats must be at least 1, --warmup at least 0")
    if args.http_duration <= 0 or args.http_duration > 60 or args.http_concurrency < 1:
        parser.error("--http-duration must be in (0, 60] and --http-concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.data_dir)
        return 0
    started = time.perf_counter()
    series, tracing = asyncio.run(run_inprocess(args.requests, args.repeats, args.warmup))
    report_inprocess(series, args, tracing)
    if args.http:
        wrk = choose_load(args)
        report_http(run_http(args, wrk), args, wrk)
    print(
        f"\n  total wall time {time.perf_counter() - started:.1f} s; ratios compare variants "
        "within this run only, never gate anything on them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
