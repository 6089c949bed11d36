"""Building receipts.

A receipt is an ordinary signed envelope (type ``accord.receipt.v1``) on the
receipts topic. Its header carries the acknowledged message's scope and area, so
the monitor can tell who was entitled to it without reading the exchange topics.
It reveals no content: only ids, agencies and a digest.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Literal

from accord.envelope import Header, seal
from accord.labels import Classification, Label, Policy
from accord.models import Receipt
from accord.parties import Scope
from accord.topics import DEFAULT_NAMESPACE, namespace_of
from accord.trust import Signer

ReceiptStatus = Literal["delivered", "published"]


_REVIEW_AFTER = timedelta(days=365)
_TEMPLATE_AT = datetime(2000, 1, 1, tzinfo=UTC)


def receipt_label(agency: str, scope: Scope, at: datetime) -> Label:
    return Label(
        policy=Policy.ACCORD_JPN_AUS_2007,
        classification=Classification.UNCLASSIFIED,
        releasable_to=tuple(sorted(scope.members)),
        caveats=(),
        originator=agency,
        created_at=at,
        review_on=(at + _REVIEW_AFTER).date(),
        legal_basis="Acknowledgement of receipt under the 2007 Joint Declaration on "
        "Security Cooperation; carries no message content.",
    )


@functools.lru_cache(maxsize=256)
def _label_template(agency: str, scope: Scope) -> Label:
    # Fully validated once per (agency, scope); only the two time fields vary.
    return receipt_label(agency, scope, _TEMPLATE_AT)


def _receipt_label_now(agency: str, scope: Scope, now: datetime) -> Label:
    """``receipt_label(agency, scope, now)`` for an aware ``now`` this module just took.

    The same Label, without re-running pydantic on fields that were validated in the
    cached template. The two replaced fields keep the validator's invariant
    (``review_on`` is a year after ``created_at``), ``now`` is aware UTC, and seal()
    still runs check_label on the result, as every verifier will.
    """
    return _label_template(agency, scope).model_copy(
        update={"created_at": now, "review_on": (now + _REVIEW_AFTER).date()}
    )


def build_receipt(
    original: Header,
    payload_sha256: str,
    *,
    signer: Signer,
    sequence: int,
    status: ReceiptStatus = "delivered",
) -> tuple[Header, bytes]:
    """Sign a receipt for the message with ``original`` header and payload digest."""
    now = datetime.now(UTC)
    scope = Scope(original.scope)
    body = Receipt(
        acknowledged_message_id=original.message_id,
        acknowledged_sender=original.sender,
        receiving_agency=signer.agency,
        received_at=now,
        payload_sha256=payload_sha256,
        status=status,
    )
    header = Header.create(
        Receipt.TYPE,
        sender=signer.agency,
        scope=scope,
        area=original.area,
        sequence=sequence,
        issued_at=now,
        correlation_id=original.correlation_id or original.message_id,
        causation_id=original.message_id,
        namespace=namespace_of(original.topic) or DEFAULT_NAMESPACE,
    )
    return header, seal(header, _receipt_label_now(signer.agency, scope, now), body, signer)
