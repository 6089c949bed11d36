"""``accord soak``: the reliability scenarios at full size, as a table (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import click

from accord.broker import LocalBroker
from accord.observability.logs import configure_logging
from accord.plan import load_plan
from accord.soak import (
    broker_crash,
    failover,
    gap,
    hostile,
    receiver_crash,
    stuck,
)
from accord.soak.report import ScenarioResult, render
from accord.trust.pki import provision

SCENARIOS = ("broker-crash", "failover", "receiver-crash", "hostile", "gap", "stuck")


async def _soak(
    chosen: list[str], messages: int, hostile_n: int, workdir: Path, seed: int | None
) -> list[ScenarioResult]:
    pki = provision(workdir / "pki", load_plan(None).agencies)
    results: list[ScenarioResult] = []

    def say(name: str, began: float) -> None:
        click.echo(f"  {name}: done in {time.monotonic() - began:.0f} s", err=True)

    # Scenarios that break their broker start their own; the others share one.
    shared: LocalBroker | None = None
    try:
        for name in chosen:
            began = time.monotonic()
            click.echo(f"soak: {name} ...", err=True)
            where = workdir / name
            where.mkdir(parents=True, exist_ok=True)
            if name == "broker-crash":
                results.append(await broker_crash.run(where, messages=messages, pki=pki))
            elif name == "failover":
                results.append(await failover.run(where, messages=messages, pki=pki))
            elif name == "stuck":
                results.append(await stuck.run(where, messages=messages // 5, pki=pki))
            else:
                if shared is None:
                    shared = LocalBroker(workdir / "kafka", mode="plain")
                    await asyncio.to_thread(shared.start)
                conn = shared.connection()
                if name == "receiver-crash":
                    results.append(
                        await receiver_crash.run(conn, where, messages=messages, pki=pki, seed=seed)
                    )
                elif name == "hostile":
                    results.append(await hostile.run(conn, where, hostile=hostile_n, seed=seed))
                elif name == "gap":
                    results.append(
                        await gap.run(conn, where, messages=messages // 5, pki=pki, seed=seed)
                    )
            say(name, began)
    finally:
        if shared is not None:
            await asyncio.to_thread(shared.stop)
    return results


@click.command("soak")
@click.option(
    "--messages",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Messages per crash scenario (gap and stuck use a fifth).",
)
@click.option(
    "--hostile",
    "hostile_n",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Hostile records injected by the hostile scenario.",
)
@click.option(
    "--scenario", type=click.Choice(["all", *SCENARIOS]), default="all", show_default=True
)
@click.option("--seed", type=int, default=None, help="Fix the random fault points.")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where brokers and nodes live (default: a fresh temporary directory).",
)
def soak_command(
    messages: int, hostile_n: int, scenario: str, seed: int | None, work_dir: Path | None
) -> None:
    """Run the reliability scenarios (crashes, failover, hostile input) and print figures.

    Starts its own brokers (no Docker); takes a few minutes at the default size.
    Exits 1 if any scenario lost, duplicated or misclassified anything.
    """
    chosen = list(SCENARIOS) if scenario == "all" else [scenario]
    with tempfile.TemporaryDirectory(prefix="accord-soak-") as tmp:
        workdir = work_dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        # The nodes' warnings (sequence gaps, recoveries, rejections) are part of
        # what is measured: keep them, in a file, off the console.
        with (workdir / "soak.log").open("w", encoding="utf-8") as log_file:
            configure_logging("WARNING", json=True, stream=log_file)
            began = time.monotonic()
            results = asyncio.run(_soak(chosen, messages, hostile_n, workdir, seed))
    click.echo(
        f"accord soak: {messages} messages, {hostile_n} hostile records, "
        f"{time.monotonic() - began:.0f} s"
    )
    click.echo(render(results))
    if not all(r.ok for r in results):
        raise SystemExit(1)
