"""Building receipts.

A receipt is an ordinary signed envelope (type ``accord.receipt.v1``) on the
receipts topic, acknowledging a batch of messages of one scope and area. Its
header carries that scope and area, so the monitor can tell who was entitled to
them without reading the exchange topics. It reveals no content: only ids,
agencies and digests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from accord.areas import Area
from accord.envelope import Header, seal
from accord.labels import Classification, Label, Policy
from accord.models import MAX_ACKNOWLEDGEMENTS, Acknowledgement, Receipt
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


def acknowledgement(header: Header, payload_sha256: str) -> Acknowledgement:
    return Acknowledgement(
        message_id=header.message_id, sender=header.sender, payload_sha256=payload_sha256
    )


def build_receipt(
    acknowledged: Sequence[Acknowledgement],
    *,
    scope: Scope,
    area: Area,
    namespace: str,
    signer: Signer,
    sequence: int,
    status: ReceiptStatus = "delivered",
) -> tuple[Header, bytes]:
    """Sign one receipt for messages of one scope and area (at most 1000)."""
    now = datetime.now(UTC)
    body = Receipt(
        receiving_agency=signer.agency,
        received_at=now,
        status=status,
        acknowledgements=tuple(acknowledged),
    )
    header = Header.create(
        Receipt.TYPE,
        sender=signer.agency,
        scope=scope,
        area=area,
        sequence=sequence,
        issued_at=now,
        # A receipt for one message is caused by it; a batch has no single cause.
        causation_id=acknowledged[0].message_id if len(acknowledged) == 1 else None,
        namespace=namespace,
    )
    return header, seal(header, _receipt_label_now(signer.agency, scope, now), body, signer)


def receipt_group(header: Header) -> tuple[Scope, Area, str]:
    """The receipt a message's acknowledgement goes in: its scope, area and namespace."""
    return (
        Scope(header.scope),
        Area(header.area),
        namespace_of(header.topic) or DEFAULT_NAMESPACE,
    )


def group_for_receipts(
    items: Iterable[tuple[Header, str]],
) -> dict[tuple[Scope, Area, str], list[Acknowledgement]]:
    """Group (header, payload digest) pairs by the receipt they belong in:
    same scope, area and namespace, at most ``MAX_ACKNOWLEDGEMENTS`` each."""
    groups: dict[tuple[Scope, Area, str], list[Acknowledgement]] = {}
    for header, digest in items:
        groups.setdefault(receipt_group(header), []).append(acknowledgement(header, digest))
    return groups


def chunks(acks: list[Acknowledgement]) -> Iterator[list[Acknowledgement]]:
    for i in range(0, len(acks), MAX_ACKNOWLEDGEMENTS):
        yield acks[i : i + MAX_ACKNOWLEDGEMENTS]
