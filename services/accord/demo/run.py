"""``accord demo``: a whole exchange on a fresh local broker, checked end to end.

Order of events (each step uses only the public pieces an operator would):

1. a fresh SCRAM broker (or PLAINTEXT with ``plain=True``) in ``<dir>/broker``;
2. a demo PKI, and the plan applied: topics, one principal per agency with a random
   per-run password, ACLs;
3. every agency node of the plan, each logged in as its own principal;
4. the scenario published, then a trilateral release, a supersede and a retract;
5. raw records written with a plain producer: a tampered one, a mislabelled one and a
   byte-identical copy of a delivered message;
6. wait for the nodes to settle, run the monitor over the receipts, read every
   agency's quarantine topic back, and compare everything with what the plan says
   should have happened.

The expected outcome is derived from the plan (``entitled_receivers``), never typed
in, so the demo stays right when the plan changes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from uuid import UUID

from aiokafka.structs import TopicPartition
from pydantic import SecretStr

from accord.areas import Area
from accord.bench.run import encryption_figures
from accord.broker import LocalBroker
from accord.broker.local import open_local
from accord.cli.bench import encryption_line
from accord.config import KafkaConnection
from accord.demo import scenario as sc
from accord.demo.inject import RawRecord, mirrored, mislabelled_record, send_raw, tampered_record
from accord.errors import BrokerError, ConfigError
from accord.exchange import LocalExchange
from accord.kafka import new_consumer
from accord.monitor import Monitor, Outstanding
from accord.observability.logs import configure_logging, get_logger
from accord.parties import Country, Scope, country_of
from accord.plan import Plan, load_plan

log = get_logger(__name__)

MARKER = ".accord-demo"
"""Written into the demo directory: only a directory holding it is ever deleted."""

Say = Callable[[str], None]

ENCRYPTION_BENCH_MESSAGES = 400
"""Messages in each of the demo's two short pipeline runs (signed-only, signed+encrypted)."""


@dataclass(frozen=True)
class Sent:
    """A message the demo published through a Publisher."""

    key: str
    sender: str
    scope: Scope
    area: Area
    type: str
    title: str
    message_id: str
    envelope: bytes


@dataclass
class AgencyOutcome:
    agency: str
    delivered: int
    duplicates: int
    gaps: int
    rejected: dict[str, int]
    quarantined: dict[str, int]
    """Reason codes read back from the agency's quarantine topic."""
    inbox_scopes: dict[str, int]
    inbox_ids: set[str]
    statuses: dict[str, str]
    expected_ids: set[str] = field(default_factory=set)
    expected_duplicates: int = 0
    expected_rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class MonitorSummary:
    messages: int
    acknowledgements: int
    forged: int
    deadline_s: float
    outstanding: list[Outstanding]


@dataclass
class DemoResult:
    mode: str
    bootstrap: str
    sent: list[Sent]
    injected: list[RawRecord]
    agencies: dict[str, AgencyOutcome]
    monitor: MonitorSummary
    released: Sent
    superseded: Sent
    retracted: Sent
    seconds: float
    problems: list[str] = field(default_factory=list)
    encryption: dict[str, str] = field(default_factory=dict)
    """Each scope's ``encryption`` in the plan the demo ran."""
    encryption_line: str | None = None
    """Signed-only vs signed+encrypted, measured in this run (``encryption_line``)."""

    @property
    def ok(self) -> bool:
        return not self.problems


# -- the directory -----------------------------------------------------------------


def prepare_directory(directory: Path) -> None:
    """Start from nothing: stop a broker a previous run left, delete the old demo dir.

    Refuses to delete a non-empty directory the demo did not create (no marker), so
    a mistyped ``--dir`` cannot wipe someone's data.
    """
    if directory.exists():
        if any(directory.iterdir()) and not (directory / MARKER).exists():
            raise ConfigError(
                f"{directory} is not empty and was not created by `accord demo`",
                hint="pass --dir with a new or earlier demo directory",
            )
        broker_dir = directory / "broker"
        if (broker_dir / "state.json").exists():
            try:
                stale = open_local(broker_dir)
                if stale.is_running:
                    stale.stop()
            except BrokerError as exc:
                log.warning("demo.stale_broker", error=str(exc))
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("created by `accord demo`; deleted by the next run\n")


# -- running -----------------------------------------------------------------------


async def run_demo(
    directory: Path,
    *,
    plain: bool = False,
    plan_path: Path | None = None,
    ack_deadline_s: float = 5.0,
    settle_s: float = 60.0,
    say: Say = print,
    log_to_file: bool = True,
) -> DemoResult:
    """Run the demo in a fresh ``directory``; the result says whether it went as planned."""
    started = time.monotonic()

    def progress(text: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {text}")

    prepare_directory(directory)
    log_stream: TextIO | None = None
    saved_stderr: int | None = None
    if log_to_file:
        # The nodes log every record; on the console that would bury the table.
        log_stream = open(directory / "demo.log", "a", encoding="utf-8")  # noqa: SIM115, ASYNC230
        configure_logging("INFO", json=True, stream=log_stream)
        # librdkafka (the plan's admin client) writes its own lines straight to file
        # descriptor 2, past any Python logging set-up: point that at the log too.
        sys.stderr.flush()
        saved_stderr = os.dup(2)
        os.dup2(log_stream.fileno(), 2)
        progress(f"logs: {directory / 'demo.log'}")
    try:
        result = await _run(
            directory,
            plain=plain,
            plan_path=plan_path,
            ack_deadline_s=ack_deadline_s,
            settle_s=settle_s,
            progress=progress,
            started=started,
        )
        result.seconds = time.monotonic() - started  # wall time, broker stop included
        return result
    finally:
        if log_stream is not None:
            gc.collect()  # a client freed now still writes its parting words to the file
            sys.stderr.flush()
            if saved_stderr is not None:
                os.dup2(saved_stderr, 2)
                os.close(saved_stderr)
            configure_logging("INFO")  # back to stderr before the file closes
            log_stream.close()


async def _run(
    directory: Path,
    *,
    plain: bool,
    plan_path: Path | None,
    ack_deadline_s: float,
    settle_s: float,
    progress: Say,
    started: float,
) -> DemoResult:
    plan = load_plan(plan_path)
    broker = LocalBroker(directory / "broker", mode="plain" if plain else "scram")
    broker.start()
    progress(
        f"broker up at {broker.bootstrap_servers} ("
        + ("PLAINTEXT, no authorizer" if plain else "SASL/SCRAM-SHA-512, default-deny authorizer")
        + ")"
    )
    try:
        # Fresh random passwords each run: nothing reusable is left in the repository.
        names = [*plan.agencies, plan.monitor.principal]
        passwords = {n: secrets.token_urlsafe(18) for n in names}

        def connection_of(name: str) -> KafkaConnection:
            return broker.connection() if plain else broker.connection(name, passwords[name])

        exchange = LocalExchange(
            plan=plan,
            connection=broker.connection(),
            directory=directory,
            connections={a: connection_of(a) for a in plan.agencies},
        )
        exchange.apply({n: SecretStr(p) for n, p in passwords.items()})
        progress(
            f"PKI provisioned ({len(plan.agencies)} agency certificates); plan applied: "
            f"{len(plan.topics())} topics"
            + ("" if plain else f", {len(names)} principals with ACLs")
        )
        try:
            result = await _exchange(
                exchange,
                broker,
                connection_of,
                plan,
                ack_deadline_s=ack_deadline_s,
                settle_s=settle_s,
                progress=progress,
                started=started,
            )
        finally:
            # In parallel: each receiver leaving its group takes a round trip or two,
            # and ten in a row would double the tail of the run.
            await asyncio.gather(*(exchange.stop_receiver(a) for a in list(exchange.receivers)))
            await exchange.stop()
            progress("nodes stopped")
        result.encryption = {s.value: sp.encryption for s, sp in plan.scopes.items()}
        # Measured here, on this broker, once the nodes are stopped (they would share
        # the CPU): the same pipeline signed-only and signed+encrypted, each in a
        # namespace of its own, a few hundred messages each (`accord bench` for more).
        figures = await encryption_figures(
            broker.connection(),
            directory / "encryption-bench",
            exchange.pki,
            messages=ENCRYPTION_BENCH_MESSAGES,
            progress=progress,
        )
        result.encryption_line = encryption_line(figures)
        return result
    finally:
        broker.stop()
        progress("broker stopped")


async def _exchange(
    ex: LocalExchange,
    broker: LocalBroker,
    connection_of: Callable[[str], KafkaConnection],
    plan: Plan,
    *,
    ack_deadline_s: float,
    settle_s: float,
    progress: Say,
    started: float,
) -> DemoResult:
    await ex.start_receivers()
    progress(
        f"{len(ex.receivers)} agency nodes running"
        + (", each logged in as its own principal" if broker.mode == "scram" else "")
    )

    sent, released, superseded, retracted = await _publish_scenario(ex)
    last_publish = time.monotonic()
    by_area = Counter(s.area.value for s in sent)
    progress(
        f"published {len(sent)} messages in {len(by_area)} areas "
        f"({sum(s.scope is Scope.BILATERAL for s in sent)} bilateral, "
        f"{sum(s.scope is Scope.TRILATERAL for s in sent)} trilateral), "
        "incl. 1 trilateral release, 1 supersede, 1 retract"
    )

    now = datetime.now(UTC)
    duplicate_of = next(s for s in sent if s.key == sc.DUPLICATED)
    injected = [
        tampered_record(plan, ex.pki.signer("JPN.MOD"), now),
        mislabelled_record(plan, ex.pki.signer("AUS.DFAT"), now),
        RawRecord(
            name="duplicate",
            description=f"byte-identical copy of {duplicate_of.sender}'s "
            f"'{duplicate_of.title}', as a producer retry would send it",
            injector=duplicate_of.sender,
            scope=duplicate_of.scope,
            area=duplicate_of.area,
            topic=plan.exchange_topic(duplicate_of.scope, duplicate_of.area),
            value=duplicate_of.envelope,
            headers=mirrored(
                duplicate_of.message_id,
                duplicate_of.type,
                duplicate_of.sender,
                duplicate_of.scope,
                duplicate_of.area,
            ),
            expected=None,
        ),
    ]
    for injector in sorted({r.injector for r in injected}):
        await send_raw(connection_of(injector), [r for r in injected if r.injector == injector])
    progress(
        "injected raw"
        + (" with the agencies' own principals: " if broker.mode == "scram" else ": ")
        + "; ".join(f"{r.name} ({r.injector})" for r in injected)
    )

    outcomes = _expected(plan, sent, injected)
    settled = await ex.settle(
        {a: len(o.expected_ids) for a, o in outcomes.items()}, within_s=settle_s
    )
    await _await_rejections(ex, outcomes, within_s=10.0 if settled else 1.0)
    await ex.quiesce(idle_s=1.0, within_s=15.0)  # anything unexpected still in flight
    progress("nodes settled" if settled else f"nodes did NOT settle within {settle_s:.0f}s")

    # The monitor only flags messages older than its deadline: let it pass for the last.
    await asyncio.sleep(max(0.0, last_publish + ack_deadline_s - time.monotonic()))
    monitor = Monitor(
        connection=connection_of(plan.monitor.principal),
        plan=plan,
        trust=ex.trust,
        deadline=timedelta(seconds=ack_deadline_s),
    )
    await monitor.consume(idle_s=1.0, until=30.0)
    ids = [s.message_id for s in sent]
    summary = MonitorSummary(
        messages=len(monitor.ledger),
        acknowledgements=sum(len(monitor.ledger.acknowledged_by(m)) for m in ids),
        forged=monitor.rejected,
        deadline_s=ack_deadline_s,
        outstanding=monitor.outstanding(),
    )
    progress(f"monitor read the receipts of {summary.messages} messages")

    quarantine = await asyncio.gather(
        *(_read_quarantine(plan, connection_of(a), a) for a in outcomes)
    )
    for agency, reasons in zip(outcomes, quarantine, strict=True):
        _observe(outcomes[agency], ex, agency, reasons)
    result = DemoResult(
        mode=broker.mode,
        bootstrap=broker.bootstrap_servers,
        sent=sent,
        injected=injected,
        agencies=outcomes,
        monitor=summary,
        released=released,
        superseded=superseded,
        retracted=retracted,
        seconds=time.monotonic() - started,
    )
    result.problems = problems(result)
    return result


async def _publish_scenario(ex: LocalExchange) -> tuple[list[Sent], Sent, Sent, Sent]:
    now = datetime.now(UTC)
    planned = sc.scenario(now)
    sent = [await _publish(ex, p) for p in planned]
    by_key = {s.key: s for s in sent}
    by_planned = {p.key: p for p in planned}

    # The only path from bilateral to the USA: the originator re-signs it as trilateral.
    original = by_key[sc.RELEASED]
    releaser = await ex.publisher(original.sender)
    result = await releaser.release_trilateral(original.message_id, ex.trust)
    released = Sent(
        f"{original.key}-release",
        original.sender,
        Scope.TRILATERAL,
        original.area,
        original.type,
        original.title,
        result.message_id,
        result.envelope,
    )

    first = by_planned[sc.SUPERSEDED]
    replacement = await _publish(ex, sc.replacement(first, now))
    superseded = await _publish(
        ex,
        sc.supersede(first, by_key[sc.SUPERSEDED].message_id, replacement.message_id),
        causation=by_key[sc.SUPERSEDED].message_id,
    )
    withdrawn = by_planned[sc.RETRACTED]
    retracted = await _publish(
        ex,
        sc.retract(withdrawn, by_key[sc.RETRACTED].message_id),
        causation=by_key[sc.RETRACTED].message_id,
    )
    return [*sent, released, replacement, superseded, retracted], released, superseded, retracted


async def _publish(ex: LocalExchange, p: sc.Planned, *, causation: str | None = None) -> Sent:
    publisher = await ex.publisher(p.sender)
    label = sc.label_for(
        p.sender, p.scope, datetime.now(UTC), classification=p.classification, caveats=p.caveats
    )
    result = await publisher.publish(
        p.body,
        scope=p.scope,
        area=p.area,
        label=label,
        causation_id=UUID(causation) if causation else None,
    )
    return Sent(
        p.key, p.sender, p.scope, p.area, p.body.TYPE, p.title, result.message_id, result.envelope
    )


# -- expectations and observations ------------------------------------------------


def _expected(plan: Plan, sent: list[Sent], injected: list[RawRecord]) -> dict[str, AgencyOutcome]:
    """What every node should end with, from the plan's entitlements alone."""
    out = {a: AgencyOutcome(a, 0, 0, 0, {}, {}, {}, set(), {}) for a in sorted(plan.agencies)}
    for s in sent:
        for agency in plan.entitled_receivers(s.scope, s.area):
            out[agency].expected_ids.add(s.message_id)
    for r in injected:
        for agency in plan.entitled_receivers(r.scope, r.area):
            o = out[agency]
            if r.expected is None:
                o.expected_duplicates += 1
            else:
                o.expected_rejected[r.expected.value] = (
                    o.expected_rejected.get(r.expected.value, 0) + 1
                )
    return out


async def _await_rejections(
    ex: LocalExchange, outcomes: dict[str, AgencyOutcome], *, within_s: float
) -> None:
    """Wait until every node has counted the duplicates and rejections it should."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all(
            ex.receivers[a].stats.duplicates >= o.expected_duplicates
            and sum(ex.receivers[a].stats.rejected.values()) >= sum(o.expected_rejected.values())
            for a, o in outcomes.items()
        ):
            return
        await asyncio.sleep(0.1)


async def _read_quarantine(plan: Plan, conn: KafkaConnection, agency: str) -> dict[str, int]:
    """Reason codes on ``agency``'s quarantine topic, read as that agency.

    No consumer group (assigned partitions): reading evidence must not move any
    offsets an operator's tooling relies on.
    """
    topic = plan.quarantine_topic(agency)
    partitions = [
        TopicPartition(topic, p)
        for p in range(plan.topic_settings.resolved("quarantine").partitions)
    ]
    consumer = new_consumer(conn, group_id=None, client_id=f"accord-demo-{agency.lower()}")
    await consumer.start()
    reasons: Counter[str] = Counter()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
            batch = await consumer.getmany(*partitions, timeout_ms=250)
            for records in batch.values():
                for r in records:
                    headers = dict(r.headers or ())
                    reasons[headers.get("accord-reason", b"?").decode()] += 1
    finally:
        await consumer.stop()
    return dict(reasons)


def _observe(o: AgencyOutcome, ex: LocalExchange, agency: str, quarantined: dict[str, int]) -> None:
    receiver = ex.receivers[agency]
    o.delivered = receiver.stats.delivered
    o.duplicates = receiver.stats.duplicates
    o.gaps = receiver.stats.gaps
    o.rejected = dict(receiver.stats.rejected)
    o.quarantined = quarantined
    stored = list(receiver.inbox.messages())
    o.inbox_ids = {m.message_id for m in stored}
    o.inbox_scopes = dict(Counter(m.scope for m in stored))
    o.statuses = {m.message_id: m.status for m in stored}


def problems(result: DemoResult) -> list[str]:
    """Every way the run differs from the expected outcome; empty when it went right."""
    out: list[str] = []
    titles = {s.message_id: f"{s.sender} '{s.title}'" for s in result.sent}
    for agency, o in result.agencies.items():
        missing = o.expected_ids - o.inbox_ids
        extra = o.inbox_ids - o.expected_ids
        out += [f"{agency}: did not receive {titles[m]} ({m})" for m in sorted(missing)]
        out += [
            f"{agency}: received {titles.get(m, m)} it is not entitled to" for m in sorted(extra)
        ]
        if o.delivered != len(o.expected_ids):
            out.append(f"{agency}: delivered {o.delivered}, expected {len(o.expected_ids)}")
        if o.duplicates != o.expected_duplicates:
            out.append(f"{agency}: {o.duplicates} duplicates, expected {o.expected_duplicates}")
        if o.rejected != o.expected_rejected:
            out.append(
                f"{agency}: rejected {_codes(o.rejected)}, expected {_codes(o.expected_rejected)}"
            )
        if o.quarantined != o.expected_rejected:
            out.append(
                f"{agency}: quarantine topic holds {_codes(o.quarantined)}, expected "
                f"{_codes(o.expected_rejected)}"
            )
        if o.gaps:
            out.append(f"{agency}: {o.gaps} sequence gaps")
        if country_of(agency) is Country.USA and set(o.inbox_scopes) - {Scope.TRILATERAL.value}:
            out.append(f"{agency}: holds bilateral messages ({_codes(o.inbox_scopes)})")
        for target, status in ((result.superseded, "superseded"), (result.retracted, "retracted")):
            original = _target_of(result, target)
            held = o.statuses.get(original.message_id)
            if held is not None and held != status:
                out.append(f"{agency}: {titles[original.message_id]} is {held}, not {status}")
    m = result.monitor
    if m.forged:
        out.append(f"monitor: {m.forged} receipts failed verification")
    if m.messages != len(result.sent):
        out.append(f"monitor: knows {m.messages} messages, {len(result.sent)} were published")
    out += [
        f"monitor: {titles.get(x.message_id, x.message_id)} not acknowledged by "
        f"{', '.join(x.missing)} within {m.deadline_s:.0f}s"
        for x in m.outstanding
    ]
    return out


def _target_of(result: DemoResult, change: Sent) -> Sent:
    """The message a supersede or retract points at (it was published just before)."""
    key = change.key.rsplit("-", 1)[0]
    return next(s for s in result.sent if s.key == key)


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
