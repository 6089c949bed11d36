"""Who may read a body: the plan's entitled agencies, narrowed by need-to-know, plus
the sender.

- entitled: ``plan.entitled_receivers(scope, area)``, the agencies whose country is
  in the scope and who receive that area;
- need-to-know (optional, agency ids from the label): the recipients are narrowed to
  it. Naming an agency the plan does not entitle is refused, not ignored: a label
  that asks for more than the plan allows is a mistake the sender must see;
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
from accord.errors import ReasonCode, Refused
from accord.parties import Scope
from accord.plan import Plan

__all__ = ["Recipient", "recipient_agencies", "resolve_recipients"]


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
    entitled = set(plan.entitled_receivers(scope, area))
    if need_to_know is None:
        chosen = entitled
    else:
        chosen = set(need_to_know)
        outside = chosen - entitled
        if outside:
            raise Refused(
                ReasonCode.NOT_ENTITLED,
                f"need-to-know names {sorted(outside)}, not entitled to {scope}/{area}",
                hint="a need-to-know list narrows the plan's recipients; it cannot widen them",
            )
    return tuple(sorted(chosen | {sender}))


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
