"""A publisher's own durable state: per-stream sequence numbers and what it sent.

Sequence numbers count per (sender, topic), the stream a receiver sees, so any
entitled receiver can notice a gap. They must never go back after a crash, hence
SQLite rather than memory. The sent log keeps each signed envelope so that the
originator can later release, supersede or retract it, and so a failed publish
can be retried with the very same bytes (the receivers dedupe by message id).
It records whether the broker acknowledged each sent row, and each trilateral
release which copy it made, so a release happens once per original and only of
a message the broker took.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from accord.errors import PublishError
from accord.sqlite import BackgroundCheckpoints, open_private, tighten_companions

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
CREATE TABLE IF NOT EXISTS releases (
    original_id TEXT PRIMARY KEY,
    release_id  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
    message_id TEXT PRIMARY KEY,
    partition  INTEGER NOT NULL,
    "offset"   INTEGER NOT NULL
);
"""
# Acks have a table of their own: marking a row of ``sent`` acknowledged would write
# its envelope (a few KiB) a second time; an ``acks`` row is a few bytes. ``sent``'s
# own ack columns are those of logs written before (still read, never written).
_ACKED = """
ALTER TABLE sent ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sent ADD COLUMN partition INTEGER;
ALTER TABLE sent ADD COLUMN "offset" INTEGER;
"""
"""Added to a sent log of the first schema. Its rows stay unacknowledged: whether
the broker took them was never recorded, and a release must not guess."""


SENT_LOG_PAGE_BYTES = 16_384
"""The page size of a sent log this version creates. Its rows are whole envelopes
(3.2 kB for the bench's 1 KiB body): on 4 KiB pages each took a page of its own, so
a batch's commit wrote 4 KiB a record to the WAL and the checkpoint wrote it again;
16 KiB pages hold five. A 256-record batch's ``record_batch``: 7.9 µs of CPU a record
on 4 KiB pages, 5.2 on 16 KiB (issue 16, twentieth pass). The sent log commits
without a sync (``synchronous=NORMAL``), so no commit waits on the larger pages'
writes; the inbox, which syncs each landing, keeps SQLite's 4 KiB (docs/bench.md,
sixteenth pass)."""


@dataclass(frozen=True, slots=True)
class SentRecord:
    message_id: str
    topic: str
    envelope: bytes
    acknowledged: bool
    partition: int | None
    offset: int | None


class PublisherState:
    def __init__(self, path: Path | None) -> None:
        # A process crash loses nothing with WAL + NORMAL; the broker holds the
        # authoritative copy of what was sent. The sent log holds full payloads:
        # private to the node's user (accord.sqlite).
        if path is None:
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            self._db = open_private(path, synchronous="NORMAL", page_size=SENT_LOG_PAGE_BYTES)
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(sent)")}
        if "acked" not in columns:
            self._db.executescript(_ACKED)
        # The sent log's automatic checkpoint ran inside a batch's commit, on the
        # event loop; in a thread of its own it holds no publish up.
        self._checkpoints: BackgroundCheckpoints | None = None
        if path is not None:
            tighten_companions(path)
            self._checkpoints = BackgroundCheckpoints(path, self._db)

    def peek_sequence(self, topic: str) -> int:
        """The number ``next_sequence`` would give, without taking it."""
        row = self._db.execute("SELECT last FROM sequences WHERE topic = ?", (topic,)).fetchone()
        return 1 if row is None else int(row[0]) + 1

    def take_sequence(self, topic: str, sequence: int) -> None:
        """Take ``sequence`` (from ``peek_sequence``) once its message is accepted for
        sending: a refused message never consumes a number, so receivers see no gap."""
        self._db.execute(
            "INSERT INTO sequences (topic, last) VALUES (?, ?)"
            " ON CONFLICT(topic) DO UPDATE SET last = max(last, excluded.last)",
            (topic, sequence),
        )

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

    def record_batch(
        self,
        sequences: dict[str, tuple[int, int]],
        own: dict[str, int],
        sent: list[tuple[str, str, bytes]],
    ) -> None:
        """Take the sequence numbers (topic -> first and last of the batch) and log the
        sent records (message_id, topic, envelope) of one batch, in ONE transaction.

        Called before any record of the batch goes to the producer, so once the broker
        could acknowledge a record, its number is taken and its bytes are in the sent
        log: a crash before the commit leaves no trace and sent nothing (its numbers
        are free to give again, no record carries them); a crash after it leaves the
        numbers taken for good. One commit per batch instead of two per message.

        Raises ``PublishError`` (nothing written) when another process on this file
        took any of the batch's numbers meanwhile: the last number taken is past the
        batch's first and is not one this publisher took itself (``own``: the highest
        its ``seal`` took per topic). A number is never given twice.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for topic, (first, _last) in sequences.items():
                row = self._db.execute(
                    "SELECT last FROM sequences WHERE topic = ?", (topic,)
                ).fetchone()
                if row is not None and row[0] >= first and row[0] > own.get(topic, 0):
                    raise PublishError(
                        f"sequence numbers {first}.. of {topic} were taken by another "
                        "publisher on the same state file; nothing was sent",
                        hint="publish through one node per agency (the node's API, not a "
                        "second process on its data directory); the publish can be retried",
                    )
            self._db.executemany(
                "INSERT INTO sequences (topic, last) VALUES (?, ?)"
                " ON CONFLICT(topic) DO UPDATE SET last = max(last, excluded.last)",
                [(topic, last) for topic, (_first, last) in sequences.items()],
            )
            # A message id names one sealed envelope: a row already there (a release
            # recorded before its send, a retried send) holds these very bytes.
            self._db.executemany(
                "INSERT OR IGNORE INTO sent (message_id, topic, envelope) VALUES (?,?,?)",
                sent,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def acknowledged_many(self, acks: list[tuple[int, int, str]]) -> None:
        """Mark records (partition, offset, message_id) acknowledged, in one transaction."""
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                'INSERT OR REPLACE INTO acks (partition, "offset", message_id) VALUES (?,?,?)',
                acks,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def acknowledged(self, message_id: str, *, partition: int, offset: int) -> None:
        self.acknowledged_many([(partition, offset, message_id)])

    def sent(self, message_id: str) -> SentRecord | None:
        row = self._db.execute(
            "SELECT s.message_id, s.topic, s.envelope, s.acked OR a.message_id IS NOT NULL,"
            ' coalesce(a.partition, s.partition), coalesce(a."offset", s."offset")'
            " FROM sent s LEFT JOIN acks a ON a.message_id = s.message_id"
            " WHERE s.message_id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            return None
        return SentRecord(row[0], row[1], bytes(row[2]), bool(row[3]), row[4], row[5])

    def sent_envelope(self, message_id: str) -> bytes | None:
        record = self.sent(message_id)
        return None if record is None else record.envelope

    def release_of(self, original_id: str) -> str | None:
        """The id of the trilateral copy already made of ``original_id``, if any."""
        row = self._db.execute(
            "SELECT release_id FROM releases WHERE original_id = ?", (original_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def record_release(self, original_id: str, release_id: str) -> None:
        self._db.execute(
            "INSERT INTO releases (original_id, release_id) VALUES (?, ?)",
            (original_id, release_id),
        )

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
        self._db.close()
