"""``accord node`` (receiver + publisher + HTTP API in one process) and ``accord api``.

``accord api export|check`` write and drift-check the generated interface
documents: the node API's OpenAPI 3.1 (``schemas/openapi/``) and the Kafka
interface's AsyncAPI 3.0 for the default plan (``schemas/asyncapi/``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import click

from accord.cli.exchange import _settings, handover_endpoint, node_options, receiving_options
from accord.errors import ConfigError
from accord.node.heap import tune_node_heap

OPENAPI_FILE = "openapi/accord-node.openapi.json"


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"--listen {value!r} is not HOST:PORT",
            hint="e.g. 127.0.0.1:8443 (loopback unless TLS is configured)",
        )
    return host.strip("[]") or "127.0.0.1", int(port)


@click.command("node")
@node_options
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT of the HTTP API (default: $ACCORD_API_LISTEN or 127.0.0.1:8443).",
)
@click.option(
    "--api-tokens",
    type=click.Path(path_type=Path),
    default=None,
    help="Client token digests (`accord api token`); default: $ACCORD_API_TOKENS.",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path),
    default=None,
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--tls-key", type=click.Path(path_type=Path), default=None, help="The key of --tls-cert (PEM)."
)
@click.option(
    "--client-ca",
    type=click.Path(path_type=Path),
    default=None,
    help="Require client certificates issued by this CA (mutual TLS).",
)
@receiving_options
def node_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    listen: str | None,
    api_tokens: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    client_ca: Path | None,
    metrics_port: int | None,
    metrics_host: str | None,
    webhook: str | None,
    webhook_secret_env: str | None,
    webhook_timeout: float,
    handover_dead_after: float,
    fetch_wait_ms: int | None,
) -> None:
    """Run this agency's node: receiver, publisher and HTTP API, until SIGTERM or Ctrl-C."""
    from accord.api import ApiSettings, ClientTokens, Gateway
    from accord.node import open_node

    host, port = _listen(listen or os.environ.get("ACCORD_API_LISTEN") or "127.0.0.1:8443")
    tokens_path = api_tokens or (
        Path(os.environ["ACCORD_API_TOKENS"]) if os.environ.get("ACCORD_API_TOKENS") else None
    )
    api = ApiSettings(
        host=host,
        port=port,
        tokens=ClientTokens.load(tokens_path) if tokens_path else None,
        tls_certfile=tls_cert,
        tls_keyfile=tls_key,
        client_ca=client_ca,
    )
    api.check()
    handover = handover_endpoint(
        webhook, webhook_secret_env, timeout_s=webhook_timeout, dead_after_s=handover_dead_after
    )
    node = open_node(
        _settings(
            agency,
            plan_path,
            pki_dir,
            data_dir,
            bootstrap,
            metrics_port,
            fetch_wait_ms,
            metrics_host,
        )
    )

    async def run() -> None:
        from accord.observability.http import OpsServer

        gateway = Gateway(node, api, handover=handover)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, gateway.request_stop)
        ops: OpsServer | None = None
        await gateway.start()
        tune_node_heap()
        try:
            if node.settings.metrics_port is not None:
                r = gateway.receiver
                ops = OpsServer(
                    r.metrics,
                    healthy=lambda: r.healthy,
                    ready=lambda: r.ready,
                    host=node.settings.metrics_host,
                    port=node.settings.metrics_port,
                )
                await ops.start()
            click.echo(f"accord node {agency}: API on {api.url}/v1", err=True)
            await gateway.wait()
        finally:
            if ops is not None:
                await ops.stop()
            await gateway.stop()

    asyncio.run(run())


# -- accord api ---------------------------------------------------------------------


def interface_documents() -> dict[str, bytes]:
    """The generated documents, by path under ``schemas/``."""
    from accord.api.app import openapi_document
    from accord.api.asyncapi import ASYNCAPI_FILE, asyncapi_document, render
    from accord.plan import load_plan

    return {
        OPENAPI_FILE: render(openapi_document()),
        ASYNCAPI_FILE: render(asyncapi_document(load_plan(None))),
    }


@click.group("api")
def api_group() -> None:
    """The node's HTTP API and the Kafka interface: documents and client tokens."""


@api_group.command("export")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
def api_export(directory: Path) -> None:
    """Write the OpenAPI 3.1 and AsyncAPI 3.0 documents generated from the code and plan."""
    for name, data in interface_documents().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        click.echo(f"wrote {path}")


@api_group.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
def api_check(directory: Path) -> None:
    """Exit 1 when the checked-in OpenAPI/AsyncAPI documents differ from the generated ones."""
    drift = [
        name
        for name, data in interface_documents().items()
        if not (directory / name).is_file() or (directory / name).read_bytes() != data
    ]
    for name in drift:
        click.echo(f"drift: {directory / name}", err=True)
    if drift:
        click.echo("run `accord api export` and commit", err=True)
        sys.exit(1)
    click.echo("OpenAPI and AsyncAPI documents up to date")


@api_group.command("asyncapi")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="ACCORD_PLAN",
    help="Exchange plan (default: $ACCORD_PLAN or deploy/plan.yaml).",
)
def api_asyncapi(plan_path: Path | None) -> None:
    """Print the AsyncAPI 3.0 document of a plan's Kafka interface."""
    from accord.api.asyncapi import asyncapi_document, render
    from accord.plan import load_plan

    sys.stdout.buffer.write(render(asyncapi_document(load_plan(plan_path))))


@api_group.command("token")
@click.argument("client")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path),
    required=True,
    help="The node's token file (created if missing, mode 0600).",
)
def api_token(client: str, path: Path) -> None:
    """Make a bearer token for CLIENT; store only its digest in --file; print it once."""
    from accord.api import add_client

    token = add_client(path, client)
    click.echo(token)
    click.echo(f"stored the digest for {client} in {path}; the token is shown only now", err=True)
