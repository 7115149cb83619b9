"""The access log is written off the request path: a request buffers its line, already
encoded, and a thread writes it; the line is the one the JSON formatter writes."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import Iterator

from inescape.infra.access_log import FLUSH_S, AccessLog
from inescape.infra.telemetry import JsonFormatter

FIELDS = {"method": "GET", "path": "/api/v1/x", "route": "/api/v1/x", "status": 200, "duration_ms": 1.25}


@contextlib.contextmanager
def only_json_stream() -> Iterator[io.StringIO]:
    """Logging as ``configure_logging`` leaves it: one JSON stream handler on the root (set
    inside the test, where pytest has added its own capturing handlers)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    try:
        yield stream
    finally:
        root.handlers[:] = saved


def test_a_buffered_line_is_the_formatters_line():
    logger = logging.getLogger("inescape.access.test1")
    log = AccessLog(logger)

    with only_json_stream() as json_stream:
        assert log.write(request_id="r-1", **FIELDS)
        log.flush()

    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None, extra=FIELDS)
    record.request_id = "r-1"
    expected = json.loads(JsonFormatter().format(record))
    written = json.loads(json_stream.getvalue())
    assert list(written) == list(expected)
    assert {k: v for k, v in written.items() if k not in ("time", "logger")} == {
        k: v for k, v in expected.items() if k not in ("time", "logger")
    }
    assert written["logger"] == "inescape.access"
    assert abs(time.time() - _seconds(written["time"])) < 5


def test_the_thread_writes_the_lines_without_a_flush_call():
    log = AccessLog(logging.getLogger("inescape.access.test2"))

    with only_json_stream() as json_stream:
        for i in range(3):
            log.write(request_id=f"r-{i}", **FIELDS)
        deadline = time.monotonic() + 20 * FLUSH_S
        while json_stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(FLUSH_S / 4)

    assert [json.loads(line)["request_id"] for line in json_stream.getvalue().splitlines()] == [
        "r-0",
        "r-1",
        "r-2",
    ]


def test_other_logging_gets_an_ordinary_record():
    logger = logging.getLogger("inescape.access.test3")

    with only_json_stream():
        logging.getLogger().addHandler(logging.NullHandler())  # e.g. a test capturing records
        assert not AccessLog(logger).write(request_id="r-1", **FIELDS)


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()
