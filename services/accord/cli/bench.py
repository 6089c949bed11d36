"""``accord bench``: throughput and latency figures (not a test; see docs/bench.md)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
from typing import get_args

import click

from accord.bench.run import (
    TARGETS,
    VARIANTS,
    BenchOptions,
    Figures,
    bench,
    medians,
    targets,
)
from accord.bench.stages import SLOW_COMMIT_MS
from accord.config import FETCH_WAIT_MS
from accord.errors import AccordError
from accord.node.heap import HeapMode
from accord.node.process import cpu_seconds
from accord.observability.logs import configure_logging


class BenchExtraMissing(AccordError):
    code = "bench-extra-missing"


class BenchOptionInvalid(AccordError):
    code = "bench-option-invalid"


def _check_broker_pid(broker_pid: int | None, bootstrap: str | None) -> None:
    """``--broker-pid`` names the ``--bootstrap`` broker's process, which must be one this
    machine runs and this user may read (its CPU comes from /proc)."""
    if broker_pid is None:
        return
    if bootstrap is None:
        raise BenchOptionInvalid(
            "--broker-pid names the broker of --bootstrap; without --bootstrap the bench "
            "starts a broker of its own and measures it",
            hint="drop --broker-pid, or add --bootstrap HOST:PORT of the broker it names",
        )
    if cpu_seconds(broker_pid) is None:
        raise BenchOptionInvalid(
            f"--broker-pid {broker_pid}: no process of that id to read CPU from on this machine",
            hint="give the pid of the broker's JVM (pgrep -f kafka.Kafka), or leave "
            "--broker-pid out to run without the broker's CPU",
        )


def _row(name: str, f: Figures, prefix: str, latency: bool = True) -> str:
    line = f"{name:40}{f[prefix + '_msgs_per_s']:>10.0f}"
    if latency:
        line += f"{f[prefix + '_p50_ms']:>10.1f}{f[prefix + '_p99_ms']:>10.1f}"
    return line


def _cpu_row(
    name: str,
    publisher: float | None,
    receiver: float | None,
    broker: float | None,
    total: float | None = None,
) -> str:
    cells = [
        f"{v:>11.0f}" if v is not None else f"{'':>11}"
        for v in (publisher, receiver, broker, total)
    ]
    return f"{name:29}{''.join(cells)}"


_ROUND_RATIOS = (
    ("throughput", "ratio_deployed_peer2"),
    ("publisher CPU", "ratio_cpu_publisher_peer2"),
    ("receiver CPU", "ratio_cpu_receiver_peer2"),
)
"""The accord / peer ratios shown round by round: on a shared machine the rounds
differ more than the medians suggest, and each round's two sides ran minutes apart."""


def _per_round(runs: list[Figures]) -> str:
    """accord / peer in each round, in the order the rounds ran."""
    return "accord / peer in each round: " + "; ".join(
        f"{name} " + " ".join(f"{r[key]:.2f}" for r in runs) for name, key in _ROUND_RATIOS
    )


