"""``accord bench``: throughput and latency figures (not a test; see docs/bench.md)."""

from __future__ import annotations

import asyncio
import json
import os
import platform

import click

from accord.bench.run import (
    TARGET_B_OVER_C,
    TARGET_P99_MS,
    BenchOptions,
    Figures,
    bench,
    medians,
    targets,
)
from accord.observability.logs import configure_logging


def _table(f: Figures, options: BenchOptions, repeat: int) -> str:
    met = targets(f)
    yes = {True: "met", False: "NOT met"}
    how = f"median of {repeat} runs" if repeat > 1 else "1 run"
    lines = [
        f"accord bench ({how}): {options.messages} msgs, {options.body_size} B bodies "
        f"(envelope {f['envelope_bytes']:.0f} B), {options.receivers} receiver(s), "
        f"fetch wait {options.fetch_wait_ms} ms, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        f"{'':34}{'msgs/s':>10}{'p50 ms':>10}{'p99 ms':>10}",
        f"{'(a) raw aiokafka produce+consume':34}{f['raw_msgs_per_s']:>10.0f}"
        f"{f['raw_p50_ms']:>10.1f}{f['raw_p99_ms']:>10.1f}",
        f"{'(b) signed pipeline, to inbox':34}{f['pipeline_msgs_per_s']:>10.0f}"
        f"{f['pipeline_p50_ms']:>10.1f}{f['pipeline_p99_ms']:>10.1f}",
        f"{'(b) signed + encrypted (v2)':34}{f['encrypted_msgs_per_s']:>10.0f}"
        f"{f['encrypted_p50_ms']:>10.1f}{f['encrypted_p99_ms']:>10.1f}",
        f"{'    (b) publisher alone':34}{f['publish_only_msgs_per_s']:>10.0f}",
        f"{'    (b) receiver alone, drain':34}{f['receive_only_msgs_per_s']:>10.0f}",
        f"{'(b) deployed: receiver own process':34}{f['deployed_msgs_per_s']:>10.0f}"
        f"{f['deployed_p50_ms']:>10.1f}{f['deployed_p99_ms']:>10.1f}",
        f"{'(c) bare Ed25519 sign':34}{f['sign_per_s']:>10.0f}",
        f"{'(c) bare Ed25519 verify':34}{f['verify_per_s']:>10.0f}",
        f"{'paced (b) at ' + format(f['paced_target_rate'], 'g') + ' msgs/s':34}"
        f"{f['paced_msgs_per_s']:>10.0f}{f['paced_p50_ms']:>10.1f}{f['paced_p99_ms']:>10.1f}",
        "",
        f"delivered: throughput {f['pipeline_deliveries']:.0f}/"
        f"{f['pipeline_deliveries_expected']:.0f}, paced {f['paced_deliveries']:.0f}/"
        f"{f['paced_deliveries_expected']:.0f}; rejected {f['pipeline_rejected']:.0f}+"
        f"{f['paced_rejected']:.0f}",
        f"paced: receivers' histogram puts {f['paced_histogram_le_50ms']:.1%} at or under 50 ms;"
        f" max {f['paced_max_ms']:.1f} ms",
        f"ratio b/a = {f['ratio_b_a']:.3f}   ratio b/c (c = bare verify) = {f['ratio_b_c']:.3f}"
        f"   deployed/c = {f['ratio_deployed_c']:.3f}",
        _cpu_line(f),
        encryption_line(f),
        f"peak RSS: {f['peak_rss_mib']:.0f} MiB (after a: {f['peak_rss_mib_after_a']:.0f},"
        f" after b: {f['peak_rss_mib_after_b']:.0f})",
        "",
        f"target b >= {TARGET_B_OVER_C} x bare verify: {yes[met['b_over_c_at_least_0.5']]}"
        f" ({f['ratio_b_c']:.3f})",
        f"target paced p99 < {TARGET_P99_MS:g} ms: {yes[met['paced_p99_under_50ms']]}"
        f" ({f['paced_p99_ms']:.1f} ms)",
    ]
    return "\n".join(lines)


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


def _cpu_line(f: Figures) -> str:
    parts = [f"publisher {f['cpu_us_per_msg_publisher']:.0f}",
             f"receiver {f['cpu_us_per_msg_receiver']:.0f}"]
    if "cpu_us_per_msg_broker" in f:
        parts.append(f"broker {f['cpu_us_per_msg_broker']:.0f}")
    one = f"(b) one process {f['pipeline_cpu_us_per_msg_process']:.0f}"
    if "pipeline_cpu_us_per_msg_broker" in f:
        one += f" + broker {f['pipeline_cpu_us_per_msg_broker']:.0f}"
    return (
        f"CPU per message (µs): (a) raw client {f['raw_cpu_us_per_msg_process']:.0f}; {one}\n"
        f"CPU per message, deployed (µs): {', '.join(parts)}; total "
        f"{f['cpu_us_per_msg_total']:.0f} -> at most {f['cpu_ceiling_msgs_per_s']:.0f} msgs/s "
        f"on {f['cores']:.0f} cores ({f['ratio_ceiling_c']:.3f} x bare verify)"
    )


@click.command("bench")
@click.option("--messages", type=click.IntRange(1), default=20_000, show_default=True,
              help="Messages for the throughput runs (a) and (b).")
@click.option("--rate", type=click.FloatRange(min=1, min_open=False), default=500.0,
              show_default=True, help="Paced run: messages per second.")
@click.option("--seconds", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Paced run: how long.")
@click.option("--receivers", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Receiving agencies in (b), each its own Receiver and inbox.")
@click.option("--repeat", type=click.IntRange(1), default=1, show_default=True,
              help="Run everything this many times; print medians.")
@click.option("--body-size", type=click.IntRange(256, 65536), default=1024, show_default=True,
              help="Bytes of each message body's JSON.")
@click.option("--ed25519-loops", type=click.IntRange(100), default=20_000, show_default=True)
@click.option("--warmup", type=click.IntRange(0), default=500, show_default=True,
              help="Uncounted messages through (b) before it is timed.")
@click.option("--fetch-wait-ms", type=click.IntRange(0, 500), default=10, show_default=True,
              help="The receivers' fetch wait (accord receive --fetch-wait-ms); 0 = none.")
@click.option("--bootstrap", default=None,
              help="Use this PLAINTEXT broker instead of starting a local one.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--log-level", default="WARNING", show_default=True,
              help="Log level during the run (INFO logs three lines per message).")
def bench_command(
    messages: int, rate: float, seconds: float, receivers: int, repeat: int, body_size: int,
    ed25519_loops: int, warmup: int, fetch_wait_ms: int, bootstrap: str | None, as_json: bool,
    log_level: str,
) -> None:
    """Throughput and latency: raw Kafka vs the signed pipeline vs bare Ed25519."""
    configure_logging(log_level)
    options = BenchOptions(
        messages=messages, rate=rate, seconds=seconds, receivers=receivers, repeat=repeat,
        body_size=body_size, ed25519_loops=ed25519_loops, warmup=warmup,
        fetch_wait_ms=fetch_wait_ms, bootstrap=bootstrap,
    )

    def progress(text: str) -> None:
        click.echo(f"... {text}", err=True)

    runs = asyncio.run(bench(options, progress))
    figures = medians(runs)
    if as_json:
        click.echo(json.dumps({
            "options": options.__dict__,
            "median": figures,
            "runs": runs,
            "targets": targets(figures),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
        }, indent=2))
    else:
        click.echo(_table(figures, options, repeat))
