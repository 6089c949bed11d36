"""What a Kafka client failure means for the user: one error type per cause.

The node commands' boundary (``node_errors``): an ACL refusal names the principal and
the topic or group, a login failure the credentials, an unreachable broker the
address, a size refusal the limit; each is one ``error [code]: …`` line with its
hint. Inside a node, ``broker_errors`` (accord.kafka.clients) maps the rest.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from aiokafka import errors as kafka_errors

from accord.config import KafkaConnection
from accord.errors import AccordError, BrokerError, ReasonCode, Refused

__all__ = [
    "AclDenied",
    "AuthFailed",
    "BrokerUnreachable",
    "ConnectionFailed",
    "kafka_failure",
    "node_errors",
]


class AclDenied(BrokerError):
    """The broker's ACLs refuse this principal the topic, group or cluster."""

    code = "acl-denied"


class AuthFailed(BrokerError):
    """The broker refused the login (SASL/SCRAM)."""

    code = "auth-failed"


class BrokerUnreachable(BrokerError):
    """No bootstrap address accepts a connection."""

    code = "broker-unreachable"


class ConnectionFailed(BrokerError):
    """A broker accepts TCP but the Kafka handshake fails (protocol, TLS)."""

    code = "connection-failed"


_DENIED = (
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
)
_TOO_LARGE = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordListTooLargeError)


def _reachable(bootstrap: str) -> bool:
    """Whether any bootstrap address accepts a TCP connection (loopback, so fast)."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
                return True
        except (OSError, ValueError):
            continue
    return False


def kafka_failure(
    exc: BaseException, conn: KafkaConnection, *, doing: str, resource: str | None = None
) -> AccordError:
    """The accord error for a Kafka client failure, naming its real cause.

    ``doing`` is what was refused ("write", "read"), ``resource`` the topic or group.
    """
    principal = f"User:{conn.username}" if conn.uses_sasl and conn.username else "ANONYMOUS"
    where = conn.bootstrap_servers
    if isinstance(exc, _DENIED):
        if isinstance(exc, kafka_errors.ClusterAuthorizationFailedError):
            what = "the cluster (an idempotent producer needs WRITE on some topic)"
        elif isinstance(exc, kafka_errors.GroupAuthorizationFailedError):
            what = f"consumer group {resource or '?'} (READ)"
        else:
            what = f"topic {resource or '?'} ({doing.upper()})"
        return AclDenied(
            f"the broker's ACLs refuse {principal} on {what}",
            hint="the plan's ACLs decide this: check the agency's publish/receive areas with "
            "`accord plan show --access`, log in as that agency's own principal, and have "
            "the admin run `accord plan apply`",
        )
    if isinstance(exc, _TOO_LARGE):
        return Refused(
            ReasonCode.OVERSIZED,
            f"the broker refused the message on {resource or 'its topic'} as too large",
            hint="make the message smaller (attachments, long texts); the topic's "
            "max.message.bytes is the broker's limit",
        )
    if isinstance(exc, kafka_errors.KafkaConnectionError | kafka_errors.NoBrokersAvailable):
        if not _reachable(where):
            error: BrokerError = BrokerUnreachable(
                f"no broker reachable at {where}",
                hint="check --bootstrap / ACCORD_BOOTSTRAP_SERVERS and that the brokers are "
                "up (`accord broker status`)",
            )
        elif conn.uses_sasl:
            error = AuthFailed(
                f"the broker at {where} refused the login of {principal} ({conn.sasl_mechanism})",
                hint="check ACCORD_KAFKA_USERNAME and ACCORD_KAFKA_PASSWORD (the agency's "
                "SCRAM credentials, set by `accord plan apply`)",
            )
        else:
            error = ConnectionFailed(
                f"connected to {where} but the Kafka handshake failed ({conn.security_protocol})",
                hint="the listener may require a login or TLS: set ACCORD_KAFKA_USERNAME and "
                "ACCORD_KAFKA_PASSWORD, or ACCORD_SSL_CAFILE",
            )
        return error
    if isinstance(exc, kafka_errors.SaslAuthenticationFailed):
        return AuthFailed(
            f"the broker at {where} refused the login of {principal}",
            hint="check ACCORD_KAFKA_USERNAME and ACCORD_KAFKA_PASSWORD",
        )
    target = f" {resource}" if resource else ""
    return BrokerError(
        f"Kafka failed while trying to {doing}{target}: {type(exc).__name__}: {str(exc)[:200]}",
        hint="check that the brokers are up (`accord broker status`) and retry",
    )


@contextlib.contextmanager
def node_errors(
    conn: KafkaConnection, *, doing: str, resource: str | None = None
) -> Iterator[None]:
    """Turn Kafka failures (raised, or the cause of an accord error) into accord errors."""
    try:
        yield
    except AccordError as exc:
        cause = exc.__cause__
        if isinstance(cause, kafka_errors.KafkaError) and not isinstance(exc, Refused):
            raise kafka_failure(cause, conn, doing=doing, resource=resource) from None
        raise
    except kafka_errors.KafkaError as exc:
        raise kafka_failure(exc, conn, doing=doing, resource=resource) from None
