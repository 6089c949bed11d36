"""The hostile soak's send order (``accord.soak.hostile.schedule``).

Its per-record check rests on the order: an attack named "after" its target must
follow a message already sent (the receiver then always refuses a retraction, as
not-originator), and one named "before" must precede its target. A retraction
sent before its target lands, harmlessly, when a poll boundary splits the two, so
a mislabelled one reads as "not quarantined" (a CI run of the soak failed so).
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from accord.config import KafkaConnection
from accord.publisher import Publisher
from accord.soak.common import SENDER
from accord.soak.exchange import fresh_plan
from accord.soak.hostile import Generator, Hostile, mix, prepare_pki, schedule

AFTER = {"retract-after-target", "squat-after-genuine"}
BEFORE = {"retract-before-target", "squat-before-genuine"}


def _target(record: Hostile) -> str:
    if record.kind.startswith("squat"):
        return dict(record.headers)["accord-message-id"].decode()
    payload = json.loads(record.value)["payload"]
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(document["body"]["target_message_id"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_attacks_follow_their_target_and_before_attacks_precede_it(
    seed: int, tmp_path: Path
) -> None:
    plan = fresh_plan()
    keys = prepare_pki(tmp_path / "pki", plan)
    publisher = Publisher(
        agency=SENDER,
        connection=KafkaConnection(),  # never started: seal() only signs
        plan=plan,
        signer=keys.valid,
        state_path=tmp_path / "publisher.sqlite",
    )
    rng = random.Random(seed)
    gen = Generator(plan, keys, rng, publisher)
    sent: list[str] = []
    waiting: dict[str, str] = {}  # target id -> the "before" attack's kind
    kinds: dict[str, int] = {}
    for record in schedule(gen, mix(1_500, 5, rng)):
        if not isinstance(record, Hostile):
            message_id = str(record[0].message_id)
            waiting.pop(message_id, None)
            sent.append(message_id)
            continue
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
        if record.kind in AFTER:
            assert _target(record) in sent[-5:], record.kind
        elif record.kind in BEFORE:
            assert _target(record) not in sent, record.kind
            waiting[_target(record)] = record.kind
        else:
            assert not waiting, f"{record.kind} between an attack and its target"
    assert not waiting
    # Each attack kind occurred, so the order above was checked for each.
    assert kinds.keys() >= AFTER | BEFORE, kinds
