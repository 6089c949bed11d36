"""The inbox: where a receiving node durably lands verified messages.

SQLite, one file per node. A batch of deliveries and the Kafka offsets that
follow them are written in ONE transaction, so after any crash the inbox and its
offsets agree: the receiver resumes from ``next_offsets()`` and a record is
neither lost nor delivered twice. A message's identity is ``(sender,
message_id)``, the primary key: delivery is idempotent against the duplicates
Kafka's at-least-once gives us, and one agency can neither squat another's id
nor change another's row (a status change names its sender too).

The database is private to the node's user (``accord.sqlite``); an inbox made
by the first schema (keyed by ``message_id`` alone) is migrated when it opens.

Receipts use the outbox pattern: a landing that owes receipts writes one
``receipts_owed`` row in the same transaction, naming the rows it inserted (a
range of ``messages``' rowids), and that row is deleted once the signed receipts
are acknowledged by the broker, so a crash between the two never loses a receipt.
The deletion rides on the next landing transaction (``land(receipts_sent=...)``)
rather than paying an fsync of its own: until it commits the receipts stay owed,
and a crash in between only makes the node send them again on its next start.
One row per landing, not a flag per message: updating a flag rewrote each
message's row, blobs and all (7 µs a message, issue 16).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from accord.handover import outbox as handover_outbox
from accord.observability.logs import get_logger
from accord.sqlite import BackgroundCheckpoints, open_private, tighten_companions

log = get_logger(__name__)

_MESSAGES = """
CREATE TABLE IF NOT EXISTS {name} (
    message_id      TEXT NOT NULL,
    type            TEXT NOT NULL,
    sender          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    area            TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    issued_at       TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    topic           TEXT NOT NULL,
    partition       INTEGER NOT NULL,
    "offset"        INTEGER NOT NULL,
    payload_sha256  TEXT NOT NULL,
    payload         BLOB NOT NULL,
    raw             BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'current',
    PRIMARY KEY (sender, message_id)
);
"""
_RECEIPTS_OWED = """
CREATE TABLE IF NOT EXISTS receipts_owed (
    entry        INTEGER PRIMARY KEY,
    rows_after   INTEGER NOT NULL,
    rows_through INTEGER NOT NULL
)"""
"""One landing whose receipts the broker has not yet acknowledged: the messages with
``rows_after < rowid <= rows_through`` (the rows that landing inserted)."""
_SCHEMA = (
    _MESSAGES.format(name="messages")
    + """
CREATE INDEX IF NOT EXISTS messages_by_id ON messages(message_id);
"""
    + _RECEIPTS_OWED
    + """;
