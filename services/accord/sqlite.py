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
import threading
from pathlib import Path
from typing import Literal

from accord.observability.logs import get_logger

log = get_logger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")
CHECKPOINT_EVERY_S = 0.2
"""How often the background checkpointer copies the WAL into the database.

Often, so that each checkpoint is small: it ends with a sync of what it copied, and
a commit on the same disk meanwhile (the inbox's, or the sent log's of a node that
also publishes) waits for that burst of writes. At 500 msgs/s, checkpoints every
half second copied a few MiB each and were behind most of the inbox commits over 10
ms; every fifth of a second there were a fifth as many, and every tenth no fewer
than that, for more CPU (copying pages written again since the last): docs/bench.md,
issue 16's thirteenth pass. An idle database's checkpoint finds nothing to copy and
writes nothing.
"""
BACKSTOP_BYTES = 64 * 1024 * 1024
"""The writer's own automatic checkpoint, should the background one fall behind or
stop: the WAL never grows past about 64 MiB (SQLite counts it in pages of the
database's size)."""


def open_private(
    path: Path, *, synchronous: Literal["FULL", "NORMAL"], page_size: int | None = None
) -> sqlite3.Connection:
    """Open (creating if needed) a WAL-mode database readable by this user only.

    ``page_size``: the page size of a database this call creates (a power of two,
    512 to 65 536 bytes); an existing database keeps its own (in WAL mode SQLite
    cannot change it)."""
    folder = path.parent
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _tighten(folder, FOLDER_MODE)
    # O_CREAT with 0600 (and no O_TRUNC): an existing database is left as it is.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    _tighten(path, FILE_MODE)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if page_size is not None:
        db.execute(f"PRAGMA page_size={int(page_size)}")  # before WAL writes the header
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    tighten_companions(path)
    return db


class BackgroundCheckpoints:
    """Checkpoints a WAL database from a thread of its own, so no commit pays for one.

    SQLite's automatic checkpoint runs inside the commit that crosses 1 000 WAL
    pages: with the inbox's rows of about 5 kB, every 800 or so messages one landing
    also copied 4 MiB into the database and synced it, 5 to 90 ms instead of 1
    (``python -m accord.bench.latency`` shows it as tail latency). SQLite's own
    advice for that is what this does: the writer's automatic checkpoint is raised
    to a backstop (``BACKSTOP_BYTES``), and a second connection runs a PASSIVE
    checkpoint every ``CHECKPOINT_EVERY_S`` (a fifth of a second: small ones, see
    there). PASSIVE never waits for the writer or
    blocks it, and the module releases the GIL while SQLite works, so the event loop
    goes on meanwhile. Durability is the writer's (each commit syncs the WAL under
    ``synchronous=FULL``); a checkpoint only moves committed pages.
    """

    def __init__(self, path: Path, writer: sqlite3.Connection) -> None:
        page = int(writer.execute("PRAGMA page_size").fetchone()[0])
        writer.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_BYTES // page}")
        synchronous = int(writer.execute("PRAGMA synchronous").fetchone()[0])
        self._path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={synchronous}")  # the writer's syncs
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint:{path.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                # The backstop still bounds the WAL; say so and keep trying.
                log.warning("sqlite.checkpoint_failed", path=str(self._path), error=str(exc))

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running) and close."""
        self._stop.set()
        self._thread.join()
        self._db.close()


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
