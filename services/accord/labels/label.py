"""The label model and the checks a publisher and a verifier both apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from accord.errors import ReasonCode, Refused
from accord.models.types import Agency
from accord.parties import Country, Scope, country_of


class Policy(StrEnum):
    """Known labelling policies. A label under any other policy is refused."""

    ACCORD_JPN_AUS_2007 = "accord-jpn-aus-2007"


class Classification(StrEnum):
    """The exchange-level scale, lowest first. Each country maps it to its own marking."""

    UNCLASSIFIED = "UNCLASSIFIED"
    RESTRICTED = "RESTRICTED"
    CONFIDENTIAL = "CONFIDENTIAL"
    SECRET = "SECRET"  # noqa: S105 - a classification level, not a password


CLASSIFICATION_RANK: dict[Classification, int] = {c: i for i, c in enumerate(Classification)}
"""Order on the scale: a higher rank needs more protection."""

# Illustrative equivalences only: plausible national markings for each exchange
# level, NOT an agreed correspondence table. A real deployment takes these from the
# security arrangement between the parties.
NATIONAL_MARKINGS: dict[Classification, dict[Country, str]] = {
    Classification.UNCLASSIFIED: {
        Country.JPN: "指定なし (no designation)",
        Country.AUS: "OFFICIAL",
        Country.USA: "UNCLASSIFIED",
    },
    Classification.RESTRICTED: {
        Country.JPN: "取扱注意 (handle with care)",
        Country.AUS: "OFFICIAL: Sensitive",
        Country.USA: "CUI",
    },
    Classification.CONFIDENTIAL: {
        Country.JPN: "秘 (hi)",
        Country.AUS: "PROTECTED",
        Country.USA: "CONFIDENTIAL",
    },
    Classification.SECRET: {
        Country.JPN: "極秘 (gokuhi)",
        Country.AUS: "SECRET",
        Country.USA: "SECRET",
    },
}


class Caveat(StrEnum):
    """Handling caveats, a fixed known set."""

    ORCON = "ORCON"
    """Originator-controlled: no dissemination beyond the recipients without consent."""
    LIMDIS = "LIMDIS"
    """Limited distribution: need-to-know within the receiving agency."""
    NOCONTRACT = "NOCONTRACT"
    """Not releasable to contractors."""


@dataclass(frozen=True)
class PolicyRules:
    highest: Classification
    caveats: frozenset[Caveat]


POLICIES: dict[Policy, PolicyRules] = {
    Policy.ACCORD_JPN_AUS_2007: PolicyRules(
        highest=Classification.SECRET, caveats=frozenset(Caveat)
    ),
}


class Label(BaseModel):
    """A security label, bound into the signed payload."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    policy: Policy
    classification: Classification
    releasable_to: Annotated[tuple[Country, ...], Field(min_length=1, max_length=3)]
    caveats: Annotated[tuple[Caveat, ...], Field(max_length=len(Caveat))] = ()
    originator: Agency
    created_at: AwareDatetime
    review_on: date
    legal_basis: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="The originator's laws and regulations the release is made under "
        "(the declaration: cooperation 'in accordance with laws and regulations of each "
        "country')."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Label:
        if len(set(self.releasable_to)) != len(self.releasable_to):
            raise ValueError("releasable_to lists a country twice")
        if len(set(self.caveats)) != len(self.caveats):
            raise ValueError("caveats lists a caveat twice")
        if self.review_on < self.created_at.date():
            raise ValueError("review_on is before created_at")
        return self


def _names(countries: set[Country]) -> str:
    return ", ".join(sorted(c.value for c in countries))


def national_marking(classification: Classification, country: Country) -> str:
    """The marking ``country`` uses for an exchange level (illustrative, see above)."""
    return NATIONAL_MARKINGS[classification][country]


def releasable_to_country(label: Label, country: Country) -> bool:
    """Whether a node of ``country`` may hold a message carrying ``label``."""
    return country in label.releasable_to


def check_label(label: Label, scope: Scope, *, sender: str) -> None:
    """Refuse a label that cannot travel in ``scope`` from ``sender``.

    Rules:
    - the policy is known and allows the classification and every caveat
      (``unknown-label-value``);
    - ``releasable_to`` equals the scope's members (``releasability-violation``): a
      topic is read by every member of its scope, so a label narrower than the scope
      would be delivered to a country it is not releasable to, and a wider one names
      a country the scope never reaches;
    - the originator is the sender (``sender-mismatch``): the signer vouches for the
      label, and only the originator sets one.
    """
    rules = POLICIES.get(label.policy)
    if rules is None:
        raise Refused(ReasonCode.UNKNOWN_LABEL_VALUE, f"unknown label policy {label.policy!r}")
    if CLASSIFICATION_RANK[label.classification] > CLASSIFICATION_RANK[rules.highest]:
        raise Refused(
            ReasonCode.UNKNOWN_LABEL_VALUE,
            f"classification {label.classification} is not allowed by policy {label.policy}",
            hint=f"the highest level under this policy is {rules.highest}",
        )
    unknown = set(label.caveats) - rules.caveats
    if unknown:
        raise Refused(
            ReasonCode.UNKNOWN_LABEL_VALUE,
            f"caveats {sorted(unknown)} are not known to policy {label.policy}",
        )
    releasable = set(label.releasable_to)
    members = set(scope.members)
    if releasable - members:
        raise Refused(
            ReasonCode.RELEASABILITY_VIOLATION,
            f"label releasable to {_names(releasable - members)} outside scope {scope}",
            hint=f"scope {scope} reaches {_names(members)}; use the scope that matches the label",
        )
    if members - releasable:
        raise Refused(
            ReasonCode.RELEASABILITY_VIOLATION,
            f"scope {scope} would deliver to {_names(members - releasable)}, "
            "which the label does not release to",
            hint="publish in a narrower scope, or release the message to every member",
        )
    if label.originator != sender:
        raise Refused(
            ReasonCode.SENDER_MISMATCH,
            f"label originator {label.originator} is not the sender {sender}",
            hint="the originating agency signs its own labels",
        )
    # country_of cannot fail here: both are validated agency ids.
    if country_of(label.originator) not in releasable:
        raise Refused(
            ReasonCode.RELEASABILITY_VIOLATION,
            "label is not releasable to the originator's own country",
        )


def scope_label(
    originator: str,
    scope: Scope,
    *,
    legal_basis: str,
    classification: Classification = Classification.RESTRICTED,
    caveats: tuple[Caveat, ...] = (Caveat.ORCON,),
    now: datetime | None = None,
    review_after: timedelta = timedelta(days=365),
) -> Label:
    """The usual label for a message to a whole scope: released to its members,
    created now, reviewed after a year."""
    at = now or datetime.now(UTC)
    return Label(
        policy=Policy.ACCORD_JPN_AUS_2007,
        classification=classification,
        releasable_to=tuple(sorted(scope.members)),
        caveats=caveats,
        originator=originator,
        created_at=at,
        review_on=(at + review_after).date(),
        legal_basis=legal_basis,
    )
