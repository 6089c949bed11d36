"""Encryption key statements and CWK announcements on the trust topic.

Both are self-verifying compact JWS, so they travel on the plan's trust topic next to
certificates and CRLs, under compaction keys that never collide with those and keep
every item (a node catching up needs old announcements to read old messages):

- ``enc:<agency>:<ekid>``: a key statement or its revocation (a revocation replaces the
  statement it revokes under compaction, and the directory keeps revocations);
- ``cwk:<sender>:<cwk_id hex>``: a CWK announcement, published before the first
  message that uses it (accord.publisher).

:func:`apply_key_record` folds one such record into a node's ``KeyDirectory`` and
``Keyring``; like ``accord.trust.feed.apply_item`` it never raises on hostile bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from accord.confidentiality.directory import KeyDirectory
from accord.confidentiality.errors import NotARecipient
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.statement import verify_key_statement
from accord.config import KafkaConnection
from accord.errors import AccordError, PkiError
from accord.observability.logs import get_logger
from accord.trust import TrustStore

__all__ = [
    "KEY_PREFIXES",
    "NodeKeys",
    "announcement_key",
    "apply_key_record",
    "publish_key_statements",
    "statement_key",
]

log = get_logger(__name__)

KEY_PREFIXES = (b"enc:", b"cwk:")


def statement_key(agency: str, ekid: str) -> bytes:
    return f"enc:{agency}:{ekid}".encode()


def announcement_key(sender: str, cwk_id: bytes) -> bytes:
    return f"cwk:{sender}:{cwk_id.hex()}".encode()


@dataclass
class NodeKeys:
    """A node's view of encryption: every agency's keys, and its own keyring."""

    directory: KeyDirectory
    keyring: Keyring | None = None


def apply_key_record(
    keys: NodeKeys, key: bytes | None, value: bytes | None, *, now: datetime | None = None
) -> tuple[str, str | None]:
    """Fold one ``enc:``/``cwk:`` record in; (outcome, error). Never raises.

    Outcomes: ``key-statement``, ``cwk`` (opened for this agency), ``cwk-not-mine``
    (announced to others: remembered, so its bodies are ``not-a-recipient``),
    ``ignored``, ``rejected``.
    """
    at = now or datetime.now(UTC)
    if not value or key is None:
        return "ignored", None
    try:
        if key.startswith(b"enc:"):
            keys.directory.add(value, now=at)
            return "key-statement", None
        if key.startswith(b"cwk:"):
            if keys.keyring is None:
                return "ignored", None
            try:
                keys.keyring.open(value, keys.directory.trust, now=at)
            except NotARecipient:
                return "cwk-not-mine", None
            return "cwk", None
    except AccordError as exc:
        error = f"{exc.code}: {exc.message[:200]}"
        log.warning(
            "confidentiality.key_record_rejected",
            key=key.decode("utf-8", "replace")[:100],
            error=error,
        )
        return "rejected", error
    except Exception as exc:  # untrusted bytes: any failure is a rejection
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning(
            "confidentiality.key_record_rejected",
            key=key.decode("utf-8", "replace")[:100],
            error=error,
        )
        return "rejected", error
    return "ignored", None


async def publish_key_statements(
    conn: KafkaConnection,
    topic: str,
    agency: str,
    statements: list[bytes],
    trust: TrustStore,
    *,
    now: datetime | None = None,
) -> int:
    """Put ``agency``'s key statements and revocations on its key topic; return how many.

    Each is verified first, as every node will verify it, and all must be
    ``agency``'s: nothing is sent if one would be rejected (PkiError).
    """
    from accord.kafka import new_producer

    at = now or datetime.now(UTC)
    keyed: list[tuple[bytes, bytes]] = []
    for raw in statements:
        try:
            statement = verify_key_statement(raw, trust, now=at)
        except AccordError as exc:
            raise PkiError(
                f"a key statement of {agency} does not verify: {exc.message[:200]}",
                hint="re-issue it with `accord keys rotate`",
            ) from None
        if statement.agency != agency:
            raise PkiError(
                f"a statement of {statement.agency} is in {agency}'s key files",
                hint="each agency publishes only its own statements",
            )
        keyed.append((statement_key(agency, statement.ekid), raw))
    producer = new_producer(conn)
    await producer.start()
    try:
        for key, raw in keyed:
            await producer.send_and_wait(topic, value=raw, key=key)
    finally:
        await producer.stop()
    log.info("keys.published", agency=agency, topic=topic, statements=len(keyed))
    return len(keyed)
