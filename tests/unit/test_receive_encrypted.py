"""The batch step with envelope v2: verify, then decrypt; every failure quarantined with
its own code (SPEC.md ENC-04..ENC-08); the inbox stores the decrypted body."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _receive import (
    BI,
    NODE,
    SA,
    FakeRecord,
    context,
    pki,
    plaintext_plan,
    plan,
    records,
    sealed,
)

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    NotARecipient,
    recipient_agencies,
    resolve_recipients,
    sign_key_statement,
)
from accord.envelope import Header, seal
from accord.envelope.samples import SAMPLES
from accord.envelope.v2 import seal_encrypted
from accord.labels import scope_label
from accord.models import MessageBody, Retract, Supersede
from accord.plan import Plan
from accord.receiver.inbox import Inbox
from accord.receiver.step import Context, Outcome, step

SENDER = "AUS.DFAT"
SECRET = "Only the entitled agencies read this sentence."
ANNOUNCEMENTS: dict[bytes, bytes] = {}


@functools.cache
def keys() -> dict[str, EncryptionKeyPair]:
    return {a: EncryptionKeyPair.generate() for a in plan().agencies}


@functools.cache
def directory() -> KeyDirectory:
    d = KeyDirectory(pki().trust_store())
    for agency, key in keys().items():
        d.add(sign_key_statement(pki().signer(agency), key.public), now=datetime.now(UTC))
    return d


@functools.cache
def encryptor() -> ContentEncryptor:
    return ContentEncryptor(pki().signer(SENDER))


def encrypted(
    sequence: int,
    *,
    to: tuple[str, ...] | None = None,
    keyring: Keyring | None = None,
    body: MessageBody | None = None,
) -> tuple[Header, bytes]:
    """A v2 envelope from SENDER; its key announcement is opened by ``keyring``."""
    body = body or SAMPLES["accord.strategic-assessment.v1"].body.model_copy(
        update={"summary": SECRET}
    )
    header = Header.create(
        body.TYPE, sender=SENDER, scope=BI, area=SA, sequence=sequence, namespace=plan().namespace
    )
    label = scope_label(SENDER, BI, legal_basis="Test message under the originator's laws.")
    agencies = to or recipient_agencies(plan(), sender=SENDER, scope=BI, area=SA)
    recipients = resolve_recipients(agencies, directory(), now=datetime.now(UTC))
    cwk, announcement = encryptor().cwk_for(recipients)
    # The module shares one encryptor: each test's fresh keyring reads the CWK's
    # announcement even when an earlier test made it (as a node reads the trust topic).
    announcement = ANNOUNCEMENTS.setdefault(cwk.cwk_id, announcement or b"")
    if announcement and keyring is not None:
        # not-a-recipient: the keyring remembers it, so its bodies get that code
        with contextlib.suppress(NotARecipient):
            keyring.open(announcement, pki().trust_store(), now=datetime.now(UTC))
    return header, seal_encrypted(header, label, body, pki().signer(SENDER), cwk)


def run(batch: list[FakeRecord], inbox: Inbox, ctx: Context) -> Outcome:
    return step([batch], inbox, ctx, now=datetime.now(UTC))


def with_keyring(keyring: Keyring | None, the_plan: Plan | None = None) -> Context:
    return dataclasses.replace(context(), keyring=keyring, plan=the_plan or plan())


def requiring_encryption() -> Plan:
    p = plan()
    scopes = {s: sp.model_copy(update={"encryption": "required"}) for s, sp in p.scopes.items()}
    return p.model_copy(update={"scopes": scopes})


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    box = Inbox(tmp_path / "node" / "inbox.sqlite")
    yield box
    box.close()


def reasons(out: Outcome) -> list[tuple[str, str | None]]:
    return [(r.reason.value, r.rule) for _, r in out.quarantined]


def test_a_recipient_lands_the_decrypted_body(inbox: Inbox) -> None:
    keyring = Keyring(NODE, [keys()[NODE]])
    batch = records(encrypted(1, keyring=keyring), encrypted(2, keyring=keyring))
    assert all(SECRET.encode() not in r.value for r in batch if r.value)
    out = run(batch, inbox, with_keyring(keyring))
    assert reasons(out) == []
    assert len(out.deliveries) == 2
    delivery = out.deliveries[0]
    assert json.loads(delivery.payload)["body"]["summary"] == SECRET
    assert SECRET.encode() not in delivery.raw
    # receipts acknowledge the signed payload (the ciphertext), which every node can hash
    assert (
        delivery.payload_sha256 == out.accepted[delivery.sender, delivery.message_id].payload_sha256
    )
    landed = inbox.land(out.deliveries, out.offsets, out.status_changes).landed
    assert len(landed) == 2
    again = run(batch, inbox, with_keyring(keyring))
    assert len(again.duplicates) == 2


def test_a_node_without_keys_quarantines_v2_undecryptable(inbox: Inbox) -> None:
    out = run(records(encrypted(1)), inbox, with_keyring(None))
    assert reasons(out) == [("undecryptable", "ENC-05")]


def test_an_agency_left_off_the_recipients_cannot_decrypt(inbox: Inbox) -> None:
    keyring = Keyring(NODE, [keys()[NODE]])
    narrowed = encrypted(
        1, to=(SENDER, "JPN.MOD") if "JPN.MOD" in plan().agencies else (SENDER,), keyring=keyring
    )
    out = run(records(narrowed), inbox, with_keyring(keyring))
    assert reasons(out) == [("not-a-recipient", "ENC-05")]


def test_a_body_under_an_announcement_never_seen_is_undecryptable(inbox: Inbox) -> None:
    keyring = Keyring(NODE, [keys()[NODE]])
    fresh = ContentEncryptor(pki().signer(SENDER))
    recipients = resolve_recipients(
        recipient_agencies(plan(), sender=SENDER, scope=BI, area=SA),
        directory(),
        now=datetime.now(UTC),
    )
    cwk, _ = fresh.cwk_for(recipients)
    header, _ = sealed(SENDER, 1)
    label = scope_label(SENDER, BI, legal_basis="Test message under the originator's laws.")
    raw = seal_encrypted(
        header, label, SAMPLES["accord.strategic-assessment.v1"].body, pki().signer(SENDER), cwk
    )
    out = run(records((header, raw)), inbox, with_keyring(keyring))
    assert reasons(out) == [("undecryptable", "ENC-05")]


def test_a_node_requiring_encryption_quarantines_plaintext(inbox: Inbox) -> None:
    keyring = Keyring(NODE, [keys()[NODE]])
    out = run(records(sealed(SENDER, 1)), inbox, with_keyring(keyring, requiring_encryption()))
    assert reasons(out) == [("plaintext-refused", "ENC-04")]
    # optional / off: plaintext still lands
    out = run(records(sealed(SENDER, 1)), inbox, with_keyring(keyring, plaintext_plan()))
    assert reasons(out) == []


def test_rotating_the_receivers_key_mid_stream_loses_nothing(inbox: Inbox) -> None:
    old = EncryptionKeyPair.generate()
    keyring = Keyring(NODE, [old])
    d = directory()
    d.add(sign_key_statement(pki().signer(NODE), old.public), now=datetime.now(UTC))
    before = encrypted(1, keyring=keyring)
    new = EncryptionKeyPair.generate()
    keyring.add_key(new)
    d.add(sign_key_statement(pki().signer(NODE), new.public), now=datetime.now(UTC))
    after = encrypted(2, keyring=keyring)  # a new recipient set: a new CWK, to the new key
    out = run(records(before, after), inbox, with_keyring(keyring))
    assert reasons(out) == []
    assert len(out.deliveries) == 2
    # restore the module's key for the other tests
    d.add(sign_key_statement(pki().signer(NODE), keys()[NODE].public), now=datetime.now(UTC))


def test_an_encrypted_supersede_and_retract_change_the_original(inbox: Inbox) -> None:
    keyring = Keyring(NODE, [keys()[NODE]])
    first = encrypted(1, keyring=keyring)
    second = encrypted(2, keyring=keyring)
    out = run(records(first, second), inbox, with_keyring(keyring))
    inbox.land(out.deliveries, out.offsets, out.status_changes)
    supersede = Supersede(
        target_message_id=first[0].message_id,
        target_sender=SENDER,
        reason="Revised.",
        replacement_summary="A revised assessment.",
    )
    retract = Retract(
        target_message_id=second[0].message_id, target_sender=SENDER, reason="Withdrawn."
    )
    changes = run(
        records(
            encrypted(3, keyring=keyring, body=supersede),
            encrypted(4, keyring=keyring, body=retract),
            start=2,
        ),
        inbox,
        with_keyring(keyring),
    )
    assert reasons(changes) == []
    assert sorted((c.message_id, c.status) for c in changes.status_changes) == sorted(
        [(str(first[0].message_id), "superseded"), (str(second[0].message_id), "retracted")]
    )


def test_a_node_left_off_the_need_to_know_list_quarantines_plaintext_too(inbox: Inbox) -> None:
    """ENC-09 reads the verified label: a v1 record whose list leaves this agency out is
    not-a-recipient on any node of it, with keys or without; a listed node lands it."""

    def listing(*agencies: str) -> tuple[Header, bytes]:
        header, _ = sealed(SENDER, 1)
        label = scope_label(
            SENDER,
            BI,
            legal_basis="Test message under the originator's laws.",
            need_to_know=agencies,
        )
        body = SAMPLES["accord.strategic-assessment.v1"].body
        return header, seal(header, label, body, pki().signer(SENDER))

    off = dataclasses.replace(context(), plan=plaintext_plan(), agency=NODE)
    assert reasons(run(records(listing("AUS.ASIO")), inbox, off)) == [("not-a-recipient", "ENC-09")]
    keyring = Keyring(NODE, [keys()[NODE]])
    keyed = with_keyring(keyring, plaintext_plan())  # the reader is the keyring's agency
    assert reasons(run(records(listing("AUS.ASIO")), inbox, keyed)) == [
        ("not-a-recipient", "ENC-09")
    ]
    out = run(records(listing(NODE)), inbox, off)
    assert reasons(out) == []
    assert len(out.deliveries) == 1
