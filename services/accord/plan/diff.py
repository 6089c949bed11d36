"""The pure half of reconciling: plan + what the broker holds -> what would change.

No broker, no I/O: :func:`compute_diff` is unit-tested on its own. The broker's
side (reading its state, applying a diff) is :mod:`accord.plan.admin`.

Which principals are *managed*: SCRAM users and ACL principals whose name is an
agency id (``JPN.MOFA``) or the plan's monitor principal. Anything else (the
admin super user, other tools' users) is never touched. A managed principal that
is no longer in the plan loses its ACLs and then its SCRAM credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.access.acls import AclRule, principal_of, render_acls, wanted_principals
from accord.errors import PlanError
from accord.parties import is_agency_id
from accord.plan.model import Plan, TopicSpec


@dataclass(frozen=True)
class BrokerState:
    """What the broker holds, as far as the plan is concerned."""

    topics: frozenset[str]
    brokers: int
    # None when access is not managed (a broker without SASL/authorizer).
    users: frozenset[str] | None = None
    acls: frozenset[AclRule] = frozenset()
    # ACLs on managed principals that accord does not render (DENY, other
    # operations, host-specific): reported, never removed automatically.
    foreign_acls: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanDiff:
    topics_to_create: tuple[TopicSpec, ...] = ()
    topics_present: tuple[str, ...] = ()
    principals_to_create: tuple[str, ...] = ()
    principals_to_delete: tuple[str, ...] = ()
    principals_present: tuple[str, ...] = ()
    acls_to_add: tuple[AclRule, ...] = ()
    acls_to_remove: tuple[AclRule, ...] = ()
    access: bool = False
    warnings: tuple[str, ...] = field(default=())

    @property
    def changes_nothing(self) -> bool:
        return not (
            self.topics_to_create
            or self.principals_to_create
            or self.principals_to_delete
            or self.acls_to_add
            or self.acls_to_remove
        )

    def lines(self) -> list[str]:
        """Human-readable, one change per line, ``+`` add, ``-`` remove, ``=`` kept."""
        out = [
            f"+ topic {t.name} (partitions={t.partitions}, rf={t.replication_factor}, "
            + ", ".join(f"{k}={v}" for k, v in sorted(t.configs.items()))
            + ")"
            for t in self.topics_to_create
        ]
        out += [f"= topic {t} exists (left as is)" for t in self.topics_present]
        if self.access:
            out += [f"+ principal {principal_of(p)}" for p in self.principals_to_create]
            out += [f"- principal {principal_of(p)}" for p in self.principals_to_delete]
            out += [f"+ acl {r}" for r in self.acls_to_add]
            out += [f"- acl {r}" for r in self.acls_to_remove]
        else:
            out.append(
                "  access not managed (broker connection is not SASL): principals and ACLs skipped"
            )
        out += [f"! {w}" for w in self.warnings]
        return out


def is_managed(name: str, plan: Plan) -> bool:
    """A SCRAM user name accord owns: an agency-shaped id or the monitor."""
    return is_agency_id(name) or name == plan.monitor.principal


def compute_diff(plan: Plan, state: BrokerState) -> PlanDiff:
    """What apply would change. Pure."""
    specs = plan.topics()
    create = tuple(t for t in specs if t.name not in state.topics)
    present = tuple(t.name for t in specs if t.name in state.topics)
    for t in create:
        if t.replication_factor > state.brokers:
            raise PlanError(
                f"topic {t.name} needs replication_factor {t.replication_factor} but the "
                f"cluster has {state.brokers} broker(s)",
                hint="lower topics.defaults.replication_factor (and min_insync_replicas) in "
                "the plan, or add brokers",
            )
    if state.users is None:
        return PlanDiff(create, present, access=False)
    wanted = wanted_principals(plan)
    users = state.users
    to_create = tuple(p for p in wanted if p not in users)
    kept = tuple(p for p in wanted if p in users)
    stale = tuple(sorted(u for u in users if is_managed(u, plan) and u not in wanted))
    desired = render_acls(plan)
    return PlanDiff(
        create,
        present,
        to_create,
        stale,
        kept,
        acls_to_add=tuple(sorted(desired - state.acls)),
        acls_to_remove=tuple(sorted(state.acls - desired)),
        access=True,
        warnings=tuple(
            f"unmanaged ACL on managed principal left as is: {a}" for a in state.foreign_acls
        ),
    )
