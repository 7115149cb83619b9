"""The SQL part: ``pg_dump``/``pg_restore`` (custom format) on PostgreSQL, the online backup
API and a file copy on SQLite. Row counts are taken inside the very snapshot that is dumped."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from inescape.kernel.errors import ConfigurationError, Unavailable
from inescape.ops.backup.crypto import SealedWriter

READ_SIZE = 1024 * 1024
SKIPPED_TABLES = ("alembic_version",)


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ConfigurationError("INESCAPE_DATABASE_URL", "a SQLite URL needs a file path")
    return Path(database)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL for the PostgreSQL tools, with the password moved into ``PGPASSWORD`` (never on
    a command line other users can read)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _connect(url: str) -> Any:
    import psycopg

    conninfo, env = libpq(url)
    return psycopg.connect(conninfo, password=env.get("PGPASSWORD"), connect_timeout=5)


def _pg_tables(cursor: Any) -> list[str]:
    rows = cursor.execute(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows if r[0].rpartition(".")[2] not in SKIPPED_TABLES]


def pg_server_major(url: str) -> int:
    with _connect(url) as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a path find_pg_tool found
            [path, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def find_pg_tool(name: str, server_major: int, bin_dir: str | None = None) -> str:
    """``pg_dump`` or ``pg_restore`` of the server's major version (or newer): the given
    folder, then Debian's ``/usr/lib/postgresql/<major>/bin``, ``pg_config --bindir``, PATH."""
    candidates = [bin_dir] if bin_dir else []
    candidates.append(f"/usr/lib/postgresql/{server_major}/bin")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["pg_config", "--bindir"],  # noqa: S607 - from PATH, as the tools themselves
            capture_output=True,
            text=True,
            timeout=10,
        )
        candidates.append(out.stdout.strip())
    seen: list[str] = []
    for folder in candidates:
        path = shutil.which(name, path=folder) if folder else None
        if path and path not in seen:
            seen.append(path)
    on_path = shutil.which(name)
    if on_path and on_path not in seen:
        seen.append(on_path)
    for path in seen:
        major = _tool_major(path)
        if major is not None and major >= server_major:
            return path
    raise ConfigurationError(
        "PATH",
        f"no {name} of PostgreSQL {server_major} or newer found (install postgresql-client-{server_major})",
    )


def _run_failed(tool: str, stderr: IO[bytes]) -> Unavailable:
    stderr.seek(0)
    lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
    return Unavailable(f"{tool} failed: {lines[-1] if lines else 'no message'}", backend="database")


def pg_dump(url: str, writer: SealedWriter, *, tool: str, on_bytes: Callable[[int], Any]) -> dict[str, int]:
    """Dump into ``writer``; returns rows per table, counted in the snapshot pg_dump uses."""
    conninfo, env = libpq(url)
    with _connect(url) as conn, tempfile.TemporaryFile() as stderr:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _pg_tables(conn)}
        command = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"]
        process = subprocess.Popen(  # noqa: S603 - the pg_dump find_pg_tool found
            [*command, f"--dbname={conninfo}"], stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        assert process.stdout is not None
        while chunk := process.stdout.read(READ_SIZE):
            writer.write(chunk)
            on_bytes(len(chunk))
        if process.wait() != 0:
            raise _run_failed("pg_dump", stderr)
        conn.rollback()
    return counts


def pg_restore(url: str, plain: Iterator[bytes], *, tool: str, on_bytes: Callable[[int], Any]) -> None:
    """Restore from a stream, in one transaction: on any error nothing stays."""
    conninfo, env = libpq(url)
    command = [tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    command += ["--clean", "--if-exists", f"--dbname={conninfo}"]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(  # noqa: S603 - the pg_restore find_pg_tool found
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, env=env
        )
        assert process.stdin is not None
        try:
            for chunk in plain:
                process.stdin.write(chunk)
                on_bytes(len(chunk))
            process.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            raise _run_failed("pg_restore", stderr)


def sqlite_dump(path: Path, writer: SealedWriter, *, on_bytes: Callable[[int], Any]) -> dict[str, int]:
    """A consistent copy through the online backup API, then streamed into ``writer``."""
    with tempfile.TemporaryDirectory(prefix="inescape-backup-") as tmp:
        copy = Path(tmp) / "copy.db"
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
            counts = _sqlite_counts(target)
        finally:
            target.close()
            source.close()
        with copy.open("rb") as handle:
            while chunk := handle.read(READ_SIZE):
                writer.write(chunk)
                on_bytes(len(chunk))
    return counts


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in _sqlite_tables(conn)}


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in SKIPPED_TABLES]


def sqlite_restore(path: Path, plain: Iterator[bytes], *, on_bytes: Callable[[int], Any]) -> None:
    """Write the copy next to the database, check it, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".restore-partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in plain:
                out.write(chunk)
                on_bytes(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        conn = sqlite3.connect(partial)
        try:
            status = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        if status != "ok":
            raise Unavailable(
                f"the restored SQLite file fails its integrity check: {status}", backend="database"
            )
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def table_counts(url: str, backend: str) -> dict[str, int]:
    """Rows per table (without alembic's), read only; a missing SQLite file has none."""
    if backend == "sqlite":
        path = sqlite_path(url)
        if not path.exists():
            return {}
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return _sqlite_counts(conn)
        finally:
            conn.close()
    with _connect(url) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _pg_tables(conn)}
