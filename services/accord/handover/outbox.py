"""The handover outbox: one row per landed message the agency system must take.

It lives in the inbox database and its rows are inserted by ``enqueue`` inside the
landing transaction (``Inbox.land``), so a message is in the inbox if and only if
its handover is recorded: a crash between landing and handing over loses nothing.

States: ``pending`` (due at ``next_attempt_at``), ``delivered`` (the endpoint
answered 2xx, or the ledger says it already took the message) and ``dead``
(retried past the policy's window; ``accord handover retry`` revives it).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from accord.handover.signing import webhook_id

State = Literal["pending", "delivered", "dead"]
STATES: tuple[State, ...] = ("pending", "delivered", "dead")

SCHEMA = """
CREATE TABLE IF NOT EXISTS handover (
    sender          TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    delivered_at    REAL,
    force           INTEGER NOT NULL DEFAULT 0,
    traceparent     TEXT,
    PRIMARY KEY (sender, message_id)
);
CREATE INDEX IF NOT EXISTS handover_due ON handover(next_attempt_at)
    WHERE state = 'pending';
"""


def ensure_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    # An outbox made before traces were kept gains the column (NULL: a fresh trace).
    columns = {str(r[1]) for r in db.execute("PRAGMA table_info(handover)")}
    if "traceparent" not in columns:
        db.execute("ALTER TABLE handover ADD COLUMN traceparent TEXT")


def enqueue(
    cur: sqlite3.Cursor,
    messages: Iterable[tuple[str, str]],
    now: float | None = None,
    traces: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Record (sender, message_id) pairs for handover, in the caller's transaction;
    ``traces`` gives each message's ``traceparent`` (the receiver's trace), so the
    handover request continues the trace even after a restart."""
    at = time.time() if now is None else now
    found = traces or {}
    cur.executemany(
        "INSERT OR IGNORE INTO handover (sender, message_id, webhook_id, enqueued_at,"
        " next_attempt_at, traceparent) VALUES (?,?,?,?,?,?)",
        [(s, m, webhook_id(s, m), at, at, found.get((s, m))) for s, m in messages],
    )


@dataclass(frozen=True, slots=True)
class Row:
    sender: str
    message_id: str
    webhook_id: str
    state: State
    attempts: int
    enqueued_at: float
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
    force: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.sender, self.message_id)


_COLUMNS = (
    "sender, message_id, webhook_id, state, attempts, enqueued_at, next_attempt_at,"
    " last_error, delivered_at, force"
)


def _row(r: tuple[Any, ...]) -> Row:
    s, m, w, st, a, e, n, err, d, f = r
    return Row(
        str(s),
        str(m),
        str(w),
        st,
        int(a),
        float(e),
        float(n),
        None if err is None else str(err),
        None if d is None else float(d),
        bool(f),
    )


