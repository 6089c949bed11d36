"""An exchange of in-process nodes on a fresh namespace, for the scenarios."""

from __future__ import annotations

import uuid
from pathlib import Path

from accord.config import KafkaConnection
from accord.exchange import LocalExchange
from accord.plan import Plan, load_plan
from accord.trust.pki import Pki


def fresh_plan(base: Plan | None = None) -> Plan:
    """The plan in a namespace of its own, so runs on a shared broker never meet.

    Without ``base``: the deployed plan with ``encryption: off``, so the soak's figures
    stay comparable across rounds (its nodes' PKI carries no encryption keys)."""
    plan = base or load_plan(None).with_encryption("off")
    return plan.model_copy(update={"namespace": f"soak{uuid.uuid4().hex[:10]}"})


def replicated_plan(base: Plan | None = None, *, rf: int = 3, min_isr: int = 2) -> Plan:
    """A fresh plan whose every topic kind has ``rf`` replicas and ``min_isr`` in sync."""
    plan = fresh_plan(base)
    settings = plan.topic_settings
    updates = {
        kind: getattr(settings, kind).model_copy(
            update={"replication_factor": rf, "min_insync_replicas": min_isr}
        )
        for kind in type(settings).model_fields
    }
    return plan.model_copy(update={"topic_settings": settings.model_copy(update=updates)})


def new_exchange(
    connection: KafkaConnection,
    directory: Path,
    *,
    plan: Plan | None = None,
    pki: Pki | None = None,
) -> LocalExchange:
    ex = LocalExchange(
        plan=plan or fresh_plan(), connection=connection, directory=directory, pki=pki
    )
    ex.apply()
    return ex
