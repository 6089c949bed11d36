"""Entry point of the ``accord`` command.

Each concept's commands live in their own module (``accord.cli.broker``, ...)
and are registered here. Errors raised on purpose (``AccordError``) print as
``error: ...`` with a hint and exit 2, never as a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from accord import __version__
from accord.errors import AccordError
from accord.observability.logs import configure_logging


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccordError as exc:
            click.echo(f"error [{exc.code}]: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Cli)
@click.version_option(__version__, prog_name="accord")
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING, ERROR")
@click.option("--log-json/--log-console", default=None, help="Force JSON lines or console logs.")
def cli(log_level: str, log_json: bool | None) -> None:
    """accord: signed, labelled information exchange over Apache Kafka."""
    configure_logging(log_level, json=log_json)


def _register() -> None:
    # One line per concept; each module defines a click group or command.
    from accord.cli import commands

    for command in commands.ALL:
        cli.add_command(command)


def main() -> None:
    _register()
    cli(prog_name="accord")
