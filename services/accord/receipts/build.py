"""Building receipts.

A receipt is an ordinary signed envelope (type ``accord.receipt.v1``) on the
receipts topic, acknowledging a batch of messages of one scope and area. Its
header carries that scope and area, so the monitor can tell who was entitled to
them without reading the exchange topics. It reveals no content: only ids,
agencies and digests, and in an originator's ``published`` announcement the agencies
a need-to-know list lets read the message (``announced_readers``), which the
monitor then waits for instead of every entitled agency (SPEC 7).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter

from accord.areas import Area
from accord.confidentiality.recipients import recipient_agencies
from accord.envelope import Header, seal
from accord.labels import Classification, Label, Policy
from accord.models import MAX_ACKNOWLEDGEMENTS, Acknowledgement, Receipt
from accord.parties import Scope
from accord.plan import Plan
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


Readers = tuple[str, ...]
"""The agencies besides the sender expected to read a message (``Acknowledgement.readers``)."""


def announced_readers(
    plan: Plan, *, sender: str, scope: Scope, area: Area, need_to_know: Iterable[str] | None
) -> Readers | None:
    """What a ``published`` announcement says of who reads: None without a need-to-know
    list (every entitled agency), else the body's recipients (SPEC 11.4, the same set
    the body is encrypted to) without the sender, sorted; ``()`` when none is left."""
    if need_to_know is None:
        return None
    agencies = recipient_agencies(
        plan, sender=sender, scope=scope, area=area, need_to_know=need_to_know
    )
    return tuple(a for a in agencies if a != sender)


def acknowledgement(
    header: Header, payload_sha256: str, readers: Readers | None = None
) -> Acknowledgement:
    if readers is None:
        return Acknowledgement(
            message_id=header.message_id, sender=header.sender, payload_sha256=payload_sha256
        )
    return Acknowledgement(
        message_id=header.message_id,
        sender=header.sender,
        payload_sha256=payload_sha256,
        readers=readers,
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
    return _group(header.scope, header.area, header.topic)


@functools.lru_cache(maxsize=1024)
def _group(scope: str, area: str, topic: str) -> tuple[Scope, Area, str]:
    # Per message on every receiver; a node sees a few dozen topics (2.1 -> 0.4 µs).
    return Scope(scope), Area(area), namespace_of(topic) or DEFAULT_NAMESPACE


_ACKNOWLEDGEMENTS: TypeAdapter[list[Acknowledgement]] = TypeAdapter(list[Acknowledgement])
"""A receipt's acknowledgements validated in one call: 1.7 µs each, against 2.4 for
one model at a time (``timeit``, 256 a receipt; issue 16). Every node builds one for
each message it receives, and a publisher for each it announces."""


def group_for_receipts(
    items: Iterable[tuple[Header, str]],
    readers: Mapping[tuple[str, str], Readers] | None = None,
) -> dict[tuple[Scope, Area, str], list[Acknowledgement]]:
    """Group (header, payload digest) pairs by the receipt they belong in:
    same scope, area and namespace, at most ``MAX_ACKNOWLEDGEMENTS`` each.

    ``readers`` maps (sender, message_id) to the readers an announcement names
    (``announced_readers``); a message it does not map names none."""
    fields: dict[tuple[Scope, Area, str], list[dict[str, Any]]] = {}
    for header, digest in items:
        ack: dict[str, Any] = {
            "message_id": header.message_id,
            "sender": header.sender,
            "payload_sha256": digest,
        }
        if readers:
            named = readers.get((header.sender, str(header.message_id)))
            if named is not None:
                ack["readers"] = named
        fields.setdefault(receipt_group(header), []).append(ack)
    return {group: _ACKNOWLEDGEMENTS.validate_python(acks) for group, acks in fields.items()}


def chunks(acks: list[Acknowledgement]) -> Iterator[list[Acknowledgement]]:
    for i in range(0, len(acks), MAX_ACKNOWLEDGEMENTS):
        yield acks[i : i + MAX_ACKNOWLEDGEMENTS]
