"""Node commands: ``publish``, ``release``, ``receive``, ``monitor``, ``inbox``.

Settings come from the one loader (``accord.config.load_node_settings``): options
here, then ``ACCORD_*`` environment variables, then defaults; the security
protocol is inferred from the credentials given.

Every Kafka failure a user can cause or meet (no broker, a refused login, an ACL
refusal, a message over the broker's size limit) ends as one ``error [code]:``
line with a hint that names the real cause: :func:`node_errors` maps them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import yaml

from accord.config import (
    BUNDLE_FILE,
    FETCH_WAIT_MS,
    NodeSettings,
    default_pki_dir,
    load_connection,
    load_node_settings,
    load_receiver_settings,
    load_trusted_roots,
)
from accord.errors import ConfigError
from accord.handover import Endpoint, HandoverPolicy, load_endpoint, read_states
from accord.kafka import node_errors
from accord.node import NodeContext, open_node
from accord.node.heap import tune_node_heap
from accord.observability.http import OpsServer
from accord.plan import load_plan
from accord.publisher import Publisher
from accord.publisher.document import build_message
from accord.receiver import Receiver
from accord.receiver.inbox import Inbox

_node_options = [
    click.option("--agency", required=True, help="This node's agency id, e.g. JPN.MOFA."),
    click.option(
        "--plan",
        "plan_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Exchange plan (default: $ACCORD_PLAN or deploy/plan.yaml).",
    ),
    click.option(
        "--pki-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="PKI directory with this agency's key and the trust bundle "
        "(default: $ACCORD_PKI_DIR or var/pki).",
    ),
    click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where the node keeps its inbox and state "
        "(default: $ACCORD_DATA_DIR or var/nodes/<agency>).",
    ),
    click.option(
        "--bootstrap",
        default=None,
        help="Kafka bootstrap servers (default: $ACCORD_BOOTSTRAP_SERVERS).",
    ),
]


def node_options(f: Any) -> Any:
    for option in reversed(_node_options):
        f = option(f)
    return f


_receiving_options = [
    click.option(
        "--metrics-port",
        type=int,
        default=None,
        help="Serve /metrics, /healthz, /readyz on this port "
        "(default: $ACCORD_METRICS_PORT; none if unset).",
    ),
    click.option(
        "--metrics-host",
        default=None,
        help="Address to serve them on (default: $ACCORD_METRICS_HOST or 127.0.0.1; "
        "0.0.0.0 in a container).",
    ),
    click.option(
        "--webhook",
        default=None,
        help="Hand each landed message over to this URL: signed (Standard Webhooks), "
        "retried until taken; see docs/handover.md.",
    ),
    click.option(
        "--webhook-secret-env",
        default=None,
        metavar="VAR",
        help="Environment variable holding the webhook's whsec_ secret.",
    ),
    click.option(
        "--webhook-timeout",
        type=click.FloatRange(0.1, 300),
        default=5.0,
        show_default=True,
        help="Seconds one handover request may take.",
    ),
    click.option(
        "--handover-dead-after",
        type=click.FloatRange(1),
        default=86_400.0,
        show_default=True,
        help="Seconds of failed retries before a handover is "
        "parked as dead (`accord handover retry` revives it).",
    ),
    click.option(
        "--fetch-wait-ms",
        type=click.IntRange(0, 500),
        default=None,
        help="How long the broker may hold a fetch to fill a batch: less CPU at "
        "moderate rates, at most this much added latency; 0 answers at the first record "
        f"(default: $ACCORD_FETCH_WAIT_MS or {FETCH_WAIT_MS}).",
    ),
]


def receiving_options(f: Any) -> Any:
    """The options of every command that runs a receiving node (receive, node)."""
    for option in reversed(_receiving_options):
        f = option(f)
    return f


def handover_endpoint(
    webhook: str | None, secret_env: str | None, *, timeout_s: float, dead_after_s: float
) -> Endpoint | None:
    """The handover endpoint the receiving options describe, or None without --webhook."""
    if webhook is None:
        return None
    return load_endpoint(
        webhook, secret_env, policy=HandoverPolicy(timeout_s=timeout_s, dead_after_s=dead_after_s)
    )


def _settings(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    metrics_port: int | None = None,
    fetch_wait_ms: int | None = None,
    metrics_host: str | None = None,
) -> NodeSettings:
    kafka = load_connection(bootstrap_servers=bootstrap, client_id=f"accord-{agency}")
    return load_node_settings(
        agency,
        plan_path=plan_path,
        pki_dir=pki_dir,
        data_dir=data_dir,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        kafka=kafka,
        receiver=load_receiver_settings(fetch_wait_ms=fetch_wait_ms),
    )


# -- publish ------------------------------------------------------------------


def _read_document(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read {source}: {exc.strerror}",
            hint="give a message file, or - for standard input",
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{source} is not valid JSON or YAML: {exc}",
            hint="see docs/exchange.md for the message file format",
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{source} must hold one mapping with type, scope, area, label, body",
            hint="see docs/exchange.md for the message file format",
        )
    return doc


_correlation_option = click.option(
    "--correlation-id",
    type=click.UUID,
    default=None,
    metavar="UUID",
    help="The signed header's correlation_id: ties related messages together; "
    "logged on every event of the message, on every node.",
)


@click.command("publish")
@node_options
@_correlation_option
@click.argument("source", default="-")
def publish_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    source: str,
    correlation_id: UUID | None = None,
) -> None:
    """Sign and publish the message in SOURCE (a JSON/YAML file, or - for stdin)."""
    settings = _settings(agency, plan_path, pki_dir, data_dir, bootstrap)
    node = open_node(settings)
    body, scope, area, label = build_message(_read_document(source), agency)

    async def run() -> None:
        async with _publisher(node) as pub:
            result = await pub.publish(
                body, scope=scope, area=area, label=label, correlation_id=correlation_id
            )
        click.echo(
            json.dumps(
                {
                    "message_id": result.message_id,
                    "topic": result.topic,
                    "partition": result.partition,
                    "offset": result.offset,
                    "sequence": result.sequence,
                    "trace_id": result.trace_id,
                }
            )
        )

    with node_errors(settings.kafka, doing="write", resource=node.plan.exchange_topic(scope, area)):
        asyncio.run(run())


def _publisher(node: NodeContext) -> Publisher:
    return Publisher(
        agency=node.agency,
        connection=node.settings.kafka,
        plan=node.plan,
        signer=node.signer,
        state_path=node.settings.publisher_state_path,
        encryption=node.encryption(),
    )


@click.command("release")
@node_options
@_correlation_option
@click.argument("message_id")
def release_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    message_id: str,
    correlation_id: UUID | None = None,
) -> None:
    """Release one of this agency's bilateral messages to the trilateral scope
    (correlated with the original unless --correlation-id says otherwise)."""
    node = open_node(_settings(agency, plan_path, pki_dir, data_dir, bootstrap))

    async def run() -> None:
        async with _publisher(node) as pub:
            result = await pub.release_trilateral(
                message_id, node.trust, correlation_id=correlation_id
            )
        click.echo(
            json.dumps(
                {
                    "message_id": result.message_id,
                    "topic": result.topic,
                    "releases": message_id,
                    "trace_id": result.trace_id,
                }
            )
        )

    with node_errors(node.settings.kafka, doing="write", resource="the trilateral topic"):
        asyncio.run(run())


# -- receive ------------------------------------------------------------------


@click.command("receive")
@node_options
@receiving_options
def receive_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    metrics_port: int | None,
    metrics_host: str | None,
    webhook: str | None,
    webhook_secret_env: str | None,
    webhook_timeout: float,
    handover_dead_after: float,
    fetch_wait_ms: int | None,
) -> None:
    """Run this agency's receiving node until SIGTERM or Ctrl-C."""
    settings = _settings(
        agency, plan_path, pki_dir, data_dir, bootstrap, metrics_port, fetch_wait_ms, metrics_host
    )
    handover = handover_endpoint(
        webhook, webhook_secret_env, timeout_s=webhook_timeout, dead_after_s=handover_dead_after
    )
    node = open_node(settings)
    with node_errors(
        settings.kafka, doing="read", resource=", ".join(node.plan.receive_topics(agency)) or None
    ):
        asyncio.run(_receive(node, handover))


