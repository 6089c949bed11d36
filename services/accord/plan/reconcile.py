"""Make the broker match the plan: topics, SCRAM principals and ACLs.

Split in three so the logic is testable without a broker:

- :func:`read_state` asks the broker what exists (confluent-kafka AdminClient);
- :func:`compute_diff` is pure: plan + state -> what would change;
- :func:`apply_diff` performs a diff.

``accord plan diff`` stops after the second step; ``accord plan apply`` does all three.

Which principals are *managed*: SCRAM users and ACL principals whose name is an
agency id (``JPN.MOFA``) or the plan's monitor principal. Anything else (the
admin super user, other tools' users) is never touched. A managed principal that
is no longer in the plan loses its ACLs and then its SCRAM credentials.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from accord.access.acls import AclRule, principal_of, render_acls, wanted_principals
from accord.config import KafkaConnection
from accord.errors import BrokerError, PlanError
from accord.observability.logs import get_logger
from accord.parties import is_agency_id
from accord.plan.model import Plan, TopicSpec

log = get_logger(__name__)

SCRAM_ITERATIONS = 8192
_TIMEOUT_S = 30.0


# ------------------------------------------------------------------ secrets
def secret_env_name(principal: str) -> str:
    """``ACCORD_SECRET_<name with . and - as _>``, e.g. ``ACCORD_SECRET_JPN_MOFA``."""
    return "ACCORD_SECRET_" + principal.upper().replace(".", "_").replace("-", "_")


def load_secrets(
    path: Path | None, names: list[str], env: Mapping[str, str] | None = None
) -> dict[str, SecretStr]:
    """Passwords for ``names``: the secrets file, overridden by ``ACCORD_SECRET_*``.

    Values are wrapped in SecretStr at once and never appear in errors or logs.
    """
    source = os.environ if env is None else env
    found: dict[str, SecretStr] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(f"cannot read secrets file {path}: {exc.strerror or exc}",
                            hint="pass --secrets FILE (principal: password)") from None
        except yaml.YAMLError:
            raise PlanError(f"secrets file {path} is not valid YAML",
                            hint="write one `PRINCIPAL: password` per line") from None
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise PlanError(f"secrets file {path} must map principal names to strings",
                            hint="write one `JPN.MOFA: password` per line; quote the password")
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise PlanError(f"secrets file {path} names principals not in the plan: "
                            f"{', '.join(unknown)}", hint="remove them or fix their spelling")
        found = {k: SecretStr(v) for k, v in raw.items() if v}
    for name in names:
        value = source.get(secret_env_name(name))
        if value:
            found[name] = SecretStr(value)
    return found


# -------------------------------------------------------------------- state
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
        return not (self.topics_to_create or self.principals_to_create
                    or self.principals_to_delete or self.acls_to_add or self.acls_to_remove)

    def lines(self) -> list[str]:
        """Human-readable, one change per line, ``+`` add, ``-`` remove, ``=`` kept."""
        out = [f"+ topic {t.name} (partitions={t.partitions}, rf={t.replication_factor}, "
               + ", ".join(f"{k}={v}" for k, v in sorted(t.configs.items())) + ")"
               for t in self.topics_to_create]
        out += [f"= topic {t} exists (left as is)" for t in self.topics_present]
        if self.access:
            out += [f"+ principal {principal_of(p)}" for p in self.principals_to_create]
            out += [f"- principal {principal_of(p)}" for p in self.principals_to_delete]
            out += [f"+ acl {r}" for r in self.acls_to_add]
            out += [f"- acl {r}" for r in self.acls_to_remove]
        else:
            out.append("  access not managed (broker connection is not SASL): "
                       "principals and ACLs skipped")
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
        create, present, to_create, stale, kept,
        acls_to_add=tuple(sorted(desired - state.acls)),
        acls_to_remove=tuple(sorted(state.acls - desired)),
        access=True,
        warnings=tuple(f"unmanaged ACL on managed principal left as is: {a}"
                       for a in state.foreign_acls),
    )


# ---------------------------------------------------- confluent-kafka side
def _ck() -> Any:
    """``confluent_kafka.admin``, imported late and typed Any.

    Its partial type hints reject documented uses (``None`` as "any" in an
    AclBindingFilter) and hide re-exports from mypy --strict.
    """
    return importlib.import_module("confluent_kafka.admin")


def _wait(futures: Mapping[Any, Any]) -> dict[Any, Any]:
    return {k: f.result(timeout=_TIMEOUT_S) for k, f in futures.items()}


def _kafka_error(exc: BaseException, doing: str) -> BrokerError:
    return BrokerError(
        f"{doing} failed: {exc}",
        hint="check --bootstrap, the admin user name and ACCORD_KAFKA_PASSWORD; the admin "
        "must be a super user of a broker with SASL/SCRAM and the StandardAuthorizer",
    )


def _list_topics(admin: Any, ck: Any, login_errors: list[Any]) -> Any:
    # librdkafka retries a refused SASL login until the request times out;
    # watching the errors its error_cb collected fails a wrong password in ~1s.
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        try:
            return admin.list_topics(timeout=1.0)
        except ck.KafkaException as exc:
            if time.monotonic() > deadline:
                raise _kafka_error(exc, "listing topics") from None
        admin.poll(0)  # error_cb runs only from poll()
        for err in login_errors:
            if err.code() == ck.KafkaError._AUTHENTICATION:
                raise BrokerError(
                    f"the broker refused the login: {err.str()}",
                    hint="check --username and ACCORD_KAFKA_PASSWORD (the admin's SCRAM "
                    "password)",
                )


def read_state(
    admin: Any, plan: Plan, *, access: bool, login_errors: list[Any] | None = None
) -> BrokerState:
    """Ask the broker for topics, SCRAM users and the managed principals' ACLs.

    ``login_errors`` is the list an ``error_cb`` of ``admin`` appends to (see
    :func:`new_admin_for`); without it a refused login surfaces only at timeout.
    """
    ck = _ck()
    KafkaException = ck.KafkaException
    meta = _list_topics(admin, ck, login_errors if login_errors is not None else [])
    topics = frozenset(meta.topics)
    if not access:
        return BrokerState(topics, len(meta.brokers))
    try:
        described = admin.describe_user_scram_credentials().result(timeout=_TIMEOUT_S)
        users = frozenset(u for u in described if is_managed(u, plan))
        any_filter = ck.AclBindingFilter(
            ck.ResourceType.ANY, None, ck.ResourcePatternType.ANY, None, None,
            ck.AclOperation.ANY, ck.AclPermissionType.ANY,
        )
        bindings = admin.describe_acls(any_filter).result(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise _kafka_error(exc, "reading SCRAM users and ACLs") from None
    acls: set[AclRule] = set()
    foreign: list[str] = []
    for b in bindings:
        user = b.principal.removeprefix("User:")
        if not b.principal.startswith("User:") or not is_managed(user, plan):
            continue
        # ACLs may outlive their SCRAM user (e.g. a half-finished apply); counting
        # their principal as present makes the next apply clean them up.
        users = users | {user}
        rule = _rule_of(b)
        if rule is None:
            foreign.append(f"{b.principal} {b.permission_type.name} {b.operation.name} "
                           f"{b.restype.name}:{b.name} ({b.resource_pattern_type.name}, "
                           f"host {b.host})")
        else:
            acls.add(rule)
    return BrokerState(topics, len(meta.brokers), users, frozenset(acls), tuple(sorted(foreign)))


def _rule_of(binding: Any) -> AclRule | None:
    res, pat, op = binding.restype.name, binding.resource_pattern_type.name, binding.operation.name
    if (binding.permission_type.name != "ALLOW" or binding.host != "*"
            or res not in ("TOPIC", "GROUP") or pat not in ("LITERAL", "PREFIXED")
            or op not in ("READ", "WRITE", "DESCRIBE")):
        return None
    return AclRule(binding.principal, res, pat, binding.name, op)


def _binding(rule: AclRule) -> Any:
    ck = _ck()

    return ck.AclBinding(
        ck.ResourceType[rule.resource], rule.name, ck.ResourcePatternType[rule.pattern],
        rule.principal, "*", ck.AclOperation[rule.operation], ck.AclPermissionType.ALLOW,
    )


@dataclass
class ApplyReport:
    created_topics: list[str] = field(default_factory=list)
    existing_topics: list[str] = field(default_factory=list)
    credentials_set: list[str] = field(default_factory=list)
    principals_deleted: list[str] = field(default_factory=list)
    acls_added: int = 0
    acls_removed: int = 0
    access: bool = False

    def lines(self) -> list[str]:
        out = [f"created topic {t}" for t in self.created_topics]
        out += [f"topic {t} exists; left as is" for t in self.existing_topics]
        if self.access:
            out += [f"set SCRAM-SHA-512 credentials for {principal_of(p)}"
                    for p in self.credentials_set]
            out += [f"deleted principal {principal_of(p)}" for p in self.principals_deleted]
            out.append(f"ACLs: {self.acls_added} added, {self.acls_removed} removed")
        else:
            out.append("access not managed: broker connection is not SASL")
        return out


def apply_diff(
    admin: Any, plan: Plan, diff: PlanDiff, secrets: Mapping[str, SecretStr]
) -> ApplyReport:
    """Create topics, set credentials, add then remove ACLs, delete stale principals.

    Credentials are (re)set for every planned principal with a password at hand:
    the broker stores only salted hashes, so a changed password cannot be
    detected and the secrets are the source of truth. A new principal without a
    password is an error raised before anything changes.
    """
    ck = _ck()
    KafkaError, KafkaException = ck.KafkaError, ck.KafkaException

    if diff.access:
        missing = [p for p in diff.principals_to_create if p not in secrets]
        if missing:
            raise PlanError(
                f"no password for new principal(s): {', '.join(missing)}",
                hint="add them to the --secrets file or set "
                + ", ".join(secret_env_name(p) for p in missing),
            )
    report = ApplyReport(existing_topics=list(diff.topics_present), access=diff.access)
    if diff.topics_to_create:
        new = [ck.NewTopic(t.name, num_partitions=t.partitions,
                        replication_factor=t.replication_factor, config=dict(t.configs))
               for t in diff.topics_to_create]
        for name, fut in admin.create_topics(new, request_timeout=_TIMEOUT_S).items():
            try:
                fut.result(timeout=_TIMEOUT_S)
                report.created_topics.append(name)
                log.info("plan.topic_created", topic=name)
            except KafkaException as exc:
                # Another apply may have raced us; that is the idempotent outcome.
                if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    report.existing_topics.append(name)
                else:
                    raise _kafka_error(exc, f"creating topic {name}") from None
    if not diff.access:
        return report
    try:
        names = [p for p in wanted_principals(plan) if p in secrets]
        if names:
            info = ck.ScramCredentialInfo(ck.ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
            _wait(admin.alter_user_scram_credentials([
                ck.UserScramCredentialUpsertion(
                    n, info, secrets[n].get_secret_value().encode("utf-8"))
                for n in names
            ]))
            report.credentials_set = names
            log.info("plan.credentials_set", principals=names)
        if diff.acls_to_add:
            _wait(admin.create_acls([_binding(r) for r in diff.acls_to_add],
                                    request_timeout=_TIMEOUT_S))
            report.acls_added = len(diff.acls_to_add)
        if diff.acls_to_remove:
            # An AclBindingFilter with every field set matches exactly that binding.
            _wait(admin.delete_acls([_filter(r) for r in diff.acls_to_remove],
                                    request_timeout=_TIMEOUT_S))
            report.acls_removed = len(diff.acls_to_remove)
        if diff.principals_to_delete:
            # Remove every ACL of a departed principal (including ones we do not
            # render), then its credentials: new logins fail and ACL checks on
            # existing sessions fail at once.
            _wait(admin.delete_acls([_principal_filter(principal_of(p))
                                     for p in diff.principals_to_delete],
                                    request_timeout=_TIMEOUT_S))
            existing = admin.describe_user_scram_credentials().result(timeout=_TIMEOUT_S)
            gone = [p for p in diff.principals_to_delete if p in existing]
            if gone:
                _wait(admin.alter_user_scram_credentials([
                    ck.UserScramCredentialDeletion(p, ck.ScramMechanism.SCRAM_SHA_512) for p in gone
                ]))
            report.principals_deleted = list(diff.principals_to_delete)
            log.info("plan.principals_deleted", principals=list(diff.principals_to_delete))
        _await_converged(admin, plan, diff)
        log.info("plan.acls_reconciled", added=report.acls_added, removed=report.acls_removed)
    except KafkaException as exc:
        raise _kafka_error(exc, "applying principals and ACLs") from None
    return report


def _await_converged(admin: Any, plan: Plan, diff: PlanDiff, timeout: float = 30.0) -> None:
    """Wait until the broker reports the changes.

    The KRaft authorizer learns ACL and SCRAM changes from the metadata log a
    moment after the admin call returns; without this wait, a client connecting
    right after apply can be refused, and a second apply would redo the work.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(admin, plan, access=True)
        users = state.users or frozenset()
        if (set(diff.acls_to_add) <= state.acls
                and not set(diff.acls_to_remove) & state.acls
                and set(diff.principals_to_create) <= users
                and not set(diff.principals_to_delete) & users):
            return
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the broker did not show the applied ACLs and principals within {timeout:.0f}s",
                hint="run `accord plan diff` to see what is still pending, then apply again",
            )
        time.sleep(0.2)


def _filter(rule: AclRule) -> Any:
    ck = _ck()

    return ck.AclBindingFilter(
        ck.ResourceType[rule.resource], rule.name, ck.ResourcePatternType[rule.pattern],
        rule.principal, "*", ck.AclOperation[rule.operation], ck.AclPermissionType.ALLOW,
    )


def _principal_filter(principal: str) -> Any:
    ck = _ck()

    return ck.AclBindingFilter(
        ck.ResourceType.ANY, None, ck.ResourcePatternType.ANY, principal, None,
        ck.AclOperation.ANY, ck.AclPermissionType.ANY,
    )


def new_admin_for(conn: KafkaConnection) -> tuple[Any, list[Any]]:
    """A control-plane AdminClient and the list its background errors land in."""
    from accord.kafka.clients import new_control_admin

    errors: list[Any] = []
    return new_control_admin(conn, error_cb=errors.append), errors


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
