"""A publisher's own durable state: per-stream sequence numbers and what it sent.

Sequence numbers count per (sender, topic), the stream a receiver sees, so any
entitled receiver can notice a gap. They must never go back after a crash, hence
SQLite rather than memory. The sent log keeps each signed envelope so that the
originator can later release, supersede or retract it, and so a failed publish
can be retried with the very same bytes (the receivers dedupe by message id).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (
    topic TEXT PRIMARY KEY,
    last  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT PRIMARY KEY,
    topic      TEXT NOT NULL,
    envelope   BLOB NOT NULL
);
"""


class PublisherState:
    def __init__(self, path: Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A process crash loses nothing with WAL + NORMAL; the broker holds the
        # authoritative copy of what was sent.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def next_sequence(self, topic: str) -> int:
        row = self._db.execute(
            "INSERT INTO sequences (topic, last) VALUES (?, 1)"
            " ON CONFLICT(topic) DO UPDATE SET last = last + 1 RETURNING last",
            (topic,),
        ).fetchone()
        return int(row[0])

    def record_sent(self, message_id: str, topic: str, envelope: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sent (message_id, topic, envelope) VALUES (?,?,?)",
            (message_id, topic, envelope),
        )

    def sent_envelope(self, message_id: str) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope FROM sent WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self._db.close()
