"""ACLs rendered from the plan, so the broker refuses what the label would refuse.

Every agency node is its own SCRAM-SHA-512 principal, ``User:<agency id>`` (for
example ``User:JPN.MOFA``; Kafka user names may contain dots). The rules:

- READ + DESCRIBE on the exchange topics of scopes its country belongs to, for
  the areas it may receive; and on the trust topic.
- WRITE + DESCRIBE on the exchange topics it may publish to, on the receipts
  topic, and on its *own* quarantine topic (READ too, so its operators can
  inspect and replay what its node rejected).
- WRITE on its *own* key topic (its encryption key statements and CWK
  announcements), READ + DESCRIBE on every agency's key topic: no agency can
  write a record under another agency's compaction key.
- READ on its consumer group ``accord.node.<agency>`` (LITERAL) and on groups
  starting ``accord.node.<agency>.`` (PREFIXED; the trailing dot stops
  ``JPN.MOF`` from matching ``JPN.MOFA``'s groups).
- The monitor: READ + DESCRIBE on receipts, READ on its group; READ + DESCRIBE
  on the trust topic (it follows rotations and revocations like a node); DESCRIBE
  on every agency's group and receive topics, so it can export each group's lag
  as the broker sees it (accord.status). DESCRIBE reads offsets, never records.

Only ALLOW rules are rendered; the broker's authorizer denies everything else.
The idempotent producer needs nothing more: since Kafka 3.0 WRITE on a topic
implies IDEMPOTENT_WRITE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from accord.plan.model import Plan

Operation = Literal["READ", "WRITE", "DESCRIBE"]
ResourceKind = Literal["TOPIC", "GROUP"]
PatternKind = Literal["LITERAL", "PREFIXED"]


@dataclass(frozen=True, order=True)
class AclRule:
    """One ALLOW rule for ``principal`` (``User:...``) from any host."""

    principal: str
    resource: ResourceKind
    pattern: PatternKind
    name: str
    operation: Operation

    def matches(self, resource: ResourceKind, name: str) -> bool:
        if resource != self.resource:
            return False
        if self.pattern == "LITERAL":
            return name == self.name
        return name.startswith(self.name)

    def __str__(self) -> str:
        pat = "" if self.pattern == "LITERAL" else "*"
        return f"{self.principal} {self.operation} {self.resource.lower()}:{self.name}{pat}"


def principal_of(name: str) -> str:
    """``User:<name>``: the Kafka principal of a SCRAM user."""
    return f"User:{name}"


def wanted_principals(plan: Plan) -> list[str]:
    """SCRAM user names apply should create: each agency, then the monitor."""
    return [*sorted(plan.agencies), plan.monitor.principal]


def _topic(p: str, name: str, *ops: Operation) -> set[AclRule]:
    return {AclRule(p, "TOPIC", "LITERAL", name, op) for op in ops}


def render_acls(plan: Plan) -> set[AclRule]:
    """Every ALLOW rule the broker should hold for the plan's principals."""
    rules: set[AclRule] = set()
    for agency in plan.agencies:
        p = principal_of(agency)
        for t in plan.receive_topics(agency):
            rules |= _topic(p, t, "READ", "DESCRIBE")
        for t in plan.publish_topics(agency):
            rules |= _topic(p, t, "WRITE", "DESCRIBE")
        rules |= _topic(p, plan.trust_topic, "READ", "DESCRIBE")
        rules |= _topic(p, plan.receipts_topic, "WRITE", "DESCRIBE")
        rules |= _topic(p, plan.quarantine_topic(agency), "READ", "WRITE", "DESCRIBE")
        rules |= _topic(p, plan.keys_topic(agency), "WRITE")
        for t in plan.keys_topics():
            rules |= _topic(p, t, "READ", "DESCRIBE")
        group = plan.group_id(agency)
        rules.add(AclRule(p, "GROUP", "LITERAL", group, "READ"))
        rules.add(AclRule(p, "GROUP", "PREFIXED", f"{group}.", "READ"))
    m = principal_of(plan.monitor.principal)
    rules |= _topic(m, plan.receipts_topic, "READ", "DESCRIBE")
    rules.add(AclRule(m, "GROUP", "LITERAL", plan.monitor.group, "READ"))
    rules |= _topic(m, plan.trust_topic, "READ", "DESCRIBE")
    for agency in plan.agencies:
        rules.add(AclRule(m, "GROUP", "LITERAL", plan.group_id(agency), "DESCRIBE"))
        for t in plan.receive_topics(agency):
            rules |= _topic(m, t, "DESCRIBE")
    return rules


def allows(rules: set[AclRule], principal: str, operation: Operation, topic: str) -> bool:
    """Whether ``rules`` let ``principal`` do ``operation`` on ``topic`` (allow-only model)."""
    return any(
        r.principal == principal and r.operation == operation and r.matches("TOPIC", topic)
        for r in rules
    )


def access_matrix(plan: Plan, rules: set[AclRule] | None = None) -> dict[str, dict[str, str]]:
    """principal name -> topic -> ``"RW"``, ``"R"``, ``"W"`` or ``"-"``.

    Computed from the same rules the broker gets, so the printed matrix is what
    the broker enforces (the integration tests check cells against a real broker).
    """
    rules = render_acls(plan) if rules is None else rules
    topics = [t.name for t in plan.topics()]
    out: dict[str, dict[str, str]] = {}
    for name in wanted_principals(plan):
        p = principal_of(name)
        row = {}
        for t in topics:
            cell = ("R" if allows(rules, p, "READ", t) else "") + (
                "W" if allows(rules, p, "WRITE", t) else ""
            )
            row[t] = cell or "-"
        out[name] = row
    return out
