"""Shared parts of the scenarios: messages, a steady publisher, inbox checks, nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from accord.areas import Area
from accord.errors import PublishError
from accord.labels import Caveat, Classification, Label, Policy
from accord.models import InformationReport, Priority, Subject
from accord.parties import Scope
from accord.publisher import Publisher
from accord.soak.report import ScenarioResult

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM
SENDER = "AUS.AFP"
RECEIVERS = ("JPN.NPA", "JPN.MOFA")
"""Two agencies entitled to bilateral counter-terrorism: every scenario that checks
"every entitled inbox" checks at least these two."""


def label_for(sender: str, scope: Scope = BI) -> Label:
    now = datetime.now(UTC)
    return Label.model_validate(
        {
            "policy": Policy.ACCORD_JPN_AUS_2007,
            "classification": Classification.RESTRICTED,
            "releasable_to": tuple(sorted(scope.members)),
            "caveats": (Caveat.ORCON,),
            "originator": sender,
            "created_at": now,
            "review_on": (now + timedelta(days=365)).date(),
            "legal_basis": "Reliability scenario message under the originator's laws.",
        }
    )


def report(n: int) -> InformationReport:
    return InformationReport(
        title=f"Soak report {n}",
        priority=Priority.PRIORITY,
        details="x" * 400,
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )


@dataclass
class Stream:
    """Publishes ``total`` messages with ``window`` in flight, recording the outcome.

    ``Publisher.send`` itself retries transient Kafka errors with the same signed
    bytes until its deadline; only what it gives up on lands in ``failed``.
    """

    publisher: Publisher
    total: int
    window: int = 32
    acknowledged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    started: int = 0

    async def run(self) -> None:
        slots = asyncio.Semaphore(self.window)
        label = label_for(self.publisher.agency)

        async def one(i: int) -> None:
            try:
                header, envelope = self.publisher.seal(report(i), scope=BI, area=CT, label=label)
                try:
                    await self.publisher.send(header, envelope)
                except PublishError:
                    self.failed.append(str(header.message_id))
                else:
                    self.acknowledged.append(str(header.message_id))
            finally:
                slots.release()

        tasks = []
        for i in range(self.total):
            await slots.acquire()
            self.started += 1
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)


def check_inboxes(
    result: ScenarioResult,
    expected: Iterable[str],
    inboxes: Mapping[str, list[str]],
    *,
    allowed: Iterable[str] = (),
) -> None:
    """Fill delivered/lost/landed-twice/unexpected from each inbox's message ids.

    ``allowed`` are ids that may or may not land (publishes whose outcome the
    publisher could not know, e.g. failed after the broker had written them).
    """
    want = set(expected)
    maybe = set(allowed)
    for agency, ids in inboxes.items():
        have = set(ids)
        result.delivered[agency] = len(ids)
        result.inbox_duplicates += len(ids) - len(have)
        result.lost += len(want - have)
        result.unexpected += len(have - want - maybe)


async def wait_for(predicate: Callable[[], bool], within_s: float, *, every: float = 0.1) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return predicate()