def _table(f: Figures, options: BenchOptions, runs: list[Figures]) -> str:
    repeat = len(runs)
    how = f"median of {repeat} interleaved rounds" if repeat > 1 else "1 round"
    broker = "cpu_us_per_msg_broker" in f
    lines = [
        f"accord bench ({how}): {options.messages} msgs, {options.body_size} B bodies "
        f"(envelope {f['envelope_bytes']:.0f} B), {options.receivers} receiver(s), "
        f"fetch wait {options.fetch_wait_ms} ms, log level {options.log_level}, "
        f"peer subscriber's collector {options.peer_heap}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        f"{'':40}{'msgs/s':>10}{'p50 ms':>10}{'p99 ms':>10}",
        _row("(a) raw aiokafka produce+consume", f, "raw"),
        _row("(b) signed pipeline, one process", f, "pipeline"),
        _row("(b) signed + encrypted (v2)", f, "encrypted"),
        _row("    (b) publisher alone", f, "publish_only", latency=False),
        _row("    (b) receiver alone, drain", f, "receive_only", latency=False),
    ]
    for n, name in enumerate(options.variants):
        lines.append(
            _row(f"accord deployed, {name}", f, "deployed" if n == 0 else f"{name}_deployed")
        )
    lines += [
        _row("peer (FastStream), one process", f, "peer1"),
        _row("peer (FastStream), two processes", f, "peer2"),
        f"{'(c) bare Ed25519 sign / verify':40}{f['sign_per_s']:>10.0f}"
        f"{f['verify_per_s']:>10.0f} (verify)",
        _row(f"paced (b) at {f['paced_target_rate']:g} msgs/s", f, "paced"),
        _row(f"paced deployed at {f['paced_target_rate']:g} msgs/s", f, "paced_deployed"),
        _row(f"paced peer (2 processes) at {f['paced_target_rate']:g} msgs/s", f, "paced_peer2"),
        "",
        f"delivered: (b) {f['pipeline_deliveries']:.0f}/{f['pipeline_deliveries_expected']:.0f},"
        f" paced {f['paced_deliveries']:.0f}/{f['paced_deliveries_expected']:.0f}, deployed "
        f"{f['deployed_landed']:.0f}/{f['deployed_messages']:.0f}, paced deployed "
        f"{f['paced_deployed_landed']:.0f}/{f['paced_deployed_messages']:.0f}, peer "
        f"{f['peer1_landed']:.0f}+{f['peer2_landed']:.0f}/{2 * f['peer2_messages']:.0f},"
        f" paced peer {f['paced_peer2_landed']:.0f}/{f['paced_peer2_messages']:.0f};"
        f" rejected {f['pipeline_rejected']:.0f}+{f['paced_rejected']:.0f}",
        f"paced: receivers' histogram puts {f['paced_histogram_le_50ms']:.1%} at or under 50 ms;"
        f" max {f['paced_max_ms']:.1f} ms",
        f"paced deployed: {f['paced_deployed_share_waited']:.1%} of messages waited on an inbox"
        f" commit over {SLOW_COMMIT_MS:g} ms ({f['paced_deployed_slow_commits']:.0f} such commits,"
        f" the longest {f['paced_deployed_longest_ms']:.1f} ms); p99 of the others"
        f" {f['paced_deployed_p99_others_ms']:.1f} ms",
        "",
        "CPU per message (µs)"
        + "".join(f"{h:>11}" for h in ("", "publisher", "receiver", "broker", "total")),
        _cpu_row("(a) raw client, one process", f["raw_cpu_us_per_msg_process"], None, None),
        _cpu_row(
            "(b) one process (both)",
            f["pipeline_cpu_us_per_msg_process"],
            None,
            f.get("pipeline_cpu_us_per_msg_broker"),
        ),
        _cpu_row(
            "peer, one process (both)",
            f["peer1_cpu_us_per_msg_process"],
            None,
            f.get("peer1_cpu_us_per_msg_broker"),
        ),
    ]
    for n, name in enumerate(options.variants):
        p = "" if n == 0 else f"{name}_"
        lines.append(
            _cpu_row(
                f"accord deployed, {name}",
                f[f"{p}cpu_us_per_msg_publisher"],
                f[f"{p}cpu_us_per_msg_receiver"],
                f.get(f"{p}cpu_us_per_msg_broker"),
                f[f"{p}cpu_us_per_msg_total"],
            )
        )
    peer_pub, peer_sub = f["peer2_cpu_us_per_msg_publisher"], f["peer2_cpu_us_per_msg_subscriber"]
    peer_broker = f.get("peer2_cpu_us_per_msg_broker")
    lines += [
        _cpu_row(
            "peer, two processes",
            peer_pub,
            peer_sub,
            peer_broker,
            peer_pub + peer_sub + (peer_broker or 0.0),
        ),
        f"{'accord / peer (x)':29}{f['ratio_cpu_publisher_peer2']:>11.2f}"
        f"{f['ratio_cpu_receiver_peer2']:>11.2f}"
        + (f"{f['ratio_cpu_broker_peer2']:>11.2f}" if "ratio_cpu_broker_peer2" in f else ""),
        ""
        if broker
        else "(broker CPU not measured: --bootstrap without --broker-pid, not our process)",
        "per node, msgs/s per busy core: accord publisher "
        f"{f['publisher_msgs_per_core']:.0f}, receiver {f['receiver_msgs_per_core']:.0f}; "
        f"peer publisher {f['peer_publisher_msgs_per_core']:.0f}, subscriber "
        f"{f['peer_subscriber_msgs_per_core']:.0f}",
        *node_time_lines(f, options.variants[0]),
        f"accord / peer throughput: deployed / two-process {f['ratio_deployed_peer2']:.2f}x,"
        f" (b) / one-process {f['ratio_b_peer1']:.2f}x; (b) / raw (a) {f['ratio_b_a']:.3f}",
        *([_per_round(runs)] if repeat > 1 else []),
        encryption_line(f),
        f"peak RSS: {f['peak_rss_mib']:.0f} MiB (after a: {f['peak_rss_mib_after_a']:.0f},"
        f" after b: {f['peak_rss_mib_after_b']:.0f})",
        "",
        f"targets (issue 16; judged on accord deployed, {options.variants[0]}):",
    ]
    for t in TARGETS:
        value = f[t.key]
        verdict = "met" if t.met(f) else "MISSED"
        by = t.margin(f)
        lines.append(
            f"  {t.name:50} {verdict:7} {value:.2f}{t.unit}"
            f" ({'ahead' if by >= 0 else 'short'} by {abs(by):.0%})"
        )
    return "\n".join(lines)


def node_time_lines(f: Figures, variant: str) -> list[str]:
    """Where the receiving loops spent the run, accord's node and the two-process
    peer's subscriber (accord.bench.node_time); nothing where the kernel keeps no
    scheduler statistics."""

    def shares(prefix: str) -> str:
        return (
            f"on a core {f[prefix + 'on_core']:.0%}, waiting for a core "
            f"{f[prefix + 'waiting_for_core']:.0%}, on inbox syncs {f[prefix + 'syncing']:.0%},"
            f" the rest (waiting for records) {f[prefix + 'other']:.0%}"
        )

    lines = []
    if "deployed_node_on_core" in f:
        lines.append(
            f"receiving node's loop, accord deployed {variant}: {shares('deployed_node_')}"
        )
    if "peer2_node_on_core" in f:
        lines.append(f"subscriber's loop, peer (two processes): {shares('peer2_node_')}")
    return lines


