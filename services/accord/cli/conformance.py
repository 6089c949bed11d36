"""``accord conformance``: run a verifier, in any language, over the conformance vectors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from accord.conformance.runner import Outcome, run


def _line(outcome: Outcome) -> None:
    if outcome.agrees:
        click.echo(f"agree     {outcome.id}  {outcome.got}")
    else:
        note = f"  ({outcome.note})" if outcome.note else ""
        click.echo(f"DISAGREE  {outcome.id}  expected {outcome.expected}, got {outcome.got}{note}")


@click.command("conformance")
@click.option(
    "--verifier",
    "command",
    required=True,
    metavar="CMD",
    help="The verifier command, split into words like a shell (no shell runs it).",
)
@click.option(
    "--vectors",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("schemas/vectors"),
    show_default=True,
    help="Directory holding manifest.json.",
)
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds the verifier has for each vector.",
)
def conformance_command(command: str, vectors: Path, timeout: float) -> None:
    """Run CMD over every vector and compare its verdicts (protocol: schemas/CONFORMANCE.md).

    Exit 0 only if every vector agrees, 1 on any disagreement, 2 if the verifier
    cannot be run to the end.
    """
    outcomes = run(command, vectors, timeout=timeout, report=_line)
    failed = sum(not o.agrees for o in outcomes)
    click.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
