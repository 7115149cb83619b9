"""What the platform keeps on disk is its user's alone: the data folder and every folder in it
0700; the embedded database with its -wal and -shm, the key file, stored objects and the files
a command writes 0600, whatever the umask of the process that started it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from inescape.runtime import Runtime
from inescape.settings import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """A permissive umask, as many shells have: the modes below must not come from it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "existing-0755-folder"])
async def test_the_embedded_install_keeps_its_files_0600_in_folders_0700(tmp_path, open_umask, existing):
    data = tmp_path / "data"
    if existing:
        data.mkdir(mode=0o755)
        os.chmod(data, 0o755)
    runtime = Runtime(load_settings({"INESCAPE_DATA_DIR": str(data)}), specs=[])
    await runtime.start(worker=False)
    try:
        await runtime.services.storage.put("datasets", "cohort/a.bin", b"rows")
        async with runtime.services.db.sessions() as session:  # a write, so the WAL has content
            from sqlalchemy import text

            await session.execute(text("CREATE TABLE probe (x INTEGER)"))
            await session.commit()
        files = [p for p in data.rglob("*") if p.is_file()]
        folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
        names = {p.relative_to(data).as_posix() for p in files}
        assert {"inescape.db", "inescape.db-wal", "inescape.db-shm", "keys/encryption.json"} <= names
        assert any(name.startswith("objects/datasets/") for name in names), names
        assert {p.relative_to(data).as_posix(): oct(mode(p)) for p in files if mode(p) != 0o600} == {}
        assert {p.relative_to(data).as_posix(): oct(mode(p)) for p in folders if mode(p) != 0o700} == {}
    finally:
        await runtime.stop()


@pytest.mark.slow
def test_a_command_writes_its_files_0600_even_from_an_open_umask(tmp_path):
    data = tmp_path / "data"
    out = tmp_path / "exports" / "cohort.csv"
    out.parent.mkdir()
    env = {**os.environ, "INESCAPE_DATA_DIR": str(data)}
    command = "import os, sys; os.umask(0o022); from inescape.cli import main; main()"

    for args in (["migrate"], ["generate", "--profile", "iran-golestan", "--n", "20", "--out", str(out)]):
        done = subprocess.run(
            [sys.executable, "-c", command, *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr

    assert oct(mode(data)) == oct(0o700)
    assert oct(mode(data / "inescape.db")) == oct(0o600)
    assert oct(mode(out)) == oct(0o600)
    assert {oct(mode(p)) for p in out.parent.iterdir()} == {oct(0o600)}
