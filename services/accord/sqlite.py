"""A node's private SQLite databases (the inbox, the publisher's sent log).

Both hold full message payloads, so they are private to the node's user: the
data folder is 0700 and the database 0600 from the moment they exist (the file
is created 0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm``
files the database's own mode). A node that finds wider modes, left by an older
version or an operator, says so once and tightens them: failing closed here
would keep a node down for a mode an operator can see and a node can fix.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from typing import Literal

from accord.observability.logs import get_logger

log = get_logger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")


def open_private(path: Path, *, synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database readable by this user only."""
    folder = path.parent
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _tighten(folder, FOLDER_MODE)
    # O_CREAT with 0600 (and no O_TRUNC): an existing database is left as it is.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    _tighten(path, FILE_MODE)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    tighten_companions(path)
    return db


def tighten_companions(path: Path) -> None:
    """Bring the database's -wal/-shm/-journal files, where they exist, to 0600."""
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode:
        log.warning(
            "sqlite.private_data_mode_tightened", path=str(path), found=oct(current), now=oct(mode)
        )
        path.chmod(mode)
