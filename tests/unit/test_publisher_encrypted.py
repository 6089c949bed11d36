"""The publisher with encryption (envelope v2) through an in-memory producer: the CWK
announcement goes first, the body is ciphertext, release re-encrypts to the
trilateral recipients, a rotated key stops being a recipient at once, and a scope
that requires encryption refuses to publish without keys."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _receive import BI, SA, MemoryProducer, pki, plan

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    SenderEncryption,
    sign_key_statement,
)
from accord.confidentiality.keys import EncryptionPublicKey
from accord.confidentiality.wrap import ANNOUNCEMENT_TYP
from accord.config import KafkaConnection
from accord.envelope.jws import Sealed
from accord.envelope.samples import SAMPLES
from accord.envelope.v2 import open_sealed, verify_sealed
from accord.errors import ReasonCode, Refused
from accord.labels import scope_label
from accord.parties import Scope
from accord.plan import Plan
from accord.publisher import Publisher

SENDER = "JPN.MOFA"
SECRET = "Nothing of this sentence reaches the broker in clear."
BODY = SAMPLES["accord.strategic-assessment.v1"].body.model_copy(update={"summary": SECRET})
LABEL = scope_label(SENDER, BI, legal_basis="Test message under the originator's laws.")


@functools.cache
def keys() -> dict[str, EncryptionKeyPair]:
    return {a: EncryptionKeyPair.generate() for a in plan().agencies}


def directory() -> KeyDirectory:
    d = KeyDirectory(pki().trust_store())
    for agency, key in keys().items():
        d.add(sign_key_statement(pki().signer(agency), key.public), now=datetime.now(UTC))
    return d


def requiring(mode: str) -> Plan:
    p = plan()
    scopes = {s: sp.model_copy(update={"encryption": mode}) for s, sp in p.scopes.items()}
    return p.model_copy(update={"scopes": scopes})


def make(
    tmp_path: Path,
    producer: MemoryProducer,
    *,
    encryption: SenderEncryption | None,
    mode: str = "required",
) -> Publisher:
    return Publisher(
        agency=SENDER,
        connection=KafkaConnection(),
        plan=requiring(mode),
        signer=pki().signer(SENDER),
        state_path=tmp_path / "publisher.sqlite",
        producer=producer,
        announce=False,
        retry_deadline_s=0.3,  # type: ignore[arg-type]
        encryption=encryption,
    )


@pytest.fixture
def encryption() -> SenderEncryption:
    return SenderEncryption(
        directory(), ContentEncryptor(pki().signer(SENDER)), Keyring(SENDER, [keys()[SENDER]])
    )


@pytest.fixture
async def publisher(
    tmp_path: Path, encryption: SenderEncryption
) -> AsyncIterator[tuple[Publisher, MemoryProducer]]:
    producer = MemoryProducer()
    async with make(tmp_path, producer, encryption=encryption) as pub:
        yield pub, producer


def _typ(value: bytes | None) -> str | None:
    assert value is not None
    head = value.split(b".")[0]
    try:
        return str(json.loads(base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4)))["typ"])
    except ValueError:
        return None


async def test_the_announcement_goes_first_and_the_body_is_ciphertext(
    publisher: tuple[Publisher, MemoryProducer],
) -> None:
    pub, producer = publisher
    await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    topics = [topic for topic, *_ in producer.sent]
    assert topics == [
        plan().keys_topic(SENDER),
        plan().exchange_topic(BI, SA),
        plan().exchange_topic(BI, SA),
    ]  # one CWK for both messages
    assert _typ(producer.sent[0][1]) == ANNOUNCEMENT_TYP
    for _, value, *_ in producer.sent:
        assert value is not None
        assert SECRET.encode() not in value
    # a recipient opens it
    reader = Keyring("AUS.DFAT", [keys()["AUS.DFAT"]])
    reader.open(producer.sent[0][1] or b"", pki().trust_store(), now=datetime.now(UTC))
    sealed = verify_sealed(producer.sent[1][1] or b"", pki().trust_store())
    assert isinstance(sealed, Sealed)
    assert open_sealed(sealed, reader).body == BODY


async def test_a_release_re_encrypts_to_the_trilateral_recipients(
    publisher: tuple[Publisher, MemoryProducer],
) -> None:
    pub, producer = publisher
    original = await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    await pub.release_trilateral(original.message_id, pki().trust_store())
    announcements = [v for t, v, *_ in producer.sent if t == plan().keys_topic(SENDER)]
    assert len(announcements) == 2  # bilateral CWK, then a trilateral one
    usa = Keyring("USA.STATE", [keys()["USA.STATE"]])
    with pytest.raises(Refused):
        usa.open(announcements[0] or b"", pki().trust_store(), now=datetime.now(UTC))
    usa.open(announcements[1] or b"", pki().trust_store(), now=datetime.now(UTC))
    released = verify_sealed(producer.sent[-1][1] or b"", pki().trust_store())
    assert isinstance(released, Sealed)
    assert released.header.scope is Scope.TRILATERAL
    assert open_sealed(released, usa).body.summary == SECRET  # type: ignore[attr-defined]
    original_sealed = verify_sealed(producer.sent[1][1] or b"", pki().trust_store())
    assert isinstance(original_sealed, Sealed)
    with pytest.raises(Refused) as bilateral:
        open_sealed(original_sealed, usa)
    assert bilateral.value.reason is ReasonCode.NOT_A_RECIPIENT


async def test_a_rotated_key_stops_being_a_recipient_at_once(
    publisher: tuple[Publisher, MemoryProducer],
    encryption: SenderEncryption,
) -> None:
    pub, producer = publisher
    await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    new = EncryptionKeyPair.generate()
    encryption.directory.add(
        sign_key_statement(pki().signer("AUS.DFAT"), new.public), now=datetime.now(UTC)
    )
    await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    announcements = [v or b"" for t, v, *_ in producer.sent if t == plan().keys_topic(SENDER)]
    assert len(announcements) == 2  # a new epoch for the new recipient set
    old_only = Keyring("AUS.DFAT", [keys()["AUS.DFAT"]])
    with pytest.raises(Refused) as refused:
        old_only.open(announcements[1], pki().trust_store(), now=datetime.now(UTC))
    assert refused.value.reason is ReasonCode.UNDECRYPTABLE
    Keyring("AUS.DFAT", [new]).open(announcements[1], pki().trust_store(), now=datetime.now(UTC))


async def test_a_required_scope_without_keys_refuses_and_optional_sends_plaintext(
    tmp_path: Path,
) -> None:
    producer = MemoryProducer()
    async with make(tmp_path, producer, encryption=None) as pub:
        with pytest.raises(Refused) as refused:
            await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    assert refused.value.reason is ReasonCode.PLAINTEXT_REFUSED
    assert producer.sent == []
    async with make(tmp_path / "optional", producer, encryption=None, mode="optional") as pub:
        await pub.publish(BODY, scope=BI, area=SA, label=LABEL)
    assert len(producer.sent) == 1


async def test_publish_many_resolves_each_key_once_per_call_and_a_rotation_between_calls_counts(
    publisher: tuple[Publisher, MemoryProducer],
    encryption: SenderEncryption,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pub, producer = publisher
    looked_up: list[str] = []
    current = encryption.directory.current

    def counted(agency: str, *, now: datetime) -> EncryptionPublicKey | None:
        looked_up.append(agency)
        return current(agency, now=now)

    monkeypatch.setattr(encryption.directory, "current", counted)
    await pub.publish_many([BODY] * 5, scope=BI, area=SA, label=LABEL)
    recipients = sorted(set(looked_up))
    assert sorted(looked_up) == recipients  # each agency once for the five messages
    assert "AUS.DFAT" in recipients
    new = EncryptionKeyPair.generate()
    encryption.directory.add(
        sign_key_statement(pki().signer("AUS.DFAT"), new.public), now=datetime.now(UTC)
    )
    await pub.publish_many([BODY] * 2, scope=BI, area=SA, label=LABEL)
    assert len(looked_up) == 2 * len(recipients)  # resolved again by the next call
    announcements = [v or b"" for t, v, *_ in producer.sent if t == plan().keys_topic(SENDER)]
    assert len(announcements) == 2  # and its messages went to the rotated key
    Keyring("AUS.DFAT", [new]).open(announcements[1], pki().trust_store(), now=datetime.now(UTC))
