"""``accord demo``: run the whole exchange locally and print who got what."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from accord.demo.report import render
from accord.demo.run import run_demo

DEFAULT_DIR = Path("var/demo")


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="Working directory; deleted and recreated on every run.",
)
@click.option(
    "--plain",
    is_flag=True,
    help="PLAINTEXT broker without authorizer (default: SASL/SCRAM with ACLs).",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Exchange plan (default: $ACCORD_PLAN or deploy/plan.yaml).",
)
@click.option(
    "--ack-deadline",
    type=click.FloatRange(min=0.0),
    default=5.0,
    show_default=True,
    help="Seconds within which every entitled agency must acknowledge.",
)
@click.option(
    "--settle-timeout",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the nodes to receive everything.",
)
def demo(
    directory: Path, plain: bool, plan_path: Path | None, ack_deadline: float, settle_timeout: float
) -> None:
    """Start a broker, run every agency node, publish a realistic exchange, inject a
    tampered and a mislabelled record, and check the outcome.

    Exits 0 only if every entitled agency received what it should, the bad records
    were quarantined with the expected reason codes and the USA received nothing
    bilateral. Logs go to DIR/demo.log.
    """
    result = asyncio.run(
        run_demo(
            directory,
            plain=plain,
            plan_path=plan_path,
            ack_deadline_s=ack_deadline,
            settle_s=settle_timeout,
            say=lambda line: click.echo(line),
        )
    )
    for line in render(result):
        click.echo(line)
    sys.exit(0 if result.ok else 1)
