"""Read-only views of what a node holds: its inbox (SQLite) and its quarantine (Kafka).

The API reads; it never writes the inbox. The inbox is read through a
read-only SQLite connection of its own (WAL lets it read while the receiver
writes), the quarantine through a consumer with no group that is assigned the
agency's quarantine topic (one partition, so its offsets are the cursor).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from accord.api.problems import ApiProblem
from accord.config import KafkaConnection
from accord.kafka import close_consumer, new_consumer
from accord.quarantine.records import parse_record

MAX_PAGE = 500

# -- cursors ----------------------------------------------------------------------
# Opaque to clients (base64url of "i:<n>" / "q:<n>"), so their meaning can change
# without breaking anyone; a cursor of the wrong kind or shape is a 400.


def encode_cursor(kind: str, n: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{n}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int:
    if not cursor:
        return -1
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        got, _, number = text.partition(":")
        n = int(number)
        if got != kind or n < -1 or len(cursor) > 40:
            raise ValueError(cursor)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(
            400,
            "bad-cursor",
            "the cursor is not one this node gave out",
            hint="pass next_cursor from a previous page, or no cursor",
        ) from None
    return n


# -- the inbox ------------------------------------------------------------------

_SUMMARY = (
    "rowid, message_id, type, sender, scope, area, sequence, status, topic, partition,"
    ' "offset", received_at, payload_sha256'
)


@dataclass(frozen=True, slots=True)
class InboxRow:
    rowid: int
    fields: dict[str, Any]


class InboxView:
    """Pages of an inbox in landing order (SQLite rowid: it only grows, no row is deleted)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False
        )

    def close(self) -> None:
        self._db.close()

    def page(self, after: int, limit: int) -> list[InboxRow]:
        rows = self._db.execute(
            f"SELECT {_SUMMARY} FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?",  # noqa: S608
            (after, limit),
        ).fetchall()
        page = [_summary(r) for r in rows]
        states = self._handover_states(after, page[-1].rowid if page else after)
        for row in page:
            row.fields["handover"] = states.get((row.fields["sender"], row.fields["message_id"]))
        return page

    def _handover_states(self, after: int, last: int) -> dict[tuple[str, str], str]:
        """Handover state (accord.handover) of the page's messages; none without an outbox."""
        if (
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'handover'"
            ).fetchone()
            is None
        ):
            return {}
        return {
            (s, m): st
            for s, m, st in self._db.execute(
                "SELECT h.sender, h.message_id, h.state FROM handover h JOIN messages m"
                " ON m.sender = h.sender AND m.message_id = h.message_id"
                " WHERE m.rowid > ? AND m.rowid <= ?",
                (after, last),
            )
        }

    def one(
        self, message_id: str, sender: str | None = None
    ) -> list[tuple[InboxRow, dict[str, Any], bytes]]:
        """A message's summary, its signed payload (header, label, body) and raw envelope;
        one per sender holding that id (a message is identified by sender and id)."""
        query = f"SELECT {_SUMMARY}, payload, raw FROM messages WHERE message_id = ?"  # noqa: S608
        args: tuple[str, ...] = (message_id,)
        if sender is not None:
            query += " AND sender = ?"
            args += (sender,)
        rows = self._db.execute(query + " ORDER BY rowid", args).fetchall()
        return [(_summary(r[:13]), json.loads(r[13]), bytes(r[14])) for r in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])


def _summary(r: tuple[Any, ...]) -> InboxRow:
    names = (
        "message_id",
        "type",
        "sender",
        "scope",
        "area",
        "sequence",
        "status",
        "topic",
        "partition",
        "offset",
        "received_at",
        "payload_sha256",
    )
    return InboxRow(int(r[0]), dict(zip(names, r[1:], strict=True)))


# -- the quarantine -------------------------------------------------------------


class QuarantineView:
    """The agency's quarantine topic, read by offset; one consumer, one reader at a time."""

    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self._tp = TopicPartition(topic, 0)
        self._consumer: AIOKafkaConsumer | None = None
        self._connection = connection
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        consumer = new_consumer(
            self._connection,
            group_id=None,
            client_id=f"{self._connection.client_id}-quarantine-view",
        )
        await consumer.start()
        consumer.assign([self._tp])
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await close_consumer(self._consumer, timeout_s=10)
            self._consumer = None

    async def page(self, after: int, limit: int) -> list[dict[str, Any]]:
        consumer = self._consumer
        if consumer is None:
            raise ApiProblem(
                503,
                "not-ready",
                "the quarantine view is not started",
                hint="wait until GET /v1/status says ready",
            )
        async with self._lock:
            end = (await consumer.end_offsets([self._tp]))[self._tp]
            start = max(after + 1, (await consumer.beginning_offsets([self._tp]))[self._tp])
            if start >= end:
                return []
            consumer.seek(self._tp, start)
            out: list[dict[str, Any]] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while len(out) < limit and await consumer.position(self._tp) < end:
                if loop.time() > deadline:
                    raise ApiProblem(
                        503,
                        "broker-error",
                        "the quarantine topic did not answer",
                        hint="check that the brokers are up",
                    )
                batch = await consumer.getmany(
                    self._tp, timeout_ms=500, max_records=limit - len(out)
                )
                out += [_quarantined(r) for r in batch.get(self._tp, [])]
            return out[:limit]


def _quarantined(record: Any) -> dict[str, Any]:
    q = parse_record(record)  # the one reading of the quarantine's headers
    value: bytes = record.value or b""
    return {
        "offset": q.offset,
        "reason": q.reason,
        "detail": q.detail,
        "source_topic": q.source_topic or None,
        "source_partition": q.source_partition,
        "source_offset": q.source_offset,
        "claimed_sender": None if q.key is None else q.key.decode("utf-8", "replace")[:64],
        "size": q.original_size or len(value),
        "quarantined_at_ms": record.timestamp,
        "envelope_base64": base64.b64encode(value).decode(),
    }


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None
