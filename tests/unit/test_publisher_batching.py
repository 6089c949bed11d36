"""The publisher's send batcher and batched signing, through an in-memory producer:
records of one batch share one signed root and each verifies alone; a scope that
signs per message gets its own signature per record; sequence numbers follow the
order of the calls; a batch closes by time when nothing more comes; a refusal
stays out of the batch; encrypted records batch too; numbers survive a restart."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _receive import BI, SA, MemoryProducer, RecordMetadata, pki, plan, published_receipts
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from test_publisher import oversized

from accord.bench.sink import MemoryBatch
from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    SenderEncryption,
    sign_key_statement,
)
from accord.config import KafkaConnection
from accord.envelope import Verified, verify
from accord.envelope.batch import RootCache
from accord.envelope.jws import Sealed
from accord.envelope.samples import SAMPLES
from accord.envelope.v2 import open_sealed, verify_sealed
from accord.errors import PublishError, ReasonCode, Refused
from accord.labels import scope_label
from accord.plan import Plan
from accord.publisher import Publisher

SENDER = "JPN.MOFA"
BODY = SAMPLES["accord.strategic-assessment.v1"].body
LABEL = scope_label(SENDER, BI, legal_basis="Test message under the originator's laws.")


def with_scopes(**update: str) -> Plan:
    p = plan()
    scopes = {s: sp.model_copy(update=update) for s, sp in p.scopes.items()}
    return p.model_copy(update={"scopes": scopes})


def make(
    tmp_path: Path,
    producer: MemoryProducer,
    *,
    signing: str = "batched",
    encryption: SenderEncryption | None = None,
    **options: Any,
) -> Publisher:
    # v1 records unless the test brings keys (the deployed plan requires encryption)
    mode = {"encryption": "required" if encryption is not None else "off"}
    return Publisher(
        agency=SENDER,
        connection=KafkaConnection(),
        plan=with_scopes(signing=signing, **mode),
        signer=pki().signer(SENDER),
        state_path=tmp_path / "publisher.sqlite",
        producer=producer,  # type: ignore[arg-type]
        encryption=encryption,
        **{"announce": False, "retry_deadline_s": 0.3, **options},
    )


def elements(producer: MemoryProducer) -> Iterator[dict[str, Any]]:
    """The first signature element of every message record sent (CWK announcements and
    other topics aside)."""
    for topic, value, _key, _headers in producer.sent:
        if topic == plan().exchange_topic(BI, SA):
            assert value is not None
            yield json.loads(value)["signatures"][0]


def verified(record: bytes) -> Verified:
    verdict = verify(record, pki().trust_store(), topic=plan().exchange_topic(BI, SA))
    assert isinstance(verdict, Verified), verdict
    return verdict


async def test_records_of_one_batch_share_one_root_and_each_verifies_alone(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=0.05) as pub:
        results = await pub.publish_many([BODY] * 5, scope=BI, area=SA, label=LABEL)
    batched = [e["batch"] for e in elements(producer)]
    assert len({b["root"] for b in batched}) == 1  # one signature for the five
    assert [b["index"] for b in batched] == [0, 1, 2, 3, 4]
    assert all("signature" not in e for e in elements(producer))
    # Each record alone, with no cache of verified roots: every rule runs for it.
    assert [verified(r.envelope).header.sequence for r in results] == [1, 2, 3, 4, 5]
    assert [r.envelope for r in results] == [v for _, v, _, _ in producer.sent]


async def test_a_verifier_with_a_root_cache_accepts_every_record_of_the_batch(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=0.05) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    roots = RootCache()
    topic = plan().exchange_topic(BI, SA)
    verdicts = [verify(r.envelope, pki().trust_store(), topic=topic, roots=roots) for r in results]
    assert all(isinstance(v, Verified) for v in verdicts)
    assert len(roots) == 1


async def test_a_scope_that_signs_per_message_gives_each_record_its_own_signature(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, signing="per-message", linger_s=0.05) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
        single = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    found = list(elements(producer))
    assert all("batch" not in e for e in found)
    assert len({e["signature"] for e in found}) == 4
    assert [verified(r.envelope).header.sequence for r in (*results, single)] == [1, 2, 3, 4]


async def test_seal_stays_per_message_in_a_batched_scope(tmp_path: Path) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer) as pub:
        header, envelope = pub.seal(BODY, scope=BI, area=SA, label=LABEL)
        sent = await pub.send(header, envelope)
    (element,) = elements(producer)
    assert "signature" in element
    assert sent.envelope == envelope
    assert verified(envelope).header.message_id == header.message_id


async def test_concurrent_publishes_keep_the_order_of_the_calls(tmp_path: Path) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, batch_max=64, linger_s=0.0) as pub:
        calls = [pub.publish(BODY, scope=BI, area=SA, label=LABEL) for _ in range(300)]
        results = await asyncio.gather(*calls)
    assert [r.sequence for r in results] == list(range(1, 301))
    sent = [json.loads(v)["payload"] for _, v, _, _ in producer.sent if v is not None]
    assert [r.envelope for r in results] == [v for _, v, _, _ in producer.sent]
    assert len(sent) == 300
    roots = [e["batch"]["root"] for e in elements(producer)]
    sizes = [roots.count(root) for root in dict.fromkeys(roots)]
    assert sum(sizes) == 300
    assert max(sizes) <= 64  # batches close at batch_max
    assert len(sizes) >= 5
    # Every batch's indexes are 0..n-1 in the order the records went out.
    for root, size in zip(dict.fromkeys(roots), sizes, strict=True):
        indexes = [e["batch"]["index"] for e in elements(producer) if e["batch"]["root"] == root]
        assert indexes == list(range(size))


async def test_a_batch_closes_by_time_when_nothing_more_comes(tmp_path: Path) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, batch_max=256, linger_s=0.005) as pub:
        first = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
        second = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    batches = [e["batch"] for e in elements(producer)]
    # Each publish returned with its batch far from full: each batch closed by time.
    assert [b["index"] for b in batches] == [0, 0]
    assert batches[0]["root"] != batches[1]["root"]
    statements = [_statement(b["root"]) for b in batches]
    assert [s["tree_size"] for s in statements] == [1, 1]
    assert (first.sequence, second.sequence) == (1, 2)


async def test_a_refused_message_stays_out_of_its_batch(tmp_path: Path) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=0.05) as pub:
        outcomes = await asyncio.gather(
            pub.publish(BODY, scope=BI, area=SA, label=LABEL),
            pub.publish(oversized(), scope=BI, area=SA, label=LABEL),
            pub.publish(BODY, scope=BI, area=SA, label=LABEL),
            return_exceptions=True,
        )
    ok1, refused, ok2 = outcomes
    assert isinstance(refused, Refused)
    assert refused.reason is ReasonCode.OVERSIZED
    assert not isinstance(ok1, BaseException)
    assert not isinstance(ok2, BaseException)
    assert (ok1.sequence, ok2.sequence) == (1, 2)  # no hole: receivers see no false gap
    batches = [e["batch"] for e in elements(producer)]
    assert len(batches) == 2
    assert batches[0]["root"] == batches[1]["root"]


async def test_publish_many_sends_what_precedes_a_refusal_then_raises_it(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=0.0) as pub:
        with pytest.raises(Refused) as refused:
            await pub.publish_many([BODY, oversized(), BODY], scope=BI, area=SA, label=LABEL)
        after = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    assert refused.value.reason is ReasonCode.OVERSIZED
    assert [verified(v).header.sequence for _, v, _, _ in producer.sent if v] == [1, 2]
    assert after.sequence == 2


async def test_a_broker_that_never_acknowledges_fails_every_caller_of_the_batch(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer(fail=KafkaConnectionError("no broker"))
    async with make(tmp_path, producer, linger_s=0.05) as pub:
        outcomes = await asyncio.gather(
            *(pub.publish(BODY, scope=BI, area=SA, label=LABEL) for _ in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(o, PublishError) for o in outcomes)
        # Each record was retried with its very same bytes, none acknowledged.
        assert len({v for _, v, _, _ in producer.sent}) == 3
        first = dict(producer.sent[0][3])["accord-message-id"].decode()
        assert pub.sent_envelope(first) == producer.sent[0][1]  # logged before sending


async def test_stop_gives_up_on_unacknowledged_records_and_their_callers_hear_it(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer(ack=False)
    pub = make(tmp_path, producer, linger_s=0.0, retry_deadline_s=600.0, close_timeout_s=0.1)
    await pub.start()
    waiting = asyncio.create_task(pub.publish(BODY, scope=BI, area=SA, label=LABEL))
    await asyncio.sleep(0)  # the publish queues its record
    await pub.stop()  # sends what is queued; waits close_timeout_s, not the retry deadline
    assert len(producer.sent) == 1
    with pytest.raises(PublishError, match="stopped before the broker acknowledged"):
        await waiting


async def test_numbers_another_process_took_meanwhile_are_never_sent_twice(
    tmp_path: Path,
) -> None:
    held, other = HeldProducer(), MemoryProducer()
    # Two publishers on one state file: a node and `accord publish` beside it.
    async with (
        make(tmp_path, held, linger_s=1.0) as node,
        make(tmp_path, other, linger_s=0.0) as cli,
    ):
        in_flight = asyncio.create_task(node.publish(BODY, scope=BI, area=SA, label=LABEL))
        await held.until_sent(1)  # number 1, durably taken; its ack is held
        waiting = asyncio.create_task(node.publish(BODY, scope=BI, area=SA, label=LABEL))
        await asyncio.sleep(0)  # numbered 2 and queued; its batch lingers behind the first
        taken = await cli.publish(BODY, scope=BI, area=SA, label=LABEL)
        held.release()
        assert (await in_flight).sequence == 1
        with pytest.raises(PublishError, match="taken by another publisher"):
            await waiting
        again = await node.publish(BODY, scope=BI, area=SA, label=LABEL)
    assert (taken.sequence, again.sequence) == (2, 3)
    assert [verified(v).header.sequence for _, v, _, _ in held.sent if v] == [1, 3]
    assert [verified(v).header.sequence for _, v, _, _ in other.sent if v] == [2]


async def test_a_message_to_an_idle_publisher_does_not_wait_out_the_linger(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=1.0) as pub:
        # Nothing in flight: the batch closes at once, not after linger_s.
        result = await asyncio.wait_for(
            pub.publish(BODY, scope=BI, area=SA, label=LABEL), timeout=0.5
        )
    assert result.sequence == 1


async def test_records_that_arrive_while_a_batch_is_in_flight_go_out_together(
    tmp_path: Path,
) -> None:
    held = HeldProducer()
    async with make(tmp_path, held, linger_s=1.0) as pub:
        first = asyncio.create_task(pub.publish(BODY, scope=BI, area=SA, label=LABEL))
        await held.until_sent(1)
        more = [
            asyncio.create_task(pub.publish(BODY, scope=BI, area=SA, label=LABEL)) for _ in range(3)
        ]
        await asyncio.sleep(0.05)
        assert len(held.sent) == 1  # the three wait for the first batch's ack
        held.release()  # acked: the next batch closes at once (well before linger_s)
        results = await asyncio.wait_for(asyncio.gather(first, *more), timeout=0.5)
    assert [r.sequence for r in results] == [1, 2, 3, 4]
    roots = [e["batch"]["root"] for e in elements(held)]
    assert roots[0] != roots[1]
    assert roots[1] == roots[2] == roots[3]  # one batch, one signature


async def test_publish_many_waits_for_every_record_and_a_cancelled_caller_cancels_none(
    tmp_path: Path,
) -> None:
    held = HeldProducer()
    async with make(tmp_path, held, linger_s=0.0, batch_max=2) as pub:
        # Five records in three batches of at most two, acknowledged only on release.
        many = asyncio.create_task(pub.publish_many([BODY] * 5, scope=BI, area=SA, label=LABEL))
        await held.until_sent(2)
        await asyncio.sleep(0.05)
        assert not many.done()  # the first batch's records are not acknowledged yet
        many.cancel()
        with pytest.raises(asyncio.CancelledError):
            await many
        held.release()  # the records go on: the caller's cancellation cancelled none
        await held.until_sent(5)
        again = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    assert [r.sequence for r in again] == [6, 7, 8]
    assert [verified(v).header.sequence for _, v, _, _ in held.sent if v] == list(range(1, 9))


@dataclass
class HeldProducer(MemoryProducer):
    """Acknowledges nothing until ``release()``; then everything, at once and after."""

    ack: bool = False
    pending: list[tuple[asyncio.Future[Any], RecordMetadata]] = field(default_factory=list)
    grew: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, topic: str, value: bytes | None = None, **kwargs: Any) -> Any:
        future = await super().send(topic, value, **kwargs)  # acked there once released
        if not self.ack:
            self.pending.append((future, RecordMetadata(topic, 0, len(self.sent) - 1)))
        self.grew.set()
        return future

    async def send_batch(self, batch: MemoryBatch, topic: str, *, partition: int) -> Any:
        future = await super().send_batch(batch, topic, partition=partition)
        if not self.ack:
            first = len(self.sent) - len(batch.records)
            self.pending.append((future, RecordMetadata(topic, partition, first)))
        self.grew.set()
        return future

    def release(self) -> None:
        self.ack = True
        for future, meta in self.pending:
            future.set_result(meta)

    async def until_sent(self, n: int) -> None:
        while len(self.sent) < n:
            self.grew.clear()
            await self.grew.wait()


async def test_sequence_numbers_and_the_sent_log_survive_a_restart(tmp_path: Path) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, linger_s=0.0) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    async with make(tmp_path, producer, linger_s=0.0) as pub:
        after = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
        logged = [pub.sent_envelope(r.message_id) for r in results]
    assert after.sequence == 4
    assert logged == [r.envelope for r in results]


@functools.cache
def keys() -> dict[str, EncryptionKeyPair]:
    return {a: EncryptionKeyPair.generate() for a in plan().agencies}


def encryption() -> SenderEncryption:
    directory = KeyDirectory(pki().trust_store())
    for agency, key in keys().items():
        directory.add(sign_key_statement(pki().signer(agency), key.public), now=datetime.now(UTC))
    return SenderEncryption(
        directory, ContentEncryptor(pki().signer(SENDER)), Keyring(SENDER, [keys()[SENDER]])
    )


async def test_encrypted_records_batch_too(tmp_path: Path) -> None:
    producer = MemoryProducer()
    sender = encryption()
    async with make(tmp_path, producer, encryption=sender, linger_s=0.05) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    batches = [e["batch"] for e in elements(producer)]
    assert len(batches) == 3
    assert len({b["root"] for b in batches}) == 1  # the tree covers the encrypted records
    topic = plan().exchange_topic(BI, SA)
    for result in results:
        sealed = verify_sealed(result.envelope, pki().trust_store(), topic=topic)
        assert isinstance(sealed, Sealed), sealed
        assert open_sealed(sealed, sender.keyring).body == BODY


def _statement(root: str) -> dict[str, Any]:
    part = root.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.parametrize(("batch_max", "linger_s"), [(0, 0.005), (256, -1.0), (256, 2.0)])
def test_batch_settings_out_of_range_are_refused(
    tmp_path: Path, batch_max: int, linger_s: float
) -> None:
    with pytest.raises(ValueError, match="batch_max"):
        make(tmp_path, MemoryProducer(), batch_max=batch_max, linger_s=linger_s)


async def test_a_steady_trickle_is_announced_in_batches_not_one_receipt_a_message(
    tmp_path: Path,
) -> None:
    # Issue 16: each announcement waits for its ack; what arrived meanwhile used to go
    # at once, so at a few hundred messages a second nearly every message was a signed
    # announcement of its own. Now the next batch is gathered as the first was.
    producer = MemoryProducer(ack_after_s=0.004)
    count = 60
    async with make(tmp_path, producer, announce=True) as pub:
        publishes = []
        for _ in range(count):  # paced as the bench paces: one publish every 2 ms
            publishes.append(asyncio.create_task(pub.publish(BODY, scope=BI, area=SA, label=LABEL)))
            await asyncio.sleep(0.002)
        await asyncio.gather(*publishes)
    announced = list(published_receipts(producer))  # each verified, status published
    # every message announced once, in receipts that each carry many
    acks = [a for r in announced for a in r.acknowledgements]
    assert len(acks) == count
    assert len({a.message_id for a in acks}) == count
    # ~0.15 s of publishing at one flush per 50 ms: about 4, with room for a slow
    # machine; before, a receipt for every message or two (a flush per 4 ms ack).
    assert len(announced) <= 8, len(announced)


# -- record batches of the publisher's making (aiokafka's batch interface) ----------------


async def test_a_full_record_batch_is_sent_and_the_rest_go_in_the_next_offsets_in_order(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer(batch_records=3)
    async with make(tmp_path, producer, linger_s=0.05) as pub:
        results = await pub.publish_many([BODY] * 7, scope=BI, area=SA, label=LABEL)
    assert producer.batches == [[0, 1, 2], [3, 4, 5], [6]]  # one signing batch, 3 sends
    # Each record's offset is its record batch's first offset plus its index in it:
    # here, where the producer put it.
    assert [r.offset for r in results] == [0, 1, 2, 3, 4, 5, 6]
    assert [r.envelope for r in results] == [v for _, v, _, _ in producer.sent]
    assert [r.sequence for r in results] == [1, 2, 3, 4, 5, 6, 7]


@dataclass
class RefusingBatches(MemoryProducer):
    """Refuses every record batch at submission (e.g. no room before the producer's
    timeout); single records are taken."""

    refused: int = 0

    async def send_batch(self, batch: MemoryBatch, topic: str, *, partition: int) -> Any:
        self.refused += 1
        raise KafkaTimeoutError()


async def test_a_record_batch_the_producer_refuses_is_sent_again_record_by_record(
    tmp_path: Path,
) -> None:
    producer = RefusingBatches()
    async with make(tmp_path, producer, linger_s=0.05, retry_deadline_s=5.0) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    assert producer.refused == 1
    assert producer.batches == []
    assert sorted(r.envelope for r in results) == sorted(v for _, v, _, _ in producer.sent)
    assert [r.sequence for r in results] == [1, 2, 3]


@dataclass
class NoMetadata(MemoryProducer):
    """Cannot tell a topic's partitions (aiokafka's metadata wait timed out); single
    records are taken."""

    asked: int = 0

    async def partitions_for(self, topic: str) -> set[int]:
        self.asked += 1
        raise KafkaTimeoutError()


async def test_records_whose_partitions_are_unknown_are_sent_again_record_by_record(
    tmp_path: Path,
) -> None:
    producer = NoMetadata()
    async with make(tmp_path, producer, linger_s=0.05, retry_deadline_s=5.0) as pub:
        results = await pub.publish_many([BODY] * 3, scope=BI, area=SA, label=LABEL)
    assert producer.asked == 1  # once for the batch's one topic
    assert producer.batches == []
    assert sorted(r.envelope for r in results) == sorted(v for _, v, _, _ in producer.sent)


async def test_a_record_that_cannot_be_placed_nor_sent_fails_with_a_publish_error(
    tmp_path: Path,
) -> None:
    producer = NoMetadata(fail=KafkaTimeoutError())  # single sends fail too
    async with make(tmp_path, producer, linger_s=0.05, retry_deadline_s=0.3) as pub:
        with pytest.raises(PublishError) as failed:
            await pub.publish_many([BODY] * 2, scope=BI, area=SA, label=LABEL)
    assert isinstance(failed.value.__cause__, KafkaTimeoutError)
