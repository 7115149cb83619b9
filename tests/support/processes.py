"""Run ``inescape`` commands as real processes, the way an operator would."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("INESCAPE_") or k.startswith("INESCAPE_TEST_")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env | dict(extra)


def run_cli(
    *args: str, env: Mapping[str, str], timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inescape", *args],
        env=command_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


class Served:
    """``inescape serve`` (or ``worker``) in a child process; stderr goes to a file."""

    def __init__(self, *args: str, env: Mapping[str, str], log: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.log_path = log
        self.port = free_port() if args[0] == "serve" else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> Served:
        argv = [*self.args, *(["--port", str(self.port)] if self.port else [])]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "inescape", *argv],
                env=command_env(self.env),
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )
        if wait and self.port:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"process exited {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready after {timeout}s:\n{self.log()}")

    def log(self, tail: int | None = 5000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text[-tail:] if tail else text

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def wait_ready_tls(server: Served, context: ssl.SSLContext, timeout: float = 60) -> None:
    """``Served.wait_ready`` for a server on HTTPS whose certificate ``context`` trusts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            raise AssertionError(f"process exited {server.proc.returncode}:\n{server.log()}")
        try:
            url = f"https://127.0.0.1:{server.port}/health"
            if httpx.get(url, timeout=1, verify=context).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not ready over TLS after {timeout}s:\n{server.log()}")
