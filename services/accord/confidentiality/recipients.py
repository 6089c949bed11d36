"""Who may read a body: the plan's entitled agencies, narrowed by need-to-know, plus
the sender.

- entitled: ``plan.entitled_receivers(scope, area)``, the agencies whose country is
  in the scope and who receive that area;
- need-to-know (optional, agency ids from the label, ``Label.need_to_know``): the
  recipients are the entitled agencies that are also on it.
  A listed agency the plan does not entitle reads nothing: the list narrows, never
  widens. It is not refused, because sender and receiver compute this from their own
  copies of the plan, and a signed label must keep one meaning when an entitlement
  changes later (SPEC ENC-06, ENC-09);
- the sender always: it must read its own messages and release them later.

Then each recipient agency is resolved to its current encryption key; an agency with
none stops the message (fail closed) rather than silently shrinking the audience.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from accord.areas import Area
from accord.confidentiality.directory import KeyDirectory
from accord.confidentiality.errors import NoEncryptionKey
from accord.confidentiality.keys import EncryptionPublicKey
from accord.labels import Label
from accord.parties import Scope
from accord.plan import Plan

__all__ = [
    "Audiences",
    "Recipient",
    "may_read",
    "narrow",
    "recipient_agencies",
    "resolve_recipients",
]


@dataclass(frozen=True)
class Recipient:
    """One recipient: an agency and the encryption key it is reached with."""

    agency: str
    public: EncryptionPublicKey

    @property
    def ekid(self) -> str:
        return self.public.ekid


def recipient_agencies(
    plan: Plan,
    *,
    sender: str,
    scope: Scope,
    area: Area,
    need_to_know: Iterable[str] | None = None,
) -> tuple[str, ...]:
    """The agencies a body from ``sender`` on (scope, area) is encrypted to, sorted."""
    return narrow(plan.entitled_receivers(scope, area), sender=sender, need_to_know=need_to_know)


class Audiences:
    """``recipient_agencies`` under one plan, remembered.

    The publisher asks it for every message it encrypts and the receiver for every
    one it opens (ENC-06); under one plan the answer for (sender, scope, area,
    need-to-know) never changes, and a node sees a handful of them. 6 µs a call
    computed (``timeit``), a dictionary look-up remembered. Bounded: when full it
    starts again.
    """

    __slots__ = ("_capacity", "_known", "_plan")

    def __init__(self, plan: Plan, *, capacity: int = 4096) -> None:
        self._plan = plan
        self._capacity = capacity
        self._known: dict[tuple[str, Scope, Area, tuple[str, ...] | None], tuple[str, ...]] = {}

    def of(
        self, *, sender: str, scope: Scope, area: Area, need_to_know: Iterable[str] | None
    ) -> tuple[str, ...]:
        key = (sender, scope, area, None if need_to_know is None else tuple(need_to_know))
        known = self._known.get(key)
        if known is None:
            if len(self._known) >= self._capacity:
                self._known.clear()
            known = self._known[key] = recipient_agencies(
                self._plan, sender=sender, scope=scope, area=area, need_to_know=need_to_know
            )
        return known


def narrow(
    entitled: Iterable[str], *, sender: str, need_to_know: Iterable[str] | None
) -> tuple[str, ...]:
    """SPEC ENC-06's set, sorted: ``entitled`` intersected with ``need_to_know`` (all
    of ``entitled`` when there is no list), plus ``sender``."""
    chosen = set(entitled)
    if need_to_know is not None:
        chosen &= set(need_to_know)
    return tuple(sorted(chosen | {sender}))


def may_read(label: Label, *, sender: str, agency: str) -> bool:
    """SPEC ENC-09: whether ``agency`` may read a message of ``sender`` with ``label``:
    the label has no need-to-know list, lists the agency, or the agency is the sender.

    Decided from the verified label alone, before any key is looked for: a node left
    off the list quarantines the record (``not-a-recipient``), encrypted or not, and
    never waits for a key announcement that will not name it.
    """
    return label.need_to_know is None or agency == sender or agency in label.need_to_know


def resolve_recipients(
    agencies: Iterable[str], directory: KeyDirectory, *, now: datetime
) -> tuple[Recipient, ...]:
    """Each agency with its current encryption key; NoEncryptionKey when one has none."""
    resolved: list[Recipient] = []
    missing: list[str] = []
    for agency in sorted(set(agencies)):
        public = directory.current(agency, now=now)
        if public is None:
            missing.append(agency)
        else:
            resolved.append(Recipient(agency, public))
    if missing:
        raise NoEncryptionKey(
            f"no current encryption key for {', '.join(missing)}",
            hint="the agency must publish a key statement (accord keys), or its key was "
            "revoked or has expired",
        )
    return tuple(resolved)
