"""The quarantine writer: every refused record, raw, to the agency's quarantine topic.

Each record goes with its reason code and detail and where it came from. The
batch's offsets only move once every quarantined record is acknowledged, so a
refused record is never lost: either it is in quarantine, or it is fetched
again from the inbox's offsets.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from accord.envelope import Rejected
from accord.kafka import broker_errors
from accord.receipts import RecordSink
from accord.receiver.settings import QUARANTINE_MAX_BYTES
from accord.receiver.step import Record


def quarantine_record(
    record: Record, refusal: Rejected, *, agency: str
) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The value and headers a refused record is quarantined with."""
    headers = [
        ("accord-reason", refusal.reason.value.encode()),
        ("accord-detail", refusal.detail[:500].encode("utf-8", "replace")),
        ("accord-source-topic", record.topic.encode()),
        ("accord-source-partition", str(record.partition).encode()),
        ("accord-source-offset", str(record.offset).encode()),
        ("accord-agency", agency.encode()),
    ]
    value = record.value
    if value is not None and len(value) > QUARANTINE_MAX_BYTES:
        # An oversized record cannot be produced back whole (the producer and broker
        # refuse it, which would stop the node): keep a prefix as evidence, with the
        # original size and digest.
        headers += [
            ("accord-original-size", str(len(value)).encode()),
            ("accord-original-sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:QUARANTINE_MAX_BYTES]
    return value, headers


class QuarantineWriter:
    def __init__(self, *, topic: str, agency: str, timeout_s: float) -> None:
        self.topic = topic
        self._agency = agency
        self._timeout_s = timeout_s

    async def write(self, producer: RecordSink, items: Sequence[tuple[Record, Rejected]]) -> None:
        """Send every item and wait for all acks; ``BrokerError`` if any is missing.

        A producer that cannot get acks in time (aiokafka can wedge after a broker
        restart) is then rebuilt by the supervisor, and the batch fetched again.
        """
        if not items:
            return
        with broker_errors("quarantine not acknowledged"):
            futures = []
            for record, refusal in items:
                value, headers = quarantine_record(record, refusal, agency=self._agency)
                futures.append(
                    await producer.send(self.topic, value=value, key=record.key, headers=headers)
                )
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout_s)
