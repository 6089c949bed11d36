"""The monitor's ledger: per message, who was entitled and who has acknowledged.

Pure bookkeeping, fed with verified receipts; the service around it only moves
records. A message becomes known from the originator's ``published`` receipt (or,
if that was lost, from the first ``delivered`` one); its entitled agencies come
from the plan, minus the sender, unless the announcement names its ``readers``: a
label's need-to-know list (SPEC 11.4) leaves the other entitled agencies quarantining
the message ``not-a-recipient``, so they never acknowledge it and are not waited for.
The announcement may come after a delivery receipt: its readers then replace the
plan's agencies, and the acknowledgements recorded so far stay.

A message is ``(sender, message_id)`` with one payload digest: ids are unique per
sender only, and an acknowledgement counts as delivery only of the content it
names. The originator's ``published`` receipt fixes the digest; until one
arrives, the first delivery receipt's does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accord.areas import Area
from accord.models import Receipt
from accord.parties import Scope
from accord.plan import Plan


@dataclass
class _Entry:
    sender: str
    digest: str
    announced: bool
    """The digest is the originator's own (from its ``published`` receipt)."""
    scope: Scope
    area: Area
    first_seen: datetime
    entitled: frozenset[str]
    acknowledged: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Outstanding:
    message_id: str
    sender: str
    scope: str
    area: str
    age_s: float
    missing: tuple[str, ...]


class Ledger:
    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._entries: dict[tuple[str, str], _Entry] = {}

    def record(self, receipt: Receipt, *, scope: Scope, area: Area, at: datetime) -> None:
        entitled_here = self._plan.entitled_receivers(scope, area)
        for ack in receipt.acknowledgements:
            key = (ack.sender, str(ack.message_id))
            published = receipt.status == "published"
            entry = self._entries.get(key)
            if entry is None:
                if published and ack.readers is not None:
                    entitled = frozenset(ack.readers)
                else:
                    entitled = frozenset(a for a in entitled_here if a != ack.sender)
                entry = _Entry(ack.sender, ack.payload_sha256, published, scope, area, at, entitled)
                self._entries[key] = entry
            elif published and not entry.announced:
                # The originator's word on the content: acknowledgements of anything
                # else were not deliveries of this message.
                entry.announced = True
                if entry.digest != ack.payload_sha256:
                    entry.digest = ack.payload_sha256
                    entry.acknowledged.clear()
                # And on who reads it (only the originator knows its label's list).
                if ack.readers is not None:
                    entry.entitled = frozenset(ack.readers)
            if not published and ack.payload_sha256 == entry.digest:
                entry.acknowledged.add(receipt.receiving_agency)

    @property
    def acknowledgements(self) -> int:
        """Delivery acknowledgements recorded, over all messages."""
        return sum(len(e.acknowledged) for e in self._entries.values())

    def outstanding(self, *, now: datetime, deadline: timedelta) -> list[Outstanding]:
        """Messages older than ``deadline`` that some entitled agency has not acknowledged."""
        out = []
        for (_sender, mid), e in self._entries.items():
            age = now - e.first_seen
            missing = e.entitled - e.acknowledged
            if missing and age >= deadline:
                out.append(
                    Outstanding(
                        mid,
                        e.sender,
                        e.scope.value,
                        e.area.value,
                        age.total_seconds(),
                        tuple(sorted(missing)),
                    )
                )
        return sorted(out, key=lambda o: (-o.age_s, o.message_id))

    def acknowledged_by(self, message_id: str, *, sender: str | None = None) -> frozenset[str]:
        """Who acknowledged delivery of ``(sender, message_id)``; without ``sender``,
        of any message with that id."""
        return frozenset(
            agency
            for (s, mid), entry in self._entries.items()
            if mid == message_id and sender in (None, s)
            for agency in entry.acknowledged
        )

    def __len__(self) -> int:
        return len(self._entries)
