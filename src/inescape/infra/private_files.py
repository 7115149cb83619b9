"""What the platform keeps on disk is for its own user only: folders 0700, files 0600.

The process roots (the CLI: ``serve``, ``worker``, ``generate``...) set the umask to 077, so
every file and folder they make is private; the data folder and the embedded SQLite database
(with its ``-wal`` and ``-shm``, which SQLite creates with the database file's mode) are made
private here too, so an app built in process (tests, notebooks) keeps them so as well."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def restrict_umask() -> None:
    """Files and folders this process makes from now on are its user's alone."""
    os.umask(UMASK)


def private_folder(path: Path) -> Path:
    """``path`` made (with its parents) or kept, and set to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    os.chmod(path, FOLDER_MODE)
    return path


def private_database_file(path: Path) -> None:
    """The SQLite file, created 0600 before SQLite opens it (its journal files follow its mode);
    an existing one, and journal files left by an older version, are set to 0600."""
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(name, FILE_MODE)
