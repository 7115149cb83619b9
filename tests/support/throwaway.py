"""Throwaway servers a test may stop and start again on the same port (to cut a backend)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.processes import free_port


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.environ.get("INESCAPE_TEST_TOOLS_BIN"))
    if not found:
        raise FileNotFoundError(f"{name} is not installed; .ci/run installs it")
    return found


class Throwaway:
    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self._pg_home: Path | None = None
        self._pg_ctl: list[str] = []

    @property
    def url(self) -> str:
        return {
            "redis": f"redis://127.0.0.1:{self.port}/0",
            "mongodb": f"mongodb://127.0.0.1:{self.port}/?directConnection=true",
            "s3": f"http://127.0.0.1:{self.port}",
            "postgres": f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
        }[self.kind]

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its port and accepts connections, but answers nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def _argv(self) -> list[str]:
        if self.kind == "redis":
            return [
                _tool("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ]
        if self.kind == "mongodb":
            return [
                _tool("secantusd-py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.workdir / "mongo"),
                "--log-level",
                "WARNING",
            ]
        return [_tool("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self) -> Throwaway:
        if self.kind == "postgres":
            return self._start_postgres()
        log = (self.workdir / f"{self.kind}.log").open("ab")
        self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._ready():
                return self
            time.sleep(0.1)
        raise AssertionError(f"{self.kind} did not start")

    def _as_postgres(self, *argv: str) -> list[str]:
        """PostgreSQL refuses to run as root: a root test runs its tools as ``postgres``."""
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)

    def _start_postgres(self) -> Throwaway:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        tools = Path(bindir.stdout.strip())
        if self._pg_home is None:  # outside pytest's folders, which only root may enter
            self._pg_home = Path(tempfile.mkdtemp(prefix="inescape-pg-"))
            if os.geteuid() == 0:
                shutil.chown(self._pg_home, "postgres", "postgres")
        data = self._pg_home / "data"
        if not (data / "PG_VERSION").exists():
            subprocess.run(
                self._as_postgres(
                    str(tools / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ),
                capture_output=True,
                check=True,
            )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self._pg_home} -c fsync=off"
        subprocess.run(
            self._as_postgres(
                str(tools / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self._pg_home / "pg.log"),
                "-o",
                options,
                "-w",
                "start",
            ),
            capture_output=True,
            check=True,
        )
        self._pg_ctl = [str(tools / "pg_ctl"), "-D", str(data)]
        return self

    def _ready(self) -> bool:
        try:
            if self.kind == "redis":
                import redis

                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.3).ping())
            if self.kind == "mongodb":
                import pymongo

                client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=300)
                try:
                    return bool(client.admin.command("ping"))
                finally:
                    client.close()
            return httpx.get(self.url, timeout=0.5).status_code < 500
        except Exception:
            return False

    def stop(self) -> None:
        if self.kind == "postgres":  # the postmaster and its backends die at once, as in a crash
            if self._pg_ctl:
                subprocess.run(
                    self._as_postgres(*self._pg_ctl, "-m", "immediate", "-w", "stop"),
                    capture_output=True,
                    check=False,
                )
            return
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        """Stop for good and remove what the server wrote outside ``workdir``."""
        self.stop()
        if self._pg_home is not None:
            shutil.rmtree(self._pg_home, ignore_errors=True)
            self._pg_home = None
