"""The JSON access log, kept off the request path.

A request appends one line, already encoded (msgspec, a struct of the fields; the second of
its timestamp formatted once per second), to a buffer; a daemon thread writes the buffer to
the log handler's stream every ``FLUSH_S`` seconds, sooner when ``MAX_LINES`` wait, and at
exit. The lines are those ``telemetry.JsonFormatter`` writes for the same record.

That holds while logging is as ``configure_logging`` leaves it (one JSON stream handler on
the root logger, nothing on ``inescape.access`` itself). Otherwise (a test capturing logs,
another handler, a filter) ``write`` says no and the caller emits an ordinary log record.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from datetime import UTC, datetime

import msgspec

from inescape.infra.telemetry import JsonFormatter

FLUSH_S = 0.2
MAX_LINES = 512


class AccessLine(msgspec.Struct, kw_only=True, omit_defaults=True):
    """In the order JsonFormatter writes: time, level, logger, message, request id (when
    there is one), the extra fields."""

    time: str
    level: str
    logger: str
    message: str
    request_id: str | None = None
    method: str
    path: str
    route: str
    status: int
    duration_ms: float


class AccessLog:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._encoder = msgspec.json.Encoder()
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._handler: logging.StreamHandler | None = None  # type: ignore[type-arg]
        self._second = -1
        self._stamp = ""
        atexit.register(self.flush)

    def write(
        self, *, request_id: str | None, method: str, path: str, route: str, status: int, duration_ms: float
    ) -> bool:
        """Buffer the line; False when logging is not the plain JSON stream (then nothing is done)."""
        handler = self._target()
        if handler is None:
            return False
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        line = AccessLine(
            time=f"{self._stamp}.{int((now - second) * 1000):03d}+00:00",
            level="info",
            logger="inescape.access",
            message="request",
            request_id=request_id,
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=duration_ms,
        )
        encoded = self._encoder.encode(line)
        with self._lock:
            self._handler = handler
            self._lines.append(encoded)
            waiting = len(self._lines)
        if waiting >= MAX_LINES:
            self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._start()
        return True

    def _target(self) -> logging.StreamHandler | None:  # type: ignore[type-arg]
        logger = self._logger
        if logger.handlers or not logger.propagate or logger.filters:
            return None
        root = logging.getLogger()
        handlers = root.handlers
        if len(handlers) != 1 or root.filters:
            return None
        handler = handlers[0]
        if type(handler) is not logging.StreamHandler or handler.filters:
            return None
        if type(handler.formatter) is not JsonFormatter or handler.level > logging.INFO:
            return None
        return handler

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="inescape-access-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_S)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (the flusher's work; also at exit)."""
        with self._lock:
            lines, self._lines = self._lines, []
            handler = self._handler
        if not lines or handler is None:
            return
        text = b"\n".join(lines).decode() + "\n"
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.flush()
        except (OSError, ValueError):  # a closed stream at exit: nothing to do
            pass
        finally:
            handler.release()