class Outbox:
    """The dispatcher's and the operator's view of the outbox (own connection, WAL:
    the receiver keeps landing while this reads and updates)."""

    def __init__(self, inbox_path: Path, *, read_only: bool = False) -> None:
        if read_only:
            self._db = sqlite3.connect(
                f"file:{inbox_path}?mode=ro", uri=True, timeout=30, isolation_level=None
            )
        else:
            self._db = sqlite3.connect(
                inbox_path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL, not the inbox's FULL: rows are created durably by the landing
            # transaction; what a power cut can take from here is a state change,
            # and a lost "delivered" only means one more request with the same id.
            self._db.execute("PRAGMA synchronous=NORMAL")
            ensure_schema(self._db)

    def close(self) -> None:
        self._db.close()

    # -- reads ----------------------------------------------------------------

    def due(self, now: float, limit: int, exclude: set[tuple[str, str]]) -> list[Row]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM handover WHERE state = 'pending'"  # noqa: S608
            " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now, limit + len(exclude)),
        )
        due = [r for r in map(_row, rows) if r.key not in exclude]
        return due[:limit]

    def next_due(self) -> float | None:
        row = self._db.execute(
            "SELECT min(next_attempt_at) FROM handover WHERE state = 'pending'"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending_count(self) -> int:
        """Cheap at any size: counted on the partial index of pending rows."""
        row = self._db.execute("SELECT count(*) FROM handover WHERE state = 'pending'")
        return int(row.fetchone()[0])

    def counts(self) -> dict[str, int]:
        found = dict(self._db.execute("SELECT state, count(*) FROM handover GROUP BY state"))
        return {s: int(found.get(s, 0)) for s in STATES}

    def get(self, sender: str, message_id: str) -> Row | None:
        r = self._db.execute(
            f"SELECT {_COLUMNS} FROM handover WHERE sender = ? AND message_id = ?",  # noqa: S608
            (sender, message_id),
        ).fetchone()
        return None if r is None else _row(r)

    def find(self, message_id: str) -> list[Row]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM handover WHERE message_id = ?",  # noqa: S608
            (message_id,),
        )
        return [_row(r) for r in rows]

    def rows(self, state: State | None = None) -> Iterator[Row]:
        if state is None:
            query = f"SELECT {_COLUMNS} FROM handover ORDER BY enqueued_at"  # noqa: S608
            yield from map(_row, self._db.execute(query))
        else:
            query = (
                f"SELECT {_COLUMNS} FROM handover WHERE state = ?"  # noqa: S608
                " ORDER BY enqueued_at"
            )
            yield from map(_row, self._db.execute(query, (state,)))

    def traceparent(self, key: tuple[str, str]) -> str | None:
        """The trace the receiver handled this message in, as it stored it (the
        caller parses it: it came from a record header)."""
        r = self._db.execute(
            "SELECT traceparent FROM handover WHERE sender = ? AND message_id = ?",
            key,
        ).fetchone()
        return None if r is None or r[0] is None else str(r[0])

    def message(self, sender: str, message_id: str) -> tuple[bytes, bytes, str, str] | None:
        """(raw envelope, verified payload JSON, topic, payload_sha256) from the inbox."""
        r = self._db.execute(
            "SELECT raw, payload, topic, payload_sha256 FROM messages"
            " WHERE sender = ? AND message_id = ?",
            (sender, message_id),
        ).fetchone()
        return None if r is None else (bytes(r[0]), bytes(r[1]), str(r[2]), str(r[3]))

    # -- writes ---------------------------------------------------------------

    def delivered(self, key: tuple[str, str], now: float, note: str | None = None) -> None:
        self._db.execute(
            "UPDATE handover SET state = 'delivered', delivered_at = ?, last_error = ?,"
            " attempts = attempts + ?, force = 0 WHERE sender = ? AND message_id = ?",
            (now, note, 0 if note else 1, *key),
        )

    def failed(self, key: tuple[str, str], error: str, next_attempt_at: float) -> None:
        self._db.execute(
            "UPDATE handover SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE sender = ? AND message_id = ? AND state = 'pending'",
            (error[:300], next_attempt_at, *key),
        )

    def dead(self, key: tuple[str, str], error: str) -> None:
        self._db.execute(
            "UPDATE handover SET state = 'dead', attempts = attempts + 1, last_error = ?"
            " WHERE sender = ? AND message_id = ? AND state = 'pending'",
            (error[:300], *key),
        )

    def retry(self, rows: Iterable[Row], *, force: bool, now: float | None = None) -> int:
        """Make rows due now, with a fresh retry window; ``force`` also hands over
        again what the agency system already took. Returns how many changed."""
        at = time.time() if now is None else now
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            changed = 0
            for r in rows:
                cur.execute(
                    "UPDATE handover SET state = 'pending', attempts = 0, enqueued_at = ?,"
                    " next_attempt_at = ?, last_error = NULL, force = ?"
                    " WHERE sender = ? AND message_id = ?",
                    (at, at, int(force), r.sender, r.message_id),
                )
                changed += cur.rowcount
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return changed


def has_outbox(inbox_path: Path) -> bool:
    """Whether this inbox's node hands over (its database has the outbox table)."""
    if not inbox_path.exists():
        return False
    db = sqlite3.connect(f"file:{inbox_path}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'handover'"
        ).fetchone()
        return row is not None
    finally:
        db.close()


def read_states(inbox_path: Path) -> dict[tuple[str, str], State]:
    """Handover state per (sender, message_id), read-only; empty without an outbox."""
    if not has_outbox(inbox_path):
        return {}
    db = sqlite3.connect(f"file:{inbox_path}?mode=ro", uri=True, timeout=30)
    try:
        return {
            (s, m): st for s, m, st in db.execute("SELECT sender, message_id, state FROM handover")
        }
    finally:
        db.close()
