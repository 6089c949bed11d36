"""``accord quarantine list|show|replay``: a way back from an agency's quarantine.

Replay lands, exactly once, what today's trust store accepts (a message refused as
``unknown-key`` before its sender's certificate arrived, for instance) and reports,
one ``error [reason]: ...`` line and a hint each, what is still refused.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import click

from accord.cli.exchange import _settings, node_options
from accord.confidentiality import Keyring
from accord.config import NodeSettings
from accord.errors import ConfigError
from accord.handover import has_outbox
from accord.node import open_node
from accord.plan import Plan, load_plan
from accord.quarantine import (
    QuarantinedRecord,
    QuarantineError,
    ReplayResult,
    current_keys,
    current_trust,
    find,
    iter_quarantine,
    parse_ref,
    replay,
)
from accord.receiver.inbox import Inbox
from accord.trust import TrustStore
from accord.trust.pki import PkiDirectory


def _open(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
) -> tuple[NodeSettings, Plan]:
    settings = _settings(agency, plan_path, pki_dir, data_dir, bootstrap)
    plan = load_plan(settings.plan_path)
    plan.agency(agency)  # an agency the plan does not know fails here, clearly
    return settings, plan


async def _keyring(settings: NodeSettings, plan: Plan) -> Keyring | None:
    """The node's keyring with every CWK on the key topics opened (None: no keys)."""
    keys = open_node(settings).keys
    if keys is None:
        return None
    return (await current_keys(settings.kafka, plan, keys)).keyring


@click.group("quarantine")
def quarantine_group() -> None:
    """List, show and replay what this agency's node quarantined."""


@quarantine_group.command("list")
@node_options
@click.option("--reason", default=None, help="Only records refused for this reason code.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """One line per quarantined record: where it is, why, where it came from."""
    settings, plan = _open(agency, plan_path, pki_dir, data_dir, bootstrap)

    async def run() -> None:
        # Streamed: a quarantine flooded by a hostile sender is listed in bounded memory.
        async for r in iter_quarantine(settings.kafka, plan.quarantine_topic(agency)):
            if reason is not None and r.reason != reason:
                continue
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "ref": r.ref,
                            "reason": r.reason,
                            "detail": r.detail,
                            "source": r.source,
                            "bytes": len(r.value or b""),
                            "truncated": r.original_size is not None,
                        }
                    )
                )
            else:
                click.echo(f"{r.ref:<8} {r.reason:<24} {r.source:<60} {r.detail[:80]}")

    asyncio.run(run())


@quarantine_group.command("show")
@node_options
@click.argument("ref")
def show_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    ref: str,
) -> None:
    """One record (REF = partition:offset from `list`) and what replay would do now."""
    settings, plan = _open(agency, plan_path, pki_dir, data_dir, bootstrap)

    async def lookup() -> tuple[QuarantinedRecord, TrustStore, Keyring | None]:
        record = await find(settings.kafka, plan.quarantine_topic(agency), ref)
        bundle = PkiDirectory(settings.pki_dir).bundle_path
        trust = await current_trust(settings.kafka, plan, bundle)
        return record, trust, await _keyring(settings, plan)

    record, trust, keyring = asyncio.run(lookup())
    click.echo(
        json.dumps(
            {
                "ref": record.ref,
                "reason": record.reason,
                "detail": record.detail,
                "source": record.source,
                "bytes": len(record.value or b""),
                "original_size": record.original_size,
            },
            indent=2,
        )
    )
    # What replay would do, judged without touching the inbox: a scratch one, private
    # and thrown away.
    with tempfile.TemporaryDirectory(prefix="accord-quarantine-") as scratch_dir:
        scratch = Inbox(Path(scratch_dir) / "scratch.sqlite")
        try:
            [outcome] = replay(
                [record], agency=agency, plan=plan, trust=trust, inbox=scratch, keyring=keyring
            )
        finally:
            scratch.close()
    if outcome.outcome == "still-refused":
        click.echo(f"now: still refused [{outcome.reason}]: {outcome.detail}")
        click.echo(f"hint: {outcome.hint}")
    else:
        click.echo(
            f"now: passes verification (message {outcome.message_id}); "
            "`accord quarantine replay` lands it unless the inbox already holds it"
        )


@quarantine_group.command("replay")
@node_options
@click.argument("refs", nargs=-1)
@click.option(
    "--reason", default=None, help="Only records refused for this reason code, e.g. unknown-key."
)
def replay_command(
    agency: str,
    plan_path: Path | None,
    pki_dir: Path | None,
    data_dir: Path | None,
    bootstrap: str | None,
    refs: tuple[str, ...],
    reason: str | None,
) -> None:
    """Re-verify quarantined records (all, or REFS) with today's trust store and land
    what now passes, once. Exits 1 if some are still refused."""
    settings, plan = _open(agency, plan_path, pki_dir, data_dir, bootstrap)
    if not settings.inbox_path.exists():
        raise ConfigError(
            f"no inbox at {settings.inbox_path}",
            hint="run `accord receive --agency ...` first, or pass --data-dir",
        )
    chosen = {parse_ref(ref) for ref in refs}
    missing = set(chosen)
    tally = {"landed": 0, "already-landed": 0, "still-refused": 0}

    def report(res: ReplayResult) -> None:
        tally[res.outcome] += 1
        if res.outcome == "still-refused":
            click.echo(
                f"error [{res.reason}]: {res.record.ref} (from {res.record.source}): {res.detail}",
                err=True,
            )
            click.echo(f"hint: {res.hint}", err=True)
        else:
            click.echo(
                f"{res.outcome:<15} {res.record.ref:<8} {res.message_id}  "
                f"(quarantined as {res.record.reason})"
            )

    async def run() -> None:
        trust = await current_trust(
            settings.kafka, plan, PkiDirectory(settings.pki_dir).bundle_path
        )
        keyring = await _keyring(settings, plan)
        inbox = Inbox(settings.inbox_path, outbox=has_outbox(settings.inbox_path))
        try:
            # One record at a time, each landing its own transaction: memory stays
            # bounded, and an interrupted replay is simply run again.
            async for q in iter_quarantine(settings.kafka, plan.quarantine_topic(agency)):
                where = (q.partition, q.offset)
                if (chosen and where not in chosen) or (reason and q.reason != reason):
                    continue
                missing.discard(where)
                for res in replay(
                    [q], agency=agency, plan=plan, trust=trust, inbox=inbox, keyring=keyring
                ):
                    report(res)
        finally:
            inbox.close()

    asyncio.run(run())
    if missing:
        refs_missing = ", ".join(f"{p}:{o}" for p, o in sorted(missing))
        raise QuarantineError(
            f"no quarantined record at {refs_missing}",
            hint="take refs (partition:offset) from `accord quarantine list`",
        )
    click.echo(
        f"replayed {sum(tally.values())}: landed {tally['landed']}, already landed "
        f"{tally['already-landed']}, still refused {tally['still-refused']}"
    )
    if tally["still-refused"]:
        sys.exit(1)
