"""``accord handover list|retry|secret``: the state of handover to the agency system.

Handover state is separate from receipts (which mean "landed in the node"). A row
is pending (with its attempts and last error), delivered, or dead; ``retry``
makes rows due again, ``--force`` even when the agency system already took them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from accord.config import load_connection, load_node_settings
from accord.errors import AccordError, ConfigError
from accord.handover import Outbox, Row, has_outbox, new_secret


class HandoverError(AccordError):
    code = "handover-not-found"


def _inbox_path(agency: str, data_dir: Path | None) -> Path:
    directory = data_dir or load_node_settings(agency, kafka=load_connection()).data_dir
    path = directory / "inbox.sqlite"
    if not has_outbox(path):
        raise ConfigError(
            f"no handover outbox in {path}",
            hint="the node hands over when started with "
            "`accord receive --webhook URL --webhook-secret-env VAR`",
        )
    return path


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@click.group("handover")
def handover_group() -> None:
    """Handover of landed messages to the agency system (signed webhook, retried)."""


@handover_group.command("list")
@click.option("--agency", required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--state", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(agency: str, data_dir: Path | None, state: str | None, as_json: bool) -> None:
    """One line per message: its handover state, attempts and last error."""
    outbox = Outbox(_inbox_path(agency, data_dir), read_only=True)
    try:
        rows = list(outbox.rows(state))  # type: ignore[arg-type]
        counts = outbox.counts()
    finally:
        outbox.close()
    for r in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "message_id": r.message_id,
                        "sender": r.sender,
                        "webhook_id": r.webhook_id,
                        "state": r.state,
                        "attempts": r.attempts,
                        "last_error": r.last_error,
                        "next_attempt_at": _when(r.next_attempt_at)
                        if r.state == "pending"
                        else None,
                        "delivered_at": _when(r.delivered_at),
                    }
                )
            )
        else:
            click.echo(
                f"{r.message_id}  {r.sender:<12} {r.state:<9} attempts {r.attempts:<3} "
                f"{r.last_error or ''}"
            )
    if not as_json:
        click.echo(
            f"pending {counts['pending']}, delivered {counts['delivered']}, dead {counts['dead']}"
        )


@handover_group.command("retry")
@click.option("--agency", required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead row.")
@click.option(
    "--force",
    is_flag=True,
    help="Hand over again even what the agency system already took "
    "(same webhook-id, so it can still dedupe).",
)
@click.argument("message_ids", nargs=-1)
def retry_command(
    agency: str, data_dir: Path | None, all_dead: bool, force: bool, message_ids: tuple[str, ...]
) -> None:
    """Make MESSAGE_IDS (or, with --dead, every dead row) due now; the running node
    sends them at its next look (within a second)."""
    if not message_ids and not all_dead:
        raise ConfigError("nothing to retry", hint="give message ids, or --dead")
    outbox = Outbox(_inbox_path(agency, data_dir))
    try:
        chosen: list[Row] = list(outbox.rows("dead")) if all_dead else []
        for mid in message_ids:
            found = outbox.find(mid)
            if not found:
                raise HandoverError(
                    f"no handover row for message {mid}", hint="see `accord handover list`"
                )
            for row in found:
                if row.state == "delivered" and not force:
                    raise ConfigError(
                        f"message {mid} was already handed over",
                        hint="add --force to hand it over again",
                    )
            chosen += found
        changed = outbox.retry(chosen, force=force)
    finally:
        outbox.close()
    click.echo(f"{changed} handover(s) due again")


@handover_group.command("secret")
def secret_command() -> None:
    """Print a new whsec_ secret for an endpoint (give it to the agency system too)."""
    click.echo(new_secret())
