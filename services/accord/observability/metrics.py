"""Prometheus metrics, one registry per node so several nodes can share a process
(the demo and the tests run many nodes in one interpreter)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class NodeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.records = Counter(
            "accord_records", "Records taken off Kafka, by outcome and reason",
            ["agency", "outcome", "reason"], registry=r,
        )
        self.published = Counter(
            "accord_published", "Messages published and acknowledged by the broker",
            ["agency", "topic"], registry=r,
        )
        self.publish_refused = Counter(
            "accord_publish_refused", "Publishes refused before sending, by reason",
            ["agency", "reason"], registry=r,
        )
        self.latency = Histogram(
            "accord_end_to_end_latency_seconds",
            "From the signed issued-at to the durable inbox write",
            ["agency"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.lag = Gauge(
            "accord_consumer_lag", "Records behind the partition's high watermark",
            ["agency", "topic", "partition"], registry=r,
        )
        self.gaps = Counter(
            "accord_sequence_gaps", "Messages found missing by per-sender sequence numbers",
            ["agency", "sender", "topic"], registry=r,
        )
        self.receipts = Counter(
            "accord_receipts_sent", "Signed receipts acknowledged by the broker",
            ["agency"], registry=r,
        )
        self.recoveries = Counter(
            "accord_consumer_recoveries", "Times a stuck consumer was rebuilt",
            ["agency"], registry=r,
        )
        self.trust_rejected = Counter(
            "accord_trust_records_rejected",
            "Trust-topic records that could not be applied and were skipped, by error",
            ["agency", "error"], registry=r,
        )
        self.trust_feed_restarts = Counter(
            "accord_trust_feed_restarts", "Times the trust feed's follow loop failed and restarted",
            ["agency"], registry=r,
        )
        # Handover to the agency system (accord.handover): separate from receipts,
        # which mean "landed in the node".
        self.handover_pending = Gauge(
            "accord_handover_pending", "Landed messages not yet taken by the agency system",
            ["agency"], registry=r,
        )
        self.handover_delivered = Counter(
            "accord_handover_delivered", "Messages the agency system acknowledged (2xx)",
            ["agency"], registry=r,
        )
        self.handover_dead = Counter(
            "accord_handover_dead", "Messages parked as dead after the retry window",
            ["agency"], registry=r,
        )
        self.handover_attempt = Histogram(
            "accord_handover_attempt_seconds", "One webhook request, by outcome",
            ["agency", "outcome"], buckets=_LATENCY_BUCKETS, registry=r,
        )
