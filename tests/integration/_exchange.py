"""Helpers for exchange tests: a fresh namespace per test, a session-wide PKI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from accord.areas import Area
from accord.labels import Caveat, Classification, Label, Policy
from accord.models import InformationReport, Priority, Subject
from accord.parties import Scope
from accord.plan import Plan, load_plan


def fresh_plan(base: Plan | None = None) -> Plan:
    """The default plan in a namespace of its own, so tests never see each other."""
    plan = base or load_plan(None)
    return plan.model_copy(update={"namespace": f"t{uuid.uuid4().hex[:12]}"})


def label_for(sender: str, scope: Scope, **overrides: object) -> Label:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "policy": Policy.ACCORD_JPN_AUS_2007,
        "classification": Classification.RESTRICTED,
        "releasable_to": tuple(sorted(scope.members)),
        "caveats": (Caveat.ORCON,),
        "originator": sender,
        "created_at": now,
        "review_on": (now + timedelta(days=365)).date(),
        "legal_basis": "Test message under the originator's laws and regulations.",
    }
    values.update(overrides)
    return Label.model_validate(values)


def report(n: int, area: Area = Area.COUNTER_TERRORISM) -> InformationReport:
    return InformationReport(
        title=f"Report {n}",
        priority=Priority.PRIORITY,
        details="x" * 700,
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )
