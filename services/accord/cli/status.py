"""``accord status``: each agency's consumer group as the broker sees it.

Read through the admin API with the connection from the environment (the admin,
or any principal allowed to describe the groups and topics), so it answers while
the agencies' nodes are down: that is when their lag matters.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from accord.config import load_connection
from accord.plan import load_plan
from accord.status import GroupStatus, read_status


@click.command("status")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Exchange plan (default: $ACCORD_PLAN or deploy/plan.yaml).",
)
@click.option(
    "--bootstrap",
    default=None,
    help="Kafka bootstrap servers (default: $ACCORD_BOOTSTRAP_SERVERS).",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help="Only this agency (repeatable); all the plan's agencies by default.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition.")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 300),
    default=15.0,
    show_default=True,
    help="Seconds to wait for the broker.",
)
def status_command(
    plan_path: Path | None,
    bootstrap: str | None,
    agencies: tuple[str, ...],
    as_json: bool,
    timeout: float,
) -> None:
    """Per agency and partition: committed offset, end offset, lag, last commit, members."""
    plan = load_plan(plan_path)
    conn = load_connection(bootstrap_servers=bootstrap, client_id="accord-status")
    groups = asyncio.run(read_status(conn, plan, agencies or None, timeout_s=timeout))
    for g in groups:
        if as_json:
            _echo_json(g)
        else:
            _echo_text(g)


def _echo_json(g: GroupStatus) -> None:
    members = [
        {"member_id": m.member_id, "client_id": m.client_id, "host": m.host} for m in g.members
    ]
    for p in g.partitions:
        click.echo(
            json.dumps(
                {
                    "agency": g.agency,
                    "group": g.group,
                    "state": g.state,
                    "topic": p.topic,
                    "partition": p.partition,
                    "committed": p.committed,
                    "end": p.end,
                    "lag": p.lag,
                    "last_commit": p.last_commit.isoformat() if p.last_commit else None,
                    "members": members,
                }
            )
        )


def _echo_text(g: GroupStatus) -> None:
    who = ", ".join(f"{m.client_id}@{m.host}" for m in g.members) or "none"
    click.echo(f"{g.agency}  group {g.group}  {g.state}  lag {g.lag}  members: {who}")
    for p in g.partitions:
        committed = "-" if p.committed is None else str(p.committed)
        when = p.last_commit.isoformat() if p.last_commit else "-"
        click.echo(
            f"  {p.topic}[{p.partition}]  committed {committed}  end {p.end}  "
            f"lag {p.lag}  last commit {when}"
        )
