"""Helpers for exchange tests: a fresh namespace per test, a session-wide PKI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from accord.areas import Area
from accord.config import KafkaConnection
from accord.kafka import new_consumer
from accord.labels import Label, scope_label
from accord.models import InformationReport, Priority, Subject
from accord.parties import Scope
from accord.plan import Plan, load_plan


def fresh_plan(base: Plan | None = None) -> Plan:
    """The default plan in a namespace of its own, so tests never see each other.

    Without ``base``: ``encryption: off`` (the deployed plan requires it). Tests of other
    subjects start ``accord`` processes on the shared session PKI, which holds no
    encryption keys; the confidentiality tests ask for ``required`` themselves."""
    plan = base or load_plan(None).with_encryption("off")
    return plan.model_copy(update={"namespace": f"t{uuid.uuid4().hex[:12]}"})


def label_for(sender: str, scope: Scope, **overrides: object) -> Label:
    label = scope_label(
        sender, scope, legal_basis="Test message under the originator's laws and regulations."
    )
    return Label.model_validate({**label.model_dump(), **overrides}) if overrides else label


def report(n: int, area: Area = Area.COUNTER_TERRORISM) -> InformationReport:
    return InformationReport(
        title=f"Report {n}",
        priority=Priority.PRIORITY,
        details="x" * 700,
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )


async def read_topic(
    conn: KafkaConnection, topic: str, *, expect: int, within_s: float = 20.0
) -> list[ConsumerRecord]:
    """Read at least ``expect`` records from the start of ``topic``."""
    consumer = new_consumer(conn, topic, group_id=None)
    await consumer.start()
    records: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    try:
        while len(records) < expect and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def drop_namespace(conn: KafkaConnection, namespace: str) -> None:
    """Delete a test's topics so the shared broker stays small for the tests after it."""
    from accord.kafka.clients import new_control_admin

    admin = new_control_admin(conn)
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{namespace}.")]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()


async def until(check: Callable[[], bool], *, within_s: float = 60.0) -> bool:
    """Wait for ``check`` (a bound, so a broken node fails instead of hanging)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return False
