"""What a scenario measured, and the table ``accord soak`` prints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ScenarioResult:
    """Figures of one scenario run. Counts are messages, not Kafka records.

    ``duplicates`` counts extra copies that reached a receiver and were dropped by
    the inbox's message-id key (redeliveries and publisher retries); ``inbox_duplicates``
    counts copies that *landed* twice, which must stay 0. ``lost`` counts
    acknowledged messages missing from an entitled inbox, summed over inboxes.
    """

    name: str
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    delivered: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    inbox_duplicates: int = 0
    unexpected: int = 0
    lost: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    misclassified: int = 0
    recovery_s: float | None = None
    recoveries: int = 0
    faults: int = 0
    """Faults injected: kills, outages, withheld messages."""
    gaps: int = 0
    peak_rss_mib: float | None = None
    refusal: str | None = None
    """The error a publish got when the scenario expected a refusal (failover)."""
    refusal_expected: bool = False
    figures: dict[str, float] = field(default_factory=dict)
    """Scenario-specific figures (printed, and asserted on by the tests)."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing landed twice, nothing unexpected or misclassified."""
        return (
            self.lost == 0
            and self.inbox_duplicates == 0
            and self.unexpected == 0
            and self.misclassified == 0
            and (self.refusal is not None or not self.refusal_expected)
        )


def _fmt_map(values: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"


def render(results: Iterable[ScenarioResult]) -> str:
    """A plain-text table, one row per scenario, then per-scenario details."""
    rows = list(results)
    head = (
        f"{'scenario':<15}{'sent':>8}{'acked':>8}{'failed':>7}{'delivered/inbox':>20}"
        f"{'dup':>6}{'lost':>6}{'quar':>7}{'recov s':>9}  result"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        delivered = "/".join(str(v) for _, v in sorted(r.delivered.items())) or "-"
        recovery = f"{r.recovery_s:.1f}" if r.recovery_s is not None else "-"
        lines.append(
            f"{r.name:<15}{r.sent:>8}{r.acknowledged:>8}{r.failed:>7}{delivered:>20}"
            f"{r.duplicates:>6}{r.lost:>6}{sum(r.quarantined.values()):>7}{recovery:>9}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    lines.append("")
    for r in rows:
        lines.append(f"{r.name}:")
        lines.append(f"  delivered per inbox: {_fmt_map(r.delivered)}")
        lines.append(
            f"  duplicates dropped by the inbox: {r.duplicates}; landed twice: "
            f"{r.inbox_duplicates}; unexpected in inbox: {r.unexpected}; lost: {r.lost}"
        )
        lines.append(f"  quarantined by reason: {_fmt_map(r.quarantined)}")
        if r.misclassified:
            lines.append(f"  quarantined with the wrong reason or not at all: {r.misclassified}")
        extra = [
            f"faults injected {r.faults}",
            f"consumer recoveries {r.recoveries}",
            f"sequence gaps {r.gaps}",
        ]
        if r.peak_rss_mib is not None:
            extra.append(f"receiver peak RSS {r.peak_rss_mib:.0f} MiB")
        lines.append("  " + "; ".join(extra))
        if r.figures:
            lines.append("  " + ", ".join(f"{k}={v:g}" for k, v in sorted(r.figures.items())))
        lines.extend(f"  note: {n}" for n in r.notes)
    return "\n".join(lines)
