"""Building receipts.

A receipt is an ordinary signed envelope (type ``accord.receipt.v1``) on the
receipts topic. Its header carries the acknowledged message's scope and area, so
the monitor can tell who was entitled to it without reading the exchange topics.
It reveals no content: only ids, agencies and a digest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from accord.envelope import Header, seal
from accord.labels import Classification, Label, Policy
from accord.models import Receipt
from accord.parties import Scope
from accord.topics import DEFAULT_NAMESPACE, namespace_of
from accord.trust import Signer

ReceiptStatus = Literal["delivered", "published"]


def receipt_label(agency: str, scope: Scope, at: datetime) -> Label:
    return Label(
        policy=Policy.ACCORD_JPN_AUS_2007,
        classification=Classification.UNCLASSIFIED,
        releasable_to=tuple(sorted(scope.members)),
        caveats=(),
        originator=agency,
        created_at=at,
        review_on=(at + timedelta(days=365)).date(),
        legal_basis="Acknowledgement of receipt under the 2007 Joint Declaration on "
        "Security Cooperation; carries no message content.",
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
    return header, seal(header, receipt_label(signer.agency, scope, now), body, signer)