async def _receive(node: NodeContext, handover: Endpoint | None) -> None:
    receiver = Receiver(
        agency=node.agency,
        connection=node.settings.kafka,
        plan=node.plan,
        trust=node.trust,
        signer=node.signer,
        inbox_path=node.settings.inbox_path,
        handover=handover,
        settings=node.settings.receiver,
        keys=node.keys,
    )
    ops: OpsServer | None = None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, receiver.request_stop)
    await receiver.start()
    tune_node_heap()
    try:
        if node.settings.metrics_port is not None:
            receiver.metrics.watch_ready(lambda: receiver.ready, agency=node.agency)
            ops = OpsServer(
                receiver.metrics,
                healthy=lambda: receiver.healthy,
                ready=lambda: receiver.ready,
                host=node.settings.metrics_host,
                port=node.settings.metrics_port,
            )
            await ops.start()
        await receiver.run()
    finally:
        if ops is not None:
            await ops.stop()
        await receiver.stop()


# -- monitor ------------------------------------------------------------------


@click.command("monitor")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--pki-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the trust bundle is (default: $ACCORD_PKI_DIR or var/pki).",
)
@click.option("--bootstrap", default=None)
@click.option(
    "--deadline",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds an entitled agency has to acknowledge a message.",
)
@click.option(
    "--idle",
    type=float,
    default=3.0,
    show_default=True,
    help="Stop reading after this many seconds without a receipt.",
)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Run for good, serving /metrics (acknowledgements, every agency "
    "group's lag from the broker) on this port.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address for --metrics-port (0.0.0.0 in a container).",
)
def monitor_command(
    plan_path: Path | None,
    pki_dir: Path | None,
    bootstrap: str | None,
    deadline: float,
    idle: float,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """List, per message, the entitled agencies that have not acknowledged it in time.

    Exits 1 when some acknowledgement is overdue, so it can drive an alert. With
    --metrics-port it runs until SIGTERM and exports the same as metrics instead.
    """
    from accord.monitor import Monitor
    from accord.trust import TrustStore

    plan = load_plan(plan_path)
    trust = TrustStore.from_bundle(
        (pki_dir or default_pki_dir()) / BUNDLE_FILE, roots=load_trusted_roots()
    )
    conn = load_connection(bootstrap_servers=bootstrap, client_id="accord-monitor")
    monitor = Monitor(connection=conn, plan=plan, trust=trust, deadline=timedelta(seconds=deadline))
    with node_errors(conn, doing="read", resource=plan.receipts_topic):
        if metrics_port is not None:
            asyncio.run(_serve_monitor(monitor, metrics_host, metrics_port))
            return
        asyncio.run(monitor.consume(idle_s=idle))
    overdue = monitor.outstanding()
    click.echo(
        f"messages seen: {len(monitor.ledger)}; receipts rejected: {monitor.rejected}; "
        f"overdue: {len(overdue)}"
    )
    for o in overdue:
        click.echo(
            f"  {o.message_id}  {o.sender:<12} {o.scope}/{o.area}  age {o.age_s:.0f}s  "
            f"missing: {', '.join(o.missing)}"
        )
    if overdue:
        sys.exit(1)


async def _serve_monitor(monitor: Any, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ops = OpsServer(monitor.metrics, host=host, port=port)
    await ops.start()
    try:
        await monitor.serve(stop=stop)
    finally:
        await ops.stop()


# -- inbox --------------------------------------------------------------------


@click.command("inbox")
@click.option("--agency", required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--show",
    "show_id",
    metavar="MESSAGE_ID",
    default=None,
    help="Print one message: its header, label and body.",
)
def inbox_command(agency: str, data_dir: Path | None, as_json: bool, show_id: str | None) -> None:
    """List what this agency's node has delivered into its inbox, or --show one message."""
    settings = load_node_settings(agency, data_dir=data_dir)
    path = settings.inbox_path
    if not path.exists():
        raise ConfigError(
            f"no inbox at {path}",
            hint="run `accord receive --agency ...` first, or pass --data-dir",
        )
    inbox = Inbox(path)
    # handover: the state of each message's handover ("-" when the node has none).
    handover = read_states(path)
    try:
        if show_id is not None:
            _show(inbox, show_id, as_json)
            return
        for m in inbox.messages():
            taken = handover.get((m.sender, m.message_id), "-")
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "message_id": m.message_id,
                            "type": m.type,
                            "sender": m.sender,
                            "scope": m.scope,
                            "area": m.area,
                            "status": m.status,
                            "topic": m.topic,
                            "partition": m.partition,
                            "offset": m.offset,
                            "handover": taken,
                        }
                    )
                )
            else:
                click.echo(
                    f"{m.message_id}  {m.sender:<12} {m.scope:<10} {m.area:<28} "
                    f"{m.type:<40} {m.status:<10} {taken}"
                )
    finally:
        inbox.close()


def _show(inbox: Inbox, message_id: str, as_json: bool) -> None:
    wanted = message_id.strip().lower()
    found = [m for m in inbox.messages() if m.message_id == wanted]
    if not found:
        raise ConfigError(
            f"no message {message_id[:80]!r} in {inbox.path}",
            hint="list the inbox with `accord inbox --agency ...`",
        )
    for m in found:  # one per sender, should two senders have used one id
        # The envelope was verified when it landed; this only reads its payload.
        payload_b64 = json.loads(m.raw)["payload"]
        doc = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
        shown = {
            "status": m.status,
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "payload_sha256": m.payload_sha256,
            "header": doc["header"],
            "label": doc["label"],
            "body": doc["body"],
        }
        if as_json:
            click.echo(json.dumps(shown, ensure_ascii=False))
        else:
            click.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).rstrip())
