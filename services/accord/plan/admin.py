"""The broker's half of reconciling, through confluent-kafka's AdminClient.

:func:`read_state` asks the broker what exists; :func:`apply_diff` performs a diff
computed by :func:`accord.plan.diff.compute_diff`. librdkafka's admin is used
because aiokafka's has no SCRAM-credential or full ACL API.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from accord.access.acls import AclRule, principal_of, wanted_principals
from accord.config import KafkaConnection, secret_env_name
from accord.errors import BrokerError, PlanError
from accord.observability.logs import get_logger
from accord.plan.diff import BrokerState, PlanDiff, is_managed
from accord.plan.model import Plan

log = get_logger(__name__)

SCRAM_ITERATIONS = 8192
_TIMEOUT_S = 30.0


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
                    hint="check --username and ACCORD_KAFKA_PASSWORD (the admin's SCRAM password)",
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
            ck.ResourceType.ANY,
            None,
            ck.ResourcePatternType.ANY,
            None,
            None,
            ck.AclOperation.ANY,
            ck.AclPermissionType.ANY,
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
            foreign.append(
                f"{b.principal} {b.permission_type.name} {b.operation.name} "
                f"{b.restype.name}:{b.name} ({b.resource_pattern_type.name}, "
                f"host {b.host})"
            )
        else:
            acls.add(rule)
    return BrokerState(topics, len(meta.brokers), users, frozenset(acls), tuple(sorted(foreign)))


def _rule_of(binding: Any) -> AclRule | None:
    res, pat, op = binding.restype.name, binding.resource_pattern_type.name, binding.operation.name
    if (
        binding.permission_type.name != "ALLOW"
        or binding.host != "*"
        or res not in ("TOPIC", "GROUP")
        or pat not in ("LITERAL", "PREFIXED")
        or op not in ("READ", "WRITE", "DESCRIBE")
    ):
        return None
    return AclRule(binding.principal, res, pat, binding.name, op)


def _binding(rule: AclRule) -> Any:
    ck = _ck()

    return ck.AclBinding(
        ck.ResourceType[rule.resource],
        rule.name,
        ck.ResourcePatternType[rule.pattern],
        rule.principal,
        "*",
        ck.AclOperation[rule.operation],
        ck.AclPermissionType.ALLOW,
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
            out += [
                f"set SCRAM-SHA-512 credentials for {principal_of(p)}" for p in self.credentials_set
            ]
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
        new = [
            ck.NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.configs),
            )
            for t in diff.topics_to_create
        ]
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
            _wait(
                admin.alter_user_scram_credentials(
                    [
                        ck.UserScramCredentialUpsertion(
                            n, info, secrets[n].get_secret_value().encode("utf-8")
                        )
                        for n in names
                    ]
                )
            )
            report.credentials_set = names
            log.info("plan.credentials_set", principals=names)
        if diff.acls_to_add:
            _wait(
                admin.create_acls(
                    [_binding(r) for r in diff.acls_to_add], request_timeout=_TIMEOUT_S
                )
            )
            report.acls_added = len(diff.acls_to_add)
        if diff.acls_to_remove:
            # An AclBindingFilter with every field set matches exactly that binding.
            _wait(
                admin.delete_acls(
                    [_filter(r) for r in diff.acls_to_remove], request_timeout=_TIMEOUT_S
                )
            )
            report.acls_removed = len(diff.acls_to_remove)
        if diff.principals_to_delete:
            # Remove every ACL of a departed principal (including ones we do not
            # render), then its credentials: new logins fail and ACL checks on
            # existing sessions fail at once.
            _wait(
                admin.delete_acls(
                    [_principal_filter(principal_of(p)) for p in diff.principals_to_delete],
                    request_timeout=_TIMEOUT_S,
                )
            )
            existing = admin.describe_user_scram_credentials().result(timeout=_TIMEOUT_S)
            gone = [p for p in diff.principals_to_delete if p in existing]
            if gone:
                _wait(
                    admin.alter_user_scram_credentials(
                        [
                            ck.UserScramCredentialDeletion(p, ck.ScramMechanism.SCRAM_SHA_512)
                            for p in gone
                        ]
                    )
                )
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
        if (
            set(diff.acls_to_add) <= state.acls
            and not set(diff.acls_to_remove) & state.acls
            and set(diff.principals_to_create) <= users
            and not set(diff.principals_to_delete) & users
        ):
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
        ck.ResourceType[rule.resource],
        rule.name,
        ck.ResourcePatternType[rule.pattern],
        rule.principal,
        "*",
        ck.AclOperation[rule.operation],
        ck.AclPermissionType.ALLOW,
    )


def _principal_filter(principal: str) -> Any:
    ck = _ck()

    return ck.AclBindingFilter(
        ck.ResourceType.ANY,
        None,
        ck.ResourcePatternType.ANY,
        principal,
        None,
        ck.AclOperation.ANY,
        ck.AclPermissionType.ANY,
    )


def new_admin_for(conn: KafkaConnection) -> tuple[Any, list[Any]]:
    """A control-plane AdminClient and the list its background errors land in."""
    from accord.kafka.clients import new_control_admin

    errors: list[Any] = []
    return new_control_admin(conn, error_cb=errors.append), errors
