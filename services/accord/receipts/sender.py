"""Sending receipts: the one path by which a node signs and sends acknowledgements.

A receiver acknowledges what landed (``delivered``); a publisher announces what
the broker took (``published``). Both group (header, digest) pairs by scope,
area and namespace, sign one receipt per group of at most 1000, send them
through the node's producer and wait, bounded, for the broker's acks. The
producer is passed per call (a node rebuilds a wedged one) and is anything with
aiokafka's ``send`` (tests pass an in-memory one). Failures leave as
``BrokerError``, mapped once in ``accord.kafka``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from accord.envelope import Header
from accord.kafka import broker_errors
from accord.models import MAX_ACKNOWLEDGEMENTS, Acknowledgement
from accord.observability.trace import TraceContext, headers_with_trace
from accord.receipts.build import (
    Readers,
    ReceiptStatus,
    build_receipt,
    chunks,
    group_for_receipts,
    receipt_group,
)
from accord.trust import Signer


class RecordSink(Protocol):
    """What sending needs of a producer: aiokafka's ``send``, which queues a record
    and returns a future of its acknowledgement."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...


@dataclass(frozen=True, slots=True)
class Sent:
    acknowledged: list[Acknowledgement]
    """Every acknowledgement now in a receipt the broker has acknowledged."""
    receipts: int


def receipt_count(items: Iterable[tuple[Header, str]]) -> int:
    """How many receipts (hence sequence numbers) these pairs need.

    Counted from the headers alone: building the acknowledgements (a validated
    model each) is left to the send, which needs them.
    """
    sizes = Counter(receipt_group(header) for header, _ in items)
    return sum(-(-n // MAX_ACKNOWLEDGEMENTS) for n in sizes.values())


class ReceiptSender:
    """Signs and sends one node's receipts of one status to the receipts topic."""

    def __init__(
        self,
        *,
        topic: str,
        signer: Signer,
        status: ReceiptStatus,
        timeout_s: float,
        mirror: Callable[[Header], list[tuple[str, bytes]]] | None = None,
        enqueue: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self.topic = topic
        self._signer = signer
        self._status: ReceiptStatus = status
        self._timeout_s = timeout_s
        # The routing headers a publisher mirrors on everything it sends.
        self._mirror = mirror
        # A publisher's append lock, so receipts keep their sequence order on the wire.
        self._enqueue = enqueue or nullcontext

    async def send(
        self,
        producer: RecordSink,
        items: Iterable[tuple[Header, str]],
        next_sequence: Callable[[], int],
        traces: Mapping[tuple[str, str], TraceContext] | None = None,
        readers: Mapping[tuple[str, str], Readers] | None = None,
    ) -> Sent:
        """Sign and send receipts for (header, payload digest) pairs; wait for the acks.

        ``next_sequence`` numbers each receipt (a durable counter: a number is never
        reused, even when a send fails). Raises ``BrokerError`` when the broker
        refuses or does not acknowledge within the timeout.

        ``traces`` maps (sender, message_id) to the trace each message was handled
        in: a receipt's record carries a ``traceparent`` in the trace of the first
        message it acknowledges that has one (a receipt of one message: that
        message's trace). ``readers``: what a ``published`` announcement names of who
        reads each message (``group_for_receipts``).
        """
        acknowledged: list[Acknowledgement] = []
        futures = []
        with broker_errors(f"{self._status} receipts not acknowledged"):
            for (scope, area, namespace), acks in group_for_receipts(items, readers).items():
                for chunk in chunks(acks):
                    header, receipt = build_receipt(
                        chunk,
                        scope=scope,
                        area=area,
                        namespace=namespace,
                        signer=self._signer,
                        sequence=next_sequence(),
                        status=self._status,
                    )
                    headers = self._mirror(header) if self._mirror is not None else None
                    trace = _first_trace(chunk, traces)
                    if trace is not None:
                        headers = headers_with_trace(headers, trace.child())
                    async with self._enqueue():
                        futures.append(
                            await producer.send(
                                self.topic,
                                value=receipt,
                                key=self._signer.agency.encode(),
                                headers=headers,
                            )
                        )
                    acknowledged += chunk
            if futures:
                # Bounded: the brokers may be gone, and a node must go on (or stop).
                await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout_s)
        return Sent(acknowledged, len(futures))


def _first_trace(
    acks: Iterable[Acknowledgement], traces: Mapping[tuple[str, str], TraceContext] | None
) -> TraceContext | None:
    if not traces:
        return None
    for ack in acks:
        found = traces.get((ack.sender, str(ack.message_id)))
        if found is not None:
            return found
    return None
