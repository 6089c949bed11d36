"""Prometheus metrics, one registry per node so several nodes can share a process
(the demo and the tests run many nodes in one interpreter).

The dashboard's queries and the alert rules are checked against the names these
registries really expose (tests/unit/test_dashboard.py), so a renamed metric
breaks a test rather than a graph.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily

from accord import __version__

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _HasCrls(Protocol):
    def crls(self) -> Iterable[Any]: ...


class _FeedHealth(Protocol):
    last_poll: float | None
    last_record: float | None


@dataclass
class NodeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.records = Counter(
            "accord_records",
            "Records taken off Kafka, by outcome and reason",
            ["agency", "outcome", "reason"],
            registry=r,
        )
        self.published = Counter(
            "accord_published",
            "Messages published and acknowledged by the broker",
            ["agency", "topic"],
            registry=r,
        )
        self.publish_refused = Counter(
            "accord_publish_refused",
            "Publishes refused before sending, by reason",
            ["agency", "reason"],
            registry=r,
        )
        self.publish_failed = Counter(
            "accord_publish_failed",
            "Publishes the broker did not acknowledge in time",
            ["agency"],
            registry=r,
        )
        self.latency = Histogram(
            "accord_end_to_end_latency_seconds",
            "From the signed issued-at to the durable inbox write",
            ["agency"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "accord_consumer_lag",
            "Records behind the partition's high watermark",
            ["agency", "topic", "partition"],
            registry=r,
        )
        self.gaps = Counter(
            "accord_sequence_gaps",
            "Messages found missing by per-sender sequence numbers",
            ["agency", "sender", "topic"],
            registry=r,
        )
        self.receipts = Counter(
            "accord_receipts_sent",
            "Signed receipts acknowledged by the broker",
            ["agency"],
            registry=r,
        )
        self.recoveries = Counter(
            "accord_consumer_recoveries",
            "Times a stuck consumer was rebuilt",
            ["agency"],
            registry=r,
        )
        self.trust_rejected = Counter(
            "accord_trust_records_rejected",
            "Trust-topic records that could not be applied and were skipped, by error",
            ["agency", "error"],
            registry=r,
        )
        self.trust_feed_restarts = Counter(
            "accord_trust_feed_restarts",
            "Times the trust feed's follow loop failed and restarted",
            ["agency"],
            registry=r,
        )
        # Handover to the agency system (accord.handover): separate from receipts,
        # which mean "landed in the node".
        self.handover_pending = Gauge(
            "accord_handover_pending",
            "Landed messages not yet taken by the agency system",
            ["agency"],
            registry=r,
        )
        self.handover_delivered = Counter(
            "accord_handover_delivered",
            "Messages the agency system acknowledged (2xx)",
            ["agency"],
            registry=r,
        )
        self.handover_dead = Counter(
            "accord_handover_dead",
            "Messages parked as dead after the retry window",
            ["agency"],
            registry=r,
        )
        self.handover_attempt = Histogram(
            "accord_handover_attempt_seconds",
            "One webhook request, by outcome",
            ["agency", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # Which build is running, and the process itself (CPU, memory, open files,
        # start time): the first things asked of a misbehaving node.
        Info("accord_build", "The running accord build", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def watch_ready(self, ready: Callable[[], bool], *, agency: str = "") -> None:
        """Export the node's readiness (the same answer as ``/readyz``), read at scrape
        time, so Prometheus sees a node that runs but is not ready."""
        gauge = Gauge(
            "accord_node_ready",
            "1 while the node is ready (as /readyz says)",
            ["agency"],
            registry=self.registry,
        )
        gauge.labels(agency).set_function(lambda: 1.0 if ready() else 0.0)

    def watch_trust(
        self, store: _HasCrls, feed: _FeedHealth | None = None, *, agency: str = ""
    ) -> None:
        """Export the trust store's CRL dates and, given one, the trust feed's health.

        Read at scrape time, so a CRL the feed applies shows up at the next scrape
        with nothing else to update.
        """
        self.registry.register(_TrustCollector(store, feed, agency))


class _TrustCollector:
    def __init__(self, store: _HasCrls, feed: _FeedHealth | None, agency: str) -> None:
        self._store = store
        self._feed = feed
        self._agency = agency

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # collected lazily; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        next_update = GaugeMetricFamily(
            "accord_trust_crl_next_update_timestamp_seconds",
            "When each applied CRL says the next one is due (Unix time)",
            labels=["agency", "issuer"],
        )
        last_update = GaugeMetricFamily(
            "accord_trust_crl_last_update_timestamp_seconds",
            "When each applied CRL was issued (Unix time)",
            labels=["agency", "issuer"],
        )
        newest: dict[str, Any] = {}
        for crl in self._store.crls():
            issuer = crl.issuer.rfc4514_string()
            if issuer not in newest or crl.last_update_utc > newest[issuer].last_update_utc:
                newest[issuer] = crl
        for issuer, crl in sorted(newest.items()):
            last_update.add_metric([self._agency, issuer], crl.last_update_utc.timestamp())
            if crl.next_update_utc is not None:
                next_update.add_metric([self._agency, issuer], crl.next_update_utc.timestamp())
        yield next_update
        yield last_update
        if self._feed is not None:
            for name, value, text in (
                (
                    "accord_trust_feed_last_poll_timestamp_seconds",
                    self._feed.last_poll,
                    "When the trust feed last read the trust topic without error (Unix time)",
                ),
                (
                    "accord_trust_feed_last_record_timestamp_seconds",
                    self._feed.last_record,
                    "When the trust feed last applied a record (Unix time)",
                ),
            ):
                family = GaugeMetricFamily(name, text, labels=["agency"])
                if value is not None:
                    family.add_metric([self._agency], value)
                yield family


@dataclass
class MonitorMetrics:
    """What the monitor exports: delivery acknowledgements, and every agency's
    consumer-group position as the broker sees it (so lag shows while a node is down)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.overdue = Gauge(
            "accord_acks_overdue",
            "Messages an entitled agency has not acknowledged within the deadline",
            ["agency"],
            registry=r,
        )
        self.messages = Gauge(
            "accord_monitor_messages",
            "Messages the monitor has seen receipts for",
            registry=r,
        )
        self.receipts_rejected = Counter(
            "accord_monitor_receipts_rejected",
            "Receipts that did not verify, by reason",
            ["reason"],
            registry=r,
        )
        self.group_committed = Gauge(
            "accord_group_committed_offset",
            "The agency group's committed offset, read from the broker",
            ["agency", "topic", "partition"],
            registry=r,
        )
        self.group_end = Gauge(
            "accord_group_end_offset",
            "The partition's end offset, read from the broker",
            ["agency", "topic", "partition"],
            registry=r,
        )
        self.group_lag = Gauge(
            "accord_group_lag",
            "Records the agency group has not committed yet, read from the broker",
            ["agency", "topic", "partition"],
            registry=r,
        )
        self.group_members = Gauge(
            "accord_group_members",
            "Members of the agency's consumer group",
            ["agency"],
            registry=r,
        )
        self.status_ok = Gauge(
            "accord_monitor_status_last_success_timestamp_seconds",
            "When the monitor last read every group's offsets from the broker (Unix time)",
            registry=r,
        )
        Info("accord_build", "The running accord build", registry=r).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(registry=r)

    def mark_status(self, clock: Callable[[], float] = time.time) -> None:
        self.status_ok.set(clock())
