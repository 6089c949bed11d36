"""The batch step without a broker: ownership, dedupe, order, sequences, reason codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _receive import FakeRecord, context, records, retract, run, sealed, supersede

from accord.envelope import envelope_payload_sha256
from accord.errors import ReasonCode
from accord.receiver.inbox import Inbox, StatusChange
from accord.receiver.step import step


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    box = Inbox(tmp_path / "node" / "inbox.sqlite")
    yield box
    box.close()


def land(inbox: Inbox, batch: list[FakeRecord]) -> list[tuple[str, str]]:
    out = run(batch, inbox)
    landed = inbox.land(out.deliveries, out.offsets, out.status_changes).landed
    return landed


def reasons(batch: list[FakeRecord], inbox: Inbox) -> list[str]:
    return [r.reason.value for _, r in run(batch, inbox).quarantined]


def test_valid_messages_are_delivered_in_record_order_with_next_offsets(inbox: Inbox) -> None:
    msgs = [sealed("AUS.DFAT", n) for n in (1, 2, 3)]
    out = run(records(*msgs, start=7), inbox)
    assert [d.message_id for d in out.deliveries] == [str(h.message_id) for h, _ in msgs]
    assert out.quarantined == []
    assert out.gaps == []
    assert out.duplicates == []
    assert out.offsets == {(msgs[0][0].topic, 0): 10}
    assert [h.sequence for h, _ in out.receipt_items()] == [1, 2, 3]


def test_a_duplicate_in_the_batch_or_the_inbox_is_delivered_once(inbox: Inbox) -> None:
    msg = sealed("AUS.DFAT", 1)
    out = run(records(msg, msg), inbox)
    assert len(out.deliveries) == 1
    assert len(out.duplicates) == 1
    inbox.land(out.deliveries, out.offsets)
    again = run(records(msg, start=2), inbox)
    assert again.deliveries == []
    assert len(again.duplicates) == 1


def test_the_same_id_from_the_same_sender_with_other_content_is_a_replay(inbox: Inbox) -> None:
    first = sealed("AUS.DFAT", 1)
    other = sealed("AUS.DFAT", 2, message_id=first[0].message_id)
    assert reasons(records(first, other), inbox) == ["replay"]
    land(inbox, records(first))
    assert reasons(records(other, start=1), inbox) == ["replay"]


@pytest.mark.parametrize("squatter_first", [True, False], ids=["squatter-first", "genuine-first"])
def test_another_agency_reusing_an_id_neither_blocks_nor_replaces_the_genuine(
    inbox: Inbox,
    squatter_first: bool,
) -> None:
    genuine = sealed("AUS.DFAT", 1)
    squat = sealed("JPN.MOD", 1, message_id=genuine[0].message_id)
    order = (squat, genuine) if squatter_first else (genuine, squat)
    landed = land(inbox, records(*order))
    mid = str(genuine[0].message_id)
    assert sorted(landed) == [("AUS.DFAT", mid), ("JPN.MOD", mid)]
    stored = inbox.get(mid, sender="AUS.DFAT")
    assert stored is not None
    assert stored.payload_sha256 == genuine_digest(inbox, genuine)
    assert inbox.senders_of(mid) == {"AUS.DFAT", "JPN.MOD"}


def genuine_digest(inbox: Inbox, msg: tuple[object, bytes]) -> str:
    return envelope_payload_sha256(msg[1])


def test_a_squatter_processed_first_across_batches_does_not_make_the_genuine_a_replay(
    inbox: Inbox,
) -> None:
    genuine = sealed("AUS.DFAT", 1)
    squat = sealed("JPN.MOD", 1, message_id=genuine[0].message_id)
    land(inbox, records(squat))
    out = run(records(genuine, start=1), inbox)
    assert out.quarantined == []
    assert len(out.deliveries) == 1
    assert out.receipt_items()[0][1] == genuine_digest(inbox, genuine)


@pytest.mark.parametrize("retract_first", [False, True], ids=["target-first", "retract-first"])
@pytest.mark.parametrize("make", [retract, supersede], ids=["retract", "supersede"])
def test_an_agency_cannot_change_another_agencys_message_in_the_same_batch(
    inbox: Inbox,
    retract_first: bool,
    make: object,
) -> None:
    target = sealed("AUS.DFAT", 1)
    attack = sealed("JPN.MOD", 1, make(target[0], by="JPN.MOD"))  # type: ignore[operator]
    order = (attack, target) if retract_first else (target, attack)
    out = run(records(*order), inbox)
    assert [r.reason for _, r in out.quarantined] == [ReasonCode.NOT_ORIGINATOR]
    assert [d.sender for d in out.deliveries] == ["AUS.DFAT"]
    assert out.status_changes == []
    inbox.land(out.deliveries, out.offsets, out.status_changes)
    stored = inbox.get(str(target[0].message_id), sender="AUS.DFAT")
    assert stored is not None
    assert stored.status == "current"


def test_an_agency_cannot_change_another_agencys_message_already_in_the_inbox(
    inbox: Inbox,
) -> None:
    target = sealed("AUS.DFAT", 1)
    land(inbox, records(target))
    attack = sealed("JPN.MOD", 1, retract(target[0], by="JPN.MOD"))
    assert reasons(records(attack, start=1), inbox) == ["not-originator"]


@pytest.mark.parametrize("same_batch", [True, False], ids=["same-batch", "later-batch"])
def test_an_originator_retracts_its_own_message(inbox: Inbox, same_batch: bool) -> None:
    target = sealed("AUS.DFAT", 1)
    own = sealed("AUS.DFAT", 2, retract(target[0], by="AUS.DFAT"))
    if same_batch:
        land(inbox, records(target, own))
    else:
        land(inbox, records(target))
        out = run(records(own, start=1), inbox)
        assert out.status_changes == [
            StatusChange("AUS.DFAT", str(target[0].message_id), "retracted")
        ]
        inbox.land(out.deliveries, out.offsets, out.status_changes)
    stored = inbox.get(str(target[0].message_id))
    assert stored is not None
    assert stored.status == "retracted"


def test_a_status_change_only_touches_its_own_senders_row(inbox: Inbox) -> None:
    genuine = sealed("AUS.DFAT", 1)
    own = sealed("JPN.MOD", 1, message_id=genuine[0].message_id)
    land(inbox, records(genuine, own))
    retraction = sealed("JPN.MOD", 2, retract(own[0], by="JPN.MOD"))
    land(inbox, records(retraction, start=2))
    mid = str(genuine[0].message_id)
    assert inbox.get(mid, sender="JPN.MOD").status == "retracted"  # type: ignore[union-attr]
    assert inbox.get(mid, sender="AUS.DFAT").status == "current"  # type: ignore[union-attr]


def test_missing_sequence_numbers_are_reported_as_a_gap(inbox: Inbox) -> None:
    land(inbox, records(sealed("AUS.DFAT", 1)))
    out = run(records(sealed("AUS.DFAT", 4), sealed("AUS.DFAT", 5), start=1), inbox)
    assert [(g.expected, g.got, g.missing) for g in out.gaps] == [(2, 4, 2)]
    assert len(out.deliveries) == 2


def test_partitions_are_decided_independently_each_in_order(inbox: Inbox) -> None:
    a = records(sealed("AUS.DFAT", 1), sealed("AUS.DFAT", 2), partition=0)
    b = records(sealed("JPN.MOD", 1), partition=1)
    out = step([a, b], inbox, context(), now=datetime.now(UTC))
    assert [(d.sender, d.sequence) for d in out.deliveries] == [
        ("AUS.DFAT", 1),
        ("AUS.DFAT", 2),
        ("JPN.MOD", 1),
    ]
    assert out.offsets == {(a[0].topic, 0): 2, (b[0].topic, 1): 1}


def test_every_reason_code_the_receiver_gives(inbox: Inbox) -> None:
    header, good = sealed("AUS.DFAT", 1)
    (rec,) = records((header, good))
    not_entitled = records(sealed("JPN.NPA", 1))[0]  # NPA may not publish assessments
    lying = tuple((k, b"USA.STATE" if k == "accord-sender" else v) for k, v in rec.headers)
    batch = [
        replace(rec, value=None),
        replace(rec, value=b"\xff\xfe{not json"),
        replace(rec, topic="accord.bilateral.dialogue"),
        replace(rec, headers=lying),
        replace(not_entitled, offset=4),
    ]
    got = [r.reason.value for _, r in run(batch, inbox).quarantined]
    assert got == ["malformed", "malformed", "topic-mismatch", "header-mismatch", "not-entitled"]
    small = step([[rec]], inbox, context(max_bytes=100), now=datetime.now(UTC))
    assert [r.reason for _, r in small.quarantined] == [ReasonCode.OVERSIZED]


@pytest.mark.parametrize(
    "name", ["accord-message-id", "accord-type", "accord-sender", "accord-scope", "accord-area"]
)
def test_each_mirrored_header_is_held_to_the_signed_header(inbox: Inbox, name: str) -> None:
    (rec,) = records(sealed("AUS.DFAT", 1))
    assert name in dict(rec.headers)
    other = tuple((k, v + b"x" if k == name else v) for k, v in rec.headers)
    (_, rejected), *_ = run([replace(rec, headers=other)], inbox).quarantined
    assert rejected.reason is ReasonCode.HEADER_MISMATCH
    assert rejected.detail == f"record header {name} disagrees with the signed header"
    # absent is not lying (a record from a client that mirrors nothing), and a header
    # the publisher does not mirror is not compared
    fewer = (*((k, v) for k, v in rec.headers if k != name), ("x-agency-ref", b"7"))
    assert len(run([replace(rec, headers=fewer)], inbox).deliveries) == 1


def test_entitlement_is_judged_per_sender_in_a_batch_that_mixes_them(inbox: Inbox) -> None:
    # The step keeps the plan's answers for the poll: each (sender, scope, area) its own.
    batch = records(
        sealed("JPN.NPA", 1),  # NPA may not publish assessments
        sealed("AUS.DFAT", 1),
        sealed("JPN.NPA", 2),
        sealed("AUS.DFAT", 2),
    )
    out = run(batch, inbox)
    assert [r.reason.value for _, r in out.quarantined] == ["not-entitled", "not-entitled"]
    assert [(d.sender, d.sequence) for d in out.deliveries] == [("AUS.DFAT", 1), ("AUS.DFAT", 2)]
