"""Throwaway servers a test may stop and start again on the same port (to cut a backend)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
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

    @property
    def url(self) -> str:
        return {
            "redis": f"redis://127.0.0.1:{self.port}/0",
            "mongodb": f"mongodb://127.0.0.1:{self.port}/?directConnection=true",
            "s3": f"http://127.0.0.1:{self.port}",
        }[self.kind]

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
        log = (self.workdir / f"{self.kind}.log").open("ab")
        self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._ready():
                return self
            time.sleep(0.1)
        raise AssertionError(f"{self.kind} did not start")

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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