CREATE TABLE IF NOT EXISTS offsets (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS counters (
    stream  TEXT PRIMARY KEY,
    last    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
    sender  TEXT NOT NULL,
    topic   TEXT NOT NULL,
    last    INTEGER NOT NULL,
    PRIMARY KEY (sender, topic)
);
"""
)

_INSERT_MESSAGE = (
    "INSERT OR IGNORE INTO messages (message_id, type, sender, scope, area,"
    ' sequence, issued_at, received_at, topic, partition, "offset",'
    " payload_sha256, payload, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_OWE = "INSERT INTO receipts_owed (rows_after, rows_through) VALUES (?, ?)"
_RECEIPTS_SENT = "DELETE FROM receipts_owed WHERE entry = ?"
_LAST_ROW = "SELECT coalesce(max(rowid), 0) FROM messages"

_VERSION = 3
"""``PRAGMA user_version`` of this schema: 0 was keyed by id alone, 2 flagged each
message ``receipt_pending``."""
_IN_CHUNK = 500
"""Ids per ``IN (...)`` query: well under SQLite's bound-parameter limit."""

Status = Literal["current", "superseded", "retracted"]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A supersede or retract of ``sender``'s own message ``message_id``."""

    sender: str
    message_id: str
    status: Status


class Delivery(NamedTuple):
    """One verified message, ready to land.

    A named tuple rather than a frozen dataclass: one is built per message received,
    and a frozen dataclass's ``__init__`` sets each of the 14 fields through
    ``object.__setattr__`` (3.6 µs against 1.3, ``timeit``).
    """

    message_id: str
    type: str
    sender: str
    scope: str
    area: str
    sequence: int
    issued_at: datetime
    topic: str
    partition: int
    offset: int
    payload_sha256: str
    payload: bytes
    """The signed payload, exactly as verified: header, label and body as JSON."""
    raw: bytes


@dataclass(frozen=True, slots=True)
class StoredMessage:
    message_id: str
    type: str
    sender: str
    scope: str
    area: str
    sequence: int
    topic: str
    partition: int
    offset: int
    payload_sha256: str
    status: Status
    body: dict[str, object]
    raw: bytes


@dataclass(frozen=True, slots=True)
class OwedReceipts:
    """One landing's messages whose receipts the broker has not yet acknowledged."""

    entry: int
    """Its ``receipts_owed`` row: what ``receipts_sent`` clears."""
    messages: list[StoredMessage]


@dataclass(frozen=True, slots=True)
class Landing:
    """What one ``Inbox.land`` wrote."""

    landed: list[tuple[str, str]]
    """The (sender, message_id) keys newly landed, in the order given."""
    first_receipt: int = 0
    """The first of the receipt sequence numbers reserved for them (0: none)."""
    receipts_owed: int | None = None
    """The ``receipts_owed`` entry recorded for them (None: none)."""


class Inbox:
    """A node's durable store. Not thread-safe: one receiver owns one inbox."""

    def __init__(self, path: Path, *, outbox: bool = False) -> None:
        self.path = path
        # With ``outbox``, every landing also enqueues its handover rows
        # (accord.handover), in the same transaction.
        self._outbox = outbox
        # WAL keeps readers (operators, tests) off the writer's back; synchronous=FULL
        # because a delivery acknowledged by an offset commit must survive power loss.
        self._db = open_private(path, synchronous="FULL")
        self._migrate()
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_VERSION}")
        if outbox:
            handover_outbox.ensure_schema(self._db)
        tighten_companions(path)
        # Off the landing transaction: a checkpoint in it was the inbox's tail latency.
        self._checkpoints = BackgroundCheckpoints(path, self._db)

    def _migrate(self) -> None:
        """Bring an inbox of an earlier schema to this one, in one transaction.

        Schema 0 was keyed by ``message_id`` alone, and schemas 0 and 2 flagged each
        message ``receipt_pending``. The table is copied under this schema's key, the
        rows still owing receipts last, so that one ``receipts_owed`` range names them.
        """
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
        ).fetchone()
        if version >= _VERSION or exists is None:
            return
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(_MESSAGES.format(name="messages_new"))  # one statement, in the transaction
            cur.execute(_RECEIPTS_OWED)
            copy = (
                f"INSERT INTO messages_new ({_ALL}) SELECT {_ALL} FROM messages"  # noqa: S608
                " WHERE receipt_pending = ? ORDER BY rowid"
            )
            last_row = "SELECT coalesce(max(rowid), 0) FROM messages_new"
            cur.execute(copy, (0,))
            after = int(cur.execute(last_row).fetchone()[0])
            cur.execute(copy, (1,))
            through = int(cur.execute(last_row).fetchone()[0])
            if through > after:
                cur.execute(_OWE, (after, through))
            cur.execute("DROP TABLE messages")
            cur.execute("ALTER TABLE messages_new RENAME TO messages")
            cur.execute(f"PRAGMA user_version={_VERSION}")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        log.info(
            "receiver.inbox_migrated", path=str(self.path), schema=_VERSION, owed=through - after
        )

    def close(self) -> None:
        self._checkpoints.close()
        self._db.close()

    # -- reads -------------------------------------------------------------

    def next_offsets(self) -> dict[tuple[str, int], int]:
        rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets")
        return {(t, p): o for t, p, o in rows}

    def payload_digests(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The payload digest of each (sender, message_id) here, in a few queries."""
        ids = sorted({m for _, m in keys})
        found: dict[tuple[str, str], str] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            rows = self._db.execute(
                "SELECT sender, message_id, payload_sha256 FROM messages"  # noqa: S608
                f" WHERE message_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update(((s, m), d) for s, m, d in rows if (s, m) in keys)
        return found

    def senders_of(self, message_id: str) -> frozenset[str]:
        """Every sender with a message of this id here (ids are only unique per sender)."""
        rows = self._db.execute("SELECT sender FROM messages WHERE message_id = ?", (message_id,))
        return frozenset(str(r[0]) for r in rows)

    def last_sequence(self, sender: str, topic: str) -> int | None:
        row = self._db.execute(
            "SELECT last FROM sequences WHERE sender = ? AND topic = ?", (sender, topic)
        ).fetchone()
        return None if row is None else int(row[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def message_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT message_id FROM messages")]

    def owed_receipts(self, limit: int = 500) -> list[OwedReceipts]:
        """The landings whose receipts are owed, oldest first: whole landings, until
        they hold ``limit`` messages or more."""
        entries = self._db.execute(
            "SELECT entry, rows_after, rows_through FROM receipts_owed ORDER BY entry"
        ).fetchall()
        owed: list[OwedReceipts] = []
        held = 0
        for entry, after, through in entries:
            if held >= limit:
                break
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages"  # noqa: S608
                " WHERE rowid > ? AND rowid <= ? ORDER BY rowid",
                (after, through),
            )
            messages = [_stored(r) for r in rows]
            owed.append(OwedReceipts(entry, messages))
            held += len(messages)
        return owed

    def get(self, message_id: str, *, sender: str | None = None) -> StoredMessage | None:
        """The message ``(sender, message_id)``; without ``sender``, the first landed
        of that id (ids are unique per sender only)."""
        if sender is None:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE message_id = ?"  # noqa: S608
                " ORDER BY received_at LIMIT 1",
                (message_id,),
            ).fetchone()
        else:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE sender = ? AND message_id = ?",  # noqa: S608
                (sender, message_id),
            ).fetchone()
        return None if row is None else _stored(row)

    def messages(self) -> Iterator[StoredMessage]:
        query = f"SELECT {_COLUMNS} FROM messages ORDER BY received_at"  # noqa: S608
        for row in self._db.execute(query):
            yield _stored(row)

    # -- writes ------------------------------------------------------------

    def land(
        self,
        deliveries: Iterable[Delivery],
        offsets: dict[tuple[str, int], int],
        status_changes: Iterable[StatusChange] = (),
        *,
        owe_receipts: bool = False,
        receipt_stream: str | None = None,
        receipt_count: int = 0,
        traces: Mapping[tuple[str, str], str] | None = None,
        receipts_sent: Collection[int] = (),
    ) -> Landing:
        """Write deliveries and next offsets atomically.

        A delivery whose (sender, id) is already present is a duplicate and is
        ignored (its offset still advances). A status change touches only the row
        of its own sender. With ``owe_receipts``, the rows that land are recorded as
        owing receipts (``Landing.receipts_owed``); with ``receipt_stream``,
        ``receipt_count`` of that stream's sequence numbers are reserved for them
        (``Landing.first_receipt``). ``traces`` (sender, id) -> ``traceparent`` go
        with the handover rows. ``receipts_sent``: ``receipts_owed`` entries whose
        receipts the broker has acknowledged since; they are cleared in this
        transaction.
        """
        now = datetime.now(UTC).isoformat()
        batch = list(deliveries)
        rows = [
            (
                d.message_id,
                d.type,
                d.sender,
                d.scope,
                d.area,
                d.sequence,
                d.issued_at.isoformat(),
                now,
                d.topic,
                d.partition,
                d.offset,
                d.payload_sha256,
                d.payload,
                d.raw,
            )
            for d in batch
        ]
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            rows_after = int(cur.execute(_LAST_ROW).fetchone()[0]) if owe_receipts else 0
            landed = self._insert(cur, batch, rows)
            # Each stream's last sequence once per batch, not once per row.
            new = None if len(landed) == len(batch) else set(landed)
            last: dict[tuple[str, str], int] = {}
            for d in batch:
                stream = (d.sender, d.topic)
                if (new is None or (d.sender, d.message_id) in new) and last.get(
                    stream, -1
                ) < d.sequence:
                    last[stream] = d.sequence
            cur.executemany(
                "INSERT INTO sequences (sender, topic, last) VALUES (?,?,?)"
                " ON CONFLICT(sender, topic) DO UPDATE SET last = max(last, excluded.last)",
                [(sender, topic, seq) for (sender, topic), seq in last.items()],
            )
            if self._outbox and landed:  # handover: same transaction as the landing
                handover_outbox.enqueue(cur, landed, traces=traces)  # + traceparents
            for change in status_changes:
                cur.execute(
                    "UPDATE messages SET status = ? WHERE sender = ? AND message_id = ?",
                    (change.status, change.sender, change.message_id),
                )
            owed = None
            if owe_receipts and landed:
                # The rows this transaction inserted: a new row's rowid is above every
                # rowid already there (one writer, and rows are never deleted).
                rows_through = int(cur.execute(_LAST_ROW).fetchone()[0])
                owed = cur.execute(_OWE, (rows_after, rows_through)).lastrowid
            first_receipt = 0
            if receipt_stream is not None and landed and receipt_count > 0:
                row = cur.execute(
                    "INSERT INTO counters (stream, last) VALUES (?, ?) ON CONFLICT(stream)"
                    " DO UPDATE SET last = last + excluded.last RETURNING last",
                    (receipt_stream, receipt_count),
                ).fetchone()
                first_receipt = int(row[0]) - receipt_count + 1
            if receipts_sent:
                cur.executemany(_RECEIPTS_SENT, [(entry,) for entry in receipts_sent])
            cur.executemany(
                "INSERT INTO offsets (topic, partition, next_offset) VALUES (?,?,?)"
                " ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(t, p, o) for (t, p), o in offsets.items()],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return Landing(landed, first_receipt, owed)

    def _insert(
        self, cur: sqlite3.Cursor, batch: list[Delivery], rows: list[tuple[Any, ...]]
    ) -> list[tuple[str, str]]:
        """Insert the rows; return the (sender, id) keys that were not there yet.

        The step filtered duplicates against the inbox already, so one ``executemany``
        nearly always lands them all; when it did not (a row already there), it is
        undone and redone row by row to learn which ones are new.
        """
        cur.execute("SAVEPOINT rows")
        before = self._db.total_changes
        cur.executemany(_INSERT_MESSAGE, rows)
        if self._db.total_changes - before == len(rows):
            cur.execute("RELEASE rows")
            return [(d.sender, d.message_id) for d in batch]
        cur.execute("ROLLBACK TO rows")
        cur.execute("RELEASE rows")
        landed = []
        for d, row in zip(batch, rows, strict=True):
            cur.execute(_INSERT_MESSAGE, row)
            if cur.rowcount == 1:
                landed.append((d.sender, d.message_id))
        return landed

    def receipts_sent(
        self, entries: Iterable[int], *, still_owed: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Clear these ``receipts_owed`` entries, in a transaction of their own (a node
        that is idle, stopping or resending; otherwise ``land(receipts_sent=...)``
        carries them). ``still_owed``: (sender, message_id) of messages among them
        whose receipts were not sent; each stays owed, as an entry of its own."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany(_RECEIPTS_SENT, [(entry,) for entry in entries])
            cur.executemany(
                "INSERT INTO receipts_owed (rows_after, rows_through) SELECT rowid - 1, rowid"
                " FROM messages WHERE sender = ? AND message_id = ?",
                list(still_owed),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def reserve_sequences(self, stream: str, count: int) -> int:
        """Reserve ``count`` numbers of this node's outgoing ``stream``; return the first.

        Durable, so a restarted node never reuses a sequence number.
        """
        row = self._db.execute(
            "INSERT INTO counters (stream, last) VALUES (?, ?)"
            " ON CONFLICT(stream) DO UPDATE SET last = last + excluded.last RETURNING last",
            (stream, count),
        ).fetchone()
        return int(row[0]) - count + 1


def _read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection: safe while the inbox's node is writing it."""
    if not path.exists():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def read_message_ids(path: Path) -> list[str]:
    """The message ids in an inbox, read-only (operators, tests and the soak run
    count deliveries this way while the node runs)."""
    db = _read_only(path)
    if db is None:
        return []
    try:
        return [r[0] for r in db.execute("SELECT message_id FROM messages")]
    except sqlite3.OperationalError:  # created but not yet initialised
        return []
    finally:
        db.close()


def read_keys(path: Path) -> list[tuple[str, str, Status]]:
    """(sender, message_id, status) of every message in an inbox, read-only."""
    db = _read_only(path)
    if db is None:
        return []
    try:
        return [
            (r[0], r[1], r[2])
            for r in db.execute("SELECT sender, message_id, status FROM messages")
        ]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def count_messages(path: Path) -> int:
    """How many messages an inbox holds, read-only."""
    db = _read_only(path)
    if db is None:
        return 0
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def read_landing_times(path: Path) -> list[tuple[datetime, datetime]]:
    """(issued_at, received_at) of every message, read-only. ``received_at`` is
    stamped as the landing transaction begins, on the receiving node's clock."""
    db = _read_only(path)
    if db is None:
        return []
    try:
        rows = db.execute("SELECT issued_at, received_at FROM messages").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return [(datetime.fromisoformat(i), datetime.fromisoformat(r)) for i, r in rows]


# Constant column lists; every value is bound as a parameter.
_ALL = (
    "message_id, type, sender, scope, area, sequence, issued_at, received_at, topic,"
    ' partition, "offset", payload_sha256, payload, raw, status'
)
_COLUMNS = (
    'message_id, type, sender, scope, area, sequence, topic, partition, "offset",'
    " payload_sha256, status, payload, raw"
)


def _stored(row: tuple[Any, ...]) -> StoredMessage:
    (mid, typ, sender, scope, area, seq, topic, part, off, digest, status, body, raw) = row
    return StoredMessage(
        message_id=mid,
        type=typ,
        sender=sender,
        scope=scope,
        area=area,
        sequence=seq,
        topic=topic,
        partition=part,
        offset=off,
        payload_sha256=digest,
        status=status,
        body=json.loads(body)["body"],
        raw=bytes(raw),
    )
