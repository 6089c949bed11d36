"""``accord broker``: a local Kafka broker (or 3-node cluster) without Docker."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import click

from accord.broker import LocalBroker, LocalCluster, TlsSettings, ensure_jars
from accord.broker.config import Mode, tls_protocol
from accord.broker.local import open_local
from accord.errors import BrokerError

DEFAULT_DATA_DIR = Path("var/broker")

_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Where the broker keeps its data, logs and state.json.",
)


@click.group("broker")
def broker_group() -> None:
    """Run a real Kafka broker locally, in the background (no Docker needed)."""


def _describe(target: LocalBroker | LocalCluster) -> None:
    nodes = target.nodes if isinstance(target, LocalCluster) else [target]
    click.echo(f"bootstrap: {target.bootstrap_servers}")
    click.echo(f"mode:      {target.mode}")
    for n in nodes:
        pid = n.pid if n.pid is not None else "not running"
        click.echo(f"node {n.node_id}:    pid {pid}, log {n.log_path}")
    if target.mode == "scram":
        first = nodes[0]
        click.echo(f"admin:     {first.admin_user} (SCRAM-SHA-512; password in {first.state_path})")
    if isinstance(target, LocalBroker) and (tls := target.tls) is not None:
        auth = "client certificate required" if tls.client_auth else "no client certificate"
        click.echo(
            f"tls:       {target.tls_bootstrap_servers} ({tls_protocol(target.mode)}, {auth})"
        )
        click.echo(f"ca:        {target.tls_cafile}")


@broker_group.command("start")
@_data_dir
@click.option("--mode", type=click.Choice(get_args(Mode)), default="plain", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Client port; 0 = any free.")
@click.option("--nodes", type=click.Choice(["1", "3"]), default="1", show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True)
@click.option("--timing", is_flag=True, help="Print start-to-ready seconds as the last line.")
@click.option(
    "--tls",
    is_flag=True,
    help="Add a TLS listener (SSL; SASL_SSL with --mode scram) with a throw-away CA.",
)
@click.option(
    "--client-auth", is_flag=True, help="With --tls: require client certificates from the CA."
)
@click.option(
    "--tls-port", type=click.IntRange(0, 65535), default=0, help="TLS port; 0 = any free."
)
def start(
    data_dir: Path,
    mode: Mode,
    port: int,
    nodes: str,
    timeout: float,
    timing: bool,
    tls: bool,
    client_auth: bool,
    tls_port: int,
) -> None:
    """Start in the background; returns once the broker serves metadata."""
    if (client_auth or tls_port) and not tls:
        raise BrokerError("--client-auth and --tls-port need --tls", hint="add --tls")
    target: LocalBroker | LocalCluster
    if nodes == "1":
        settings = TlsSettings(client_auth=client_auth, port=tls_port) if tls else None
        target = LocalBroker(data_dir, mode=mode, port=port, tls=settings, detach=True)
    else:
        if port:
            raise BrokerError("--port applies to a single node", hint="drop --port with --nodes 3")
        if tls:
            raise BrokerError("--tls applies to a single node", hint="drop --tls with --nodes 3")
        target = LocalCluster(data_dir, nodes=int(nodes), mode=mode, detach=True)
    if target.is_running:
        click.echo(f"already running in {data_dir}")
    target.start(timeout)
    _describe(target)
    if timing and target.ready_seconds is not None:
        click.echo(f"ready_seconds: {target.ready_seconds:.2f}")


@broker_group.command("stop")
@_data_dir
@click.option("--timeout", type=float, default=30.0, show_default=True)
def stop(data_dir: Path, timeout: float) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after --timeout)."""
    target = open_local(data_dir)
    if not target.is_running:
        click.echo(f"not running ({data_dir})")
        return
    target.stop(timeout)
    click.echo(f"stopped ({data_dir})")


@broker_group.command("status")
@_data_dir
def status(data_dir: Path) -> None:
    """Print address, pids, mode, and whether the broker serves metadata."""
    target = open_local(data_dir)
    _describe(target)
    nodes = target.nodes if isinstance(target, LocalCluster) else [target]
    serving = any(n.is_running for n in nodes) and nodes[0].serves_metadata()
    click.echo(f"serving:   {'yes' if serving else 'no'}")
    if not serving:
        raise SystemExit(1)


@broker_group.command("client-cert")
@_data_dir
@click.argument("name")
def client_cert(data_dir: Path, name: str) -> None:
    """Issue a client certificate NAME (e.g. an agency id) from the broker's TLS CA.

    Prints the ACCORD_SSL_* settings a client needs for a --client-auth listener.
    """
    target = open_local(data_dir)
    if not isinstance(target, LocalBroker) or target.tls is None:
        raise BrokerError(
            f"the broker in {data_dir} has no TLS listener",
            hint="start it with `accord broker start --tls`",
        )
    files = target.issue_client_cert(name)
    click.echo(f"ACCORD_SSL_CAFILE={target.tls_cafile}")
    click.echo(f"ACCORD_SSL_CERTFILE={files.certfile}")
    click.echo(f"ACCORD_SSL_KEYFILE={files.keyfile}")


@broker_group.command("fetch")
def fetch() -> None:
    """Resolve the Kafka jars from Maven Central into the cache (once)."""
    click.echo(str(ensure_jars()))
