"""The declarative exchange plan: scopes, agencies, entitlements, topics.

Publisher, receiver and monitor code against this API; ``accord plan`` commands
and :mod:`accord.access` derive topics, principals and ACLs from it.
"""

from accord.plan.loader import DEFAULT_PLAN_PATH, dump_plan, load_plan, parse_plan
from accord.plan.model import (
    AgencyPlan,
    MonitorPlan,
    Plan,
    Problem,
    ScopePlan,
    TopicSpec,
)

__all__ = [
    "DEFAULT_PLAN_PATH",
    "AgencyPlan",
    "MonitorPlan",
    "Plan",
    "Problem",
    "ScopePlan",
    "TopicSpec",
    "dump_plan",
    "load_plan",
    "parse_plan",
]