def encryption_line(f: Figures) -> str:
    """Signed-only against signed + encrypted, one line (the demo prints it too)."""
    ratio = f["ratio_encrypted_signed"]
    return (
        f"signed-only vs signed+encrypted: {f['pipeline_msgs_per_s']:.0f} vs "
        f"{f['encrypted_msgs_per_s']:.0f} msgs/s ({ratio:.2f}x, target >= 0.7: "
        f"{'met' if ratio >= 0.7 else 'NOT met'}); CPU per message, one process "
        f"{f['pipeline_cpu_us_per_msg_process']:.0f} vs "
        f"{f['encrypted_cpu_us_per_msg_process']:.0f} µs; bytes per record "
        f"{f['envelope_bytes']:.0f} vs {f['encrypted_record_bytes']:.0f}"
    )


@click.command("bench")
@click.option(
    "--messages",
    type=click.IntRange(1),
    default=20_000,
    show_default=True,
    help="Messages for the throughput runs (a) and (b).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1, min_open=False),
    default=500.0,
    show_default=True,
    help="Paced run: messages per second.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Paced run: how long.",
)
@click.option(
    "--receivers",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Receiving agencies in (b), each its own Receiver and inbox.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Run everything this many times; print medians.",
)
@click.option(
    "--body-size",
    type=click.IntRange(256, 65536),
    default=1024,
    show_default=True,
    help="Bytes of each message body's JSON.",
)
@click.option("--ed25519-loops", type=click.IntRange(100), default=20_000, show_default=True)
@click.option(
    "--warmup",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Uncounted messages through (b) before it is timed.",
)
@click.option(
    "--fetch-wait-ms",
    type=click.IntRange(0, 500),
    default=FETCH_WAIT_MS,
    show_default=True,
    help="The receivers' fetch wait (accord receive --fetch-wait-ms); 0: at the first record.",
)
@click.option(
    "--bootstrap", default=None, help="Use this PLAINTEXT broker instead of starting a local one."
)
@click.option(
    "--broker-pid",
    type=click.IntRange(1),
    default=None,
    help="With --bootstrap: the broker's process id on this machine, so that its CPU per "
    "message is measured too.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    help="Log level of (b) and of the deployed node (INFO: a line per message).",
)
@click.option(
    "--peer-heap",
    type=click.Choice(get_args(HeapMode)),
    default="default",
    show_default=True,
    help="The two-process peer's subscriber's collector: as Python leaves it (what "
    "FastStream does), or as accord's node runs it.",
)
@click.option(
    "--variant",
    "variants",
    multiple=True,
    type=click.Choice(list(VARIANTS)),
    help="Pipeline variants to run as deployed (repeatable; default all). "
    "The first is the one the targets judge.",
)
def bench_command(
    messages: int,
    rate: float,
    seconds: float,
    receivers: int,
    repeat: int,
    body_size: int,
    ed25519_loops: int,
    warmup: int,
    fetch_wait_ms: int,
    bootstrap: str | None,
    broker_pid: int | None,
    as_json: bool,
    log_level: str,
    peer_heap: HeapMode,
    variants: tuple[str, ...],
) -> None:
    """Throughput, CPU and latency: accord against raw Kafka and a FastStream peer."""
    try:
        import faststream  # noqa: F401
    except ImportError:
        raise BenchExtraMissing(
            "the FastStream peer is not installed",
            hint="pip install -e '.[bench]' (make test installs it)",
        ) from None
    _check_broker_pid(broker_pid, bootstrap)
    configure_logging(log_level)
    options = BenchOptions(
        messages=messages,
        rate=rate,
        seconds=seconds,
        receivers=receivers,
        repeat=repeat,
        body_size=body_size,
        ed25519_loops=ed25519_loops,
        warmup=warmup,
        fetch_wait_ms=fetch_wait_ms,
        bootstrap=bootstrap,
        broker_pid=broker_pid,
        log_level=log_level.upper(),
        variants=variants or tuple(VARIANTS),
        peer_heap=peer_heap,
    )

    def progress(text: str) -> None:
        click.echo(f"... {text}", err=True)

    # Other work on the machine moves every figure: the load average says how much.
    load_before = os.getloadavg()[0]
    runs = asyncio.run(bench(options, progress))
    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    figures = medians(runs)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "options": options.__dict__,
                    "median": figures,
                    "runs": runs,
                    "targets": targets(figures),
                    "target_margins": {t.key: t.margin(figures) for t in TARGETS},
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "load": load,
                        "platform": platform.platform(),
                    },
                },
                indent=2,
            )
        )
    else:
        click.echo(_table(figures, options, runs))
        click.echo(load)
