"""Make the broker match the plan: topics, SCRAM principals and ACLs.

Split in three so the logic is testable without a broker:

- :func:`~accord.plan.admin.read_state` asks the broker what exists
  (:mod:`accord.plan.admin`, confluent-kafka's AdminClient);
- :func:`~accord.plan.diff.compute_diff` is pure: plan + state -> what would change
  (:mod:`accord.plan.diff`);
- :func:`~accord.plan.admin.apply_diff` performs a diff.

``accord plan diff`` stops after the second step; ``accord plan apply`` does all
three (:func:`plan_diff`, :func:`apply_plan` here). The passwords it sets are
settings, resolved by :func:`accord.config.load_secrets`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from accord.config import KafkaConnection, load_secrets, secret_env_name
from accord.plan.admin import ApplyReport, apply_diff, new_admin_for, read_state
from accord.plan.diff import BrokerState, PlanDiff, compute_diff, is_managed
from accord.plan.model import Plan

__all__ = [
    "ApplyReport",
    "BrokerState",
    "PlanDiff",
    "apply_diff",
    "apply_plan",
    "compute_diff",
    "is_managed",
    "load_secrets",
    "plan_diff",
    "read_state",
    "secret_env_name",
]


def plan_diff(plan: Plan, conn: KafkaConnection, *, access: bool | None = None) -> PlanDiff:
    """What ``apply_plan`` would change on the broker behind ``conn``."""
    manage = conn.uses_sasl if access is None else access
    admin, errors = new_admin_for(conn)
    return compute_diff(plan, read_state(admin, plan, access=manage, login_errors=errors))


def apply_plan(
    plan: Plan,
    conn: KafkaConnection,
    secrets: Mapping[str, SecretStr] | None = None,
    *,
    access: bool | None = None,
) -> ApplyReport:
    """Make the broker behind ``conn`` match the plan (what ``accord plan apply`` does).

    ``access`` defaults to "when the connection uses SASL": against a PLAINTEXT
    development broker only topics are created.
    """
    manage = conn.uses_sasl if access is None else access
    admin, errors = new_admin_for(conn)
    diff = compute_diff(plan, read_state(admin, plan, access=manage, login_errors=errors))
    return apply_diff(admin, plan, diff, secrets or {})
