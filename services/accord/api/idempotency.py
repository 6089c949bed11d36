"""Idempotency keys: a retried POST publishes once and gets the same answer.

Per client and key the node remembers the digest of the request, the sealed
envelope (before it is sent) and, once the broker has acknowledged it, the
response. A retry with the same key and the same request:

- after the response was stored gets that response again, byte for byte;
- after a crash or a failed send between sealing and the acknowledgement
  re-sends the *same* sealed envelope (same message id, same signature), which
  receivers deduplicate, so even then the agency's message exists once.

The same key with a different request is refused (``idempotency-key-reused``),
as the IETF httpapi idempotency-key draft asks. Rows live in the node's data
folder, beside the publisher's own state.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

KEEP_KEYS = timedelta(days=7)
"""How long an answered key is remembered: far longer than any client retries."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    client          TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    header          TEXT,
    envelope        BLOB,
    status          INTEGER,
    response        BLOB,
    PRIMARY KEY (client, key)
);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    request_sha256: str
    header: str | None
    envelope: bytes | None
    status: int | None
    response: bytes | None


def request_digest(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


class IdempotencyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, client: str, key: str) -> Entry | None:
        row = self._db.execute(
            "SELECT request_sha256, header, envelope, status, response FROM idempotency"
            " WHERE client = ? AND key = ?",
            (client, key),
        ).fetchone()
        if row is None:
            return None
        digest, header, envelope, status, response = row
        return Entry(
            digest,
            header,
            None if envelope is None else bytes(envelope),
            status,
            None if response is None else bytes(response),
        )

    def begin(self, client: str, key: str, request_sha256: str) -> None:
        self._db.execute(
            "INSERT INTO idempotency (client, key, request_sha256, created_at) VALUES (?,?,?,?)",
            (client, key, request_sha256, datetime.now(UTC).isoformat()),
        )

    def sealed(self, client: str, key: str, header: str, envelope: bytes) -> None:
        self._db.execute(
            "UPDATE idempotency SET header = ?, envelope = ? WHERE client = ? AND key = ?",
            (header, envelope, client, key),
        )

    def done(self, client: str, key: str, status: int, response: bytes) -> None:
        self._db.execute(
            "UPDATE idempotency SET status = ?, response = ? WHERE client = ? AND key = ?",
            (status, response, client, key),
        )

    def prune(self, older_than: timedelta = KEEP_KEYS) -> int:
        """Forget answered keys older than ``older_than``; never a sealed, unanswered one
        (its retry must still re-send the same envelope)."""
        cutoff = (datetime.now(UTC) - older_than).isoformat()
        cur = self._db.execute(
            "DELETE FROM idempotency WHERE created_at < ? AND response IS NOT NULL", (cutoff,)
        )
        return int(cur.rowcount)

    def forget(self, client: str, key: str) -> None:
        """Drop a key whose request was refused before anything was sealed."""
        self._db.execute("DELETE FROM idempotency WHERE client = ? AND key = ?", (client, key))
