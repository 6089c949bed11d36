"""Every metric the dashboard and the alert rules query is one the code exports.

The names come from the real registries (a node's, with the trust collector, and
the monitor's), not from a list kept by hand, so renaming a metric in the code
breaks this test instead of a graph.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from _accord_pki import pki

from accord.config import KafkaConnection
from accord.observability.metrics import MonitorMetrics, NodeMetrics
from accord.trust.feed import TrustFeed

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "accord.json"

# Series that do not come from accord's registries.
FROM_PROMETHEUS = {"up"}
# The handover outbox exports this once it lands (its own issue); listed here so
# the alert and the panel can ship first. Remove it when the node exports it.
PENDING = {"accord_handover_dead_total"}

_SUFFIXES = {
    "counter": ["_total", "_created"],
    "histogram": ["_bucket", "_count", "_sum", "_created"],
    "info": ["_info"],
    "gauge": [""],
    "summary": ["_count", "_sum"],
}
_NAME = re.compile(r"\b((?:accord|process|python)_[a-z0-9_]+|up)\b(?!\s*\()")


def _exported() -> set[str]:
    node = NodeMetrics()
    store = pki().trust_store()
    feed = TrustFeed(KafkaConnection(), "accord.trust", store)
    feed.last_poll = feed.last_record = 1.0
    node.watch_trust(store, feed, agency="JPN.MOFA")
    node.watch_ready(lambda: True, agency="JPN.MOFA")
    names: set[str] = set()
    for registry in (node.registry, MonitorMetrics().registry):
        for family in registry.collect():
            names |= {family.name + s for s in _SUFFIXES.get(family.type, [""])}
            names |= {s.name for s in family.samples}
    return names


def _queries() -> list[str]:
    dash: dict[str, Any] = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def test_every_queried_metric_is_exported() -> None:
    exported = _exported() | FROM_PROMETHEUS | PENDING
    used = {m for e in _queries() for m in _NAME.findall(e)}
    assert used, "no metric found in the queries"
    assert used - exported == set()


def test_the_trust_collector_exports_crl_dates() -> None:
    assert "accord_trust_crl_next_update_timestamp_seconds" in _exported()


def test_dashboard_covers_the_issue_sections() -> None:
    dash = json.loads(DASHBOARD.read_text())
    rows = {p["title"].split(":")[0] for p in dash["panels"] if p["type"] == "row"}
    assert {"Exchange overview", "Per agency", "Latency", "Lag", "Trust", "Handover"} <= rows
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert all(
        t["datasource"]["uid"] == "accord-prometheus"
        for p in dash["panels"]
        for t in p.get("targets", [])
    )
