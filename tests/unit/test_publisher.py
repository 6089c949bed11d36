"""The publisher's refusals and releases through an in-memory producer (issue 9, item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _receive import BI, SA, MemoryProducer, pki, plaintext_plan
from aiokafka.errors import KafkaConnectionError

from accord.config import KafkaConnection
from accord.envelope.samples import SAMPLES
from accord.errors import PublishError, ReasonCode, Refused
from accord.labels import scope_label
from accord.models import MessageBody
from accord.publisher import Publisher

SENDER = "JPN.MOFA"
BODY = SAMPLES["accord.strategic-assessment.v1"].body
LABEL = scope_label(SENDER, BI, legal_basis="Test message under the originator's laws.")


def oversized() -> MessageBody:
    """Schema-valid and about 1.6 MiB once sealed: 4-byte characters at every length limit."""
    kj, src = BODY.key_judgments[0], BODY.sources[0]  # type: ignore[attr-defined]
    big = BODY.model_copy(
        update={
            "key_judgments": tuple(
                kj.model_copy(update={"statement": "😀" * 2000}) for _ in range(50)
            ),
            "sources": tuple(
                src.model_copy(update={"description": "😀" * 2000}) for _ in range(100)
            ),
        }
    )
    return type(BODY).model_validate_json(big.model_dump_json())


@pytest.fixture
async def producer() -> MemoryProducer:
    return MemoryProducer()


@pytest.fixture
async def publisher(tmp_path: Path, producer: MemoryProducer) -> AsyncIterator[Publisher]:
    pub = Publisher(
        agency=SENDER,
        connection=KafkaConnection(),
        plan=plaintext_plan(),  # sequencing and releases of v1 envelopes
        signer=pki().signer(SENDER),
        state_path=tmp_path / "publisher.sqlite",
        producer=producer,
        announce=False,
        retry_deadline_s=0.3,
    )  # type: ignore[arg-type]
    async with pub:
        yield pub


async def publish(pub: Publisher, body: MessageBody = BODY) -> int:
    return (await pub.publish(body, scope=BI, area=SA, label=LABEL)).sequence


async def test_an_oversized_message_is_refused_before_sending_and_takes_no_sequence(
    publisher: Publisher,
    producer: MemoryProducer,
) -> None:
    assert await publish(publisher) == 1
    with pytest.raises(Refused) as refused:
        await publish(publisher, oversized())
    assert refused.value.reason is ReasonCode.OVERSIZED
    assert "attachments by reference" in (refused.value.hint or "")
    assert len(producer.sent) == 1  # nothing sent
    assert await publish(publisher) == 2  # no hole in the stream: no false gap


async def test_a_second_release_returns_the_first_copy(
    publisher: Publisher,
    producer: MemoryProducer,
) -> None:
    original = await publisher.publish(BODY, scope=BI, area=SA, label=LABEL)
    first = await publisher.release_trilateral(original.message_id, pki().trust_store())
    second = await publisher.release_trilateral(original.message_id, pki().trust_store())
    assert second == first
    assert len(producer.sent) == 2  # the original and one copy


async def test_a_message_the_broker_never_acknowledged_is_not_released(
    publisher: Publisher,
    producer: MemoryProducer,
) -> None:
    producer.fail = KafkaConnectionError("no broker")
    with pytest.raises(PublishError):
        await publisher.publish(BODY, scope=BI, area=SA, label=LABEL)
    failed = _message_id(producer)
    producer.fail = None
    with pytest.raises(PublishError, match="never acknowledged"):
        await publisher.release_trilateral(failed, pki().trust_store())


async def test_a_release_whose_send_failed_is_sent_again_with_the_same_bytes(
    publisher: Publisher,
    producer: MemoryProducer,
) -> None:
    original = await publisher.publish(BODY, scope=BI, area=SA, label=LABEL)
    producer.fail = KafkaConnectionError("no broker")
    with pytest.raises(PublishError):
        await publisher.release_trilateral(original.message_id, pki().trust_store())
    producer.fail = None
    retried = await publisher.release_trilateral(original.message_id, pki().trust_store())
    copies = {value for topic, value, _, _ in producer.sent[1:]}
    assert len(copies) == 1  # every attempt, the very same signed bytes
    assert retried.envelope in copies


def _message_id(producer: MemoryProducer) -> str:
    headers = dict(producer.sent[0][3])
    return headers["accord-message-id"].decode()
