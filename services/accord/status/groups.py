"""Read every agency group's position from the broker through the admin API.

The receiving node knows its own lag only while it runs, and only after it has
fetched; the broker knows it always: the group's committed offset per partition,
each partition's end offset, and who is in the group. ``accord status`` prints
this and the monitor exports it, so an operator sees lag grow while a node is down.

The end offset is the last *stable* offset (the consumers read committed
records only), so lag never counts records that no node could read yet.

Last commit time: Kafka keeps a commit's timestamp to itself (the admin API
returns offset and metadata only). A node that commits with
``metadata=commit_metadata()`` leaves its commit time there; status shows it when
it is present and says nothing otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import TopicPartition

from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.kafka import close_consumer, new_admin, new_consumer
from accord.observability.metrics import MonitorMetrics
from accord.plan import Plan

_METADATA_PREFIX = "accord:committed-at="
_TOPIC_AUTHORIZATION_FAILED = 29  # Kafka's error code


def commit_metadata(now: datetime | None = None) -> str:
    """What a node puts in an offset commit's metadata so status can show when."""
    return _METADATA_PREFIX + (now or datetime.now(UTC)).isoformat(timespec="seconds")


def _committed_at(metadata: str | None) -> datetime | None:
    if not metadata or not metadata.startswith(_METADATA_PREFIX):
        return None
    try:
        at = datetime.fromisoformat(metadata[len(_METADATA_PREFIX) :][:40])
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


@dataclass(frozen=True)
class PartitionStatus:
    topic: str
    partition: int
    committed: int | None  # None: the group has never committed here
    end: int

    last_commit: datetime | None = None

    @property
    def lag(self) -> int:
        """Records not yet committed: all of them when the group never committed."""
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str


@dataclass(frozen=True)
class GroupStatus:
    agency: str
    group: str
    state: str  # the broker's word: Stable, Empty, PreparingRebalance, Dead, ...
    members: tuple[Member, ...]
    partitions: tuple[PartitionStatus, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


async def read_status(
    conn: KafkaConnection,
    plan: Plan,
    agencies: Iterable[str] | None = None,
    *,
    timeout_s: float = 15.0,
) -> list[GroupStatus]:
    """The status of each agency's group (all the plan's agencies by default).

    Raises ``BrokerError`` when the broker cannot be reached or refuses (for
    example when the principal may not describe the groups) within ``timeout_s``.
    """
    wanted = list(agencies) if agencies is not None else list(plan.agencies)
    for agency in wanted:
        plan.agency(agency)  # an unknown agency is a PlanError, before any network
    try:
        return await asyncio.wait_for(_read_retrying(conn, plan, wanted), timeout=timeout_s)
    except TimeoutError:
        raise BrokerError(
            f"the broker did not answer within {timeout_s:g}s",
            hint="check ACCORD_BOOTSTRAP_SERVERS and that the broker is up",
        ) from None
    except KafkaConnectionError:
        raise BrokerError(
            f"cannot reach the broker at {conn.bootstrap_servers}",
            hint="check ACCORD_BOOTSTRAP_SERVERS (or --bootstrap) and that the broker is up",
        ) from None
    except KafkaError as exc:
        raise BrokerError(
            f"cannot read group offsets: {type(exc).__name__}",
            hint="check that the broker is up and that this principal may describe "
            "the agencies' groups and topics (the admin, or the monitor's principal)",
        ) from None


async def _read_retrying(
    conn: KafkaConnection, plan: Plan, agencies: list[str]
) -> list[GroupStatus]:
    """``_read``, again after a retriable error (a coordinator still loading, a
    leader moving): those pass in seconds; the caller's timeout bounds the whole."""
    while True:
        try:
            return await _read(conn, plan, agencies)
        except KafkaError as exc:
            # An unreachable broker is reported at once, not waited for.
            if isinstance(exc, KafkaConnectionError) or not getattr(exc, "retriable", False):
                raise
            await asyncio.sleep(0.5)


async def _read(conn: KafkaConnection, plan: Plan, agencies: list[str]) -> list[GroupStatus]:
    admin = new_admin(conn)
    # No group: this consumer only asks for end offsets, it never joins or commits.
    probe = new_consumer(conn, group_id=None)
    try:
        await admin.start()
        await probe.start()
        wanted = sorted({t for a in agencies for t in plan.receive_topics(a)})
        partitions_of: dict[str, list[int]] = {}
        for t in await admin.describe_topics(wanted):
            if t["error_code"] == _TOPIC_AUTHORIZATION_FAILED:
                # Fail visibly: a topic left out would hide its lag.
                raise BrokerError(
                    f"not allowed to describe topic {t['topic']}",
                    hint="read status as the admin or the monitor's principal "
                    "(re-run `accord plan apply` to grant the monitor DESCRIBE)",
                )
            # Any other error (a topic not created yet): no partitions, no lag.
            if t["error_code"] == 0:
                partitions_of[t["topic"]] = sorted(p["partition"] for p in t["partitions"])
        groups = [plan.group_id(a) for a in agencies]
        # One group per request: aiokafka 0.14 misdecodes a DescribeGroups response
        # holding several groups (from Kafka 4: it shifts the fields, then fails
        # with a buffer underrun and drops the connection).
        described: dict[str, tuple[str, tuple[Member, ...]]] = {}
        for group in groups:
            described.update(_members(await admin.describe_consumer_groups([group])))
        out: list[GroupStatus] = []
        for agency, group in zip(agencies, groups, strict=True):
            tps = [
                TopicPartition(t, p)
                for t in plan.receive_topics(agency)
                for p in partitions_of.get(t, ())
            ]
            ends = await probe.end_offsets(tps) if tps else {}
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            partitions = []
            for tp in tps:
                meta = committed.get(tp)
                offset = meta.offset if meta is not None and meta.offset >= 0 else None
                partitions.append(
                    PartitionStatus(
                        topic=tp.topic,
                        partition=tp.partition,
                        committed=offset,
                        end=ends.get(tp, 0),
                        last_commit=_committed_at(meta.metadata if meta is not None else None),
                    )
                )
            state, members = described.get(group, ("Dead", ()))
            out.append(
                GroupStatus(
                    agency=agency,
                    group=group,
                    state=state,
                    members=members,
                    partitions=tuple(partitions),
                )
            )
        return out
    finally:
        await close_consumer(probe, timeout_s=5)
        await admin.close()


def _members(responses: list[Any]) -> dict[str, tuple[str, tuple[Member, ...]]]:
    """group id -> (state, members), from raw DescribeGroups responses."""
    out: dict[str, tuple[str, tuple[Member, ...]]] = {}
    for response in responses:
        for group in response.to_object()["groups"]:
            members = tuple(
                Member(member_id=m["member_id"], client_id=m["client_id"], host=m["client_host"])
                for m in group["members"]
            )
            out[group["group"]] = (group["state"] or "Dead", members)
    return out


def export_status(metrics: MonitorMetrics, groups: Iterable[GroupStatus]) -> None:
    """Set the monitor's group gauges from one reading."""
    for g in groups:
        metrics.group_members.labels(g.agency).set(len(g.members))
        for p in g.partitions:
            labels = (g.agency, p.topic, str(p.partition))
            metrics.group_end.labels(*labels).set(p.end)
            metrics.group_lag.labels(*labels).set(p.lag)
            if p.committed is not None:
                metrics.group_committed.labels(*labels).set(p.committed)
    metrics.mark_status()
