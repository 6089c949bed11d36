"""What the agency system has already taken, kept apart from the inbox.

An inbox can be rebuilt (deleted and re-read from the topics' beginning); its
outbox then holds every message again. The ledger is a separate SQLite file
beside it, keyed by the message's identity (sender, message_id), that survives
the rebuild: the dispatcher consults it before a request and marks a message the
agency system already acknowledged as delivered without sending it again.
``accord handover retry --force`` sends regardless (the agency asked for it).

It is written after the endpoint's 2xx and before the outbox row is updated: a
crash in between re-sends the message with the same ``webhook-id`` (at-least-once,
and the agency system dedupes on that id), never loses it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

LEDGER_FILE = "handover-ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS taken (
    sender          TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    payload_sha256  TEXT NOT NULL,
    taken_at        REAL NOT NULL,
    PRIMARY KEY (sender, message_id)
);
"""


def ledger_path(inbox_path: Path) -> Path:
    return inbox_path.parent / LEDGER_FILE


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A record lost to a power cut costs one more request after a rebuild.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def taken(self, sender: str, message_id: str, payload_sha256: str) -> bool:
        """True if the agency system took this very message (same content digest)."""
        row = self._db.execute(
            "SELECT payload_sha256 FROM taken WHERE sender = ? AND message_id = ?",
            (sender, message_id),
        ).fetchone()
        return row is not None and row[0] == payload_sha256

    def record(
        self,
        sender: str,
        message_id: str,
        webhook_id: str,
        payload_sha256: str,
        now: float | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO taken (sender, message_id, webhook_id, payload_sha256, taken_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT(sender, message_id) DO NOTHING",
            (sender, message_id, webhook_id, payload_sha256, time.time() if now is None else now),
        )

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM taken").fetchone()[0])
