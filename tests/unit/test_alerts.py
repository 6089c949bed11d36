"""The alert rules pass their promtool unit tests; each has a test case and a runbook.

promtool comes with Prometheus (Debian's `prometheus` package, installed by .ci/run).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: install Prometheus (apt-get install prometheus)"
    return found


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_rules_are_valid() -> None:
    done = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"],
        cwd=PROM,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    done = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"],
        cwd=PROM,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_firing_test_case() -> None:
    cases = yaml.safe_load((PROM / "alerts_test.yml").read_text())["tests"]
    firing = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    assert {a["alert"] for a in _alerts()} == firing


def test_every_alert_has_a_runbook_section() -> None:
    ops = (ROOT / "docs" / "ops.md").read_text()
    sections = {m.lower() for m in re.findall(r"^### (\w+)$", ops, flags=re.MULTILINE)}
    for alert in _alerts():
        name = alert["alert"]
        assert name.lower() in sections, name
        assert alert["annotations"]["runbook"] == f"docs/ops.md#{name.lower()}"
        assert alert["labels"]["severity"] in ("warning", "critical")


def test_issue_alerts_are_all_there() -> None:
    names = {a["alert"] for a in _alerts()}
    assert {
        "AccordAckOverdue",
        "AccordQuarantine",
        "AccordSequenceGap",
        "AccordLagGrowing",
        "AccordCrlPastNextUpdate",
        "AccordTrustFeedStale",
        "AccordHandoverDeadLetters",
        "AccordNodeDown",
        "AccordPublishFailures",
    } <= names
