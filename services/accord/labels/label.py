"""The label model and the checks a publisher and a verifier both apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from accord.conformance import rules
from accord.errors import ReasonCode, Refused
from accord.models.types import (
    AGENCY_SCHEMA,
    UNIQUE,
    Agency,
    Day,
    Timestamp,
    absent_by_default,
    invariant,
    list_or_absent,
    unique,
)
from accord.parties import Country, Scope, country_of

MAX_NEED_TO_KNOW = 16
"""At most this many agencies on a need-to-know list (the plan has fewer than that)."""

NeedToKnow = Annotated[
    tuple[Agency, ...] | None,
    Field(min_length=1, max_length=MAX_NEED_TO_KNOW),
    # Published without ``null``: absent means "every entitled agency", and one
    # spelling for it leaves no reader to guess whether null means nobody.
    WithJsonSchema(
        {
            "type": "array",
            "items": AGENCY_SCHEMA,
            "minItems": 1,
            "maxItems": MAX_NEED_TO_KNOW,
            "uniqueItems": True,
            "description": "Need-to-know: the only agencies (besides the sender) that may "
            "read the body, in ascending order; absent: every agency the plan entitles. "
            "Narrows the plan's recipients, never widens them (SPEC ENV-41, ENC-06, ENC-09).",
        }
    ),
]


class Policy(StrEnum):
    """Known labelling policies. A label under any other policy is refused.

    The members name the policies for code; what each policy allows (levels, their
    order, caveats, markings) is data, loaded from ``schemas/policy/`` (SPEC.md 6.5).
    """

    ACCORD_JPN_AUS_2007 = "accord-jpn-aus-2007"


class Classification(StrEnum):
    """The exchange-level scale, lowest first (checked against the policy file on import)."""

    UNCLASSIFIED = "UNCLASSIFIED"
    RESTRICTED = "RESTRICTED"
    CONFIDENTIAL = "CONFIDENTIAL"
    SECRET = "SECRET"  # noqa: S105 - a classification level, not a password


class Caveat(StrEnum):
    """Handling caveats (checked against the policy file on import)."""

    ORCON = "ORCON"
    """Originator-controlled: no dissemination beyond the recipients without consent."""
    LIMDIS = "LIMDIS"
    """Limited distribution: need-to-know within the receiving agency."""
    NOCONTRACT = "NOCONTRACT"
    """Not releasable to contractors."""


@dataclass(frozen=True)
class PolicyRules:
    """One policy file: its levels lowest first, its caveats, illustrative markings."""

    name: str
    levels: tuple[Classification, ...]
    caveats: frozenset[Caveat]
    countries: frozenset[Country]
    markings: dict[Classification, dict[Country, str]]

    @property
    def highest(self) -> Classification:
        return self.levels[-1]


def _load_policy(name: str) -> PolicyRules:
    # The published file is the only copy: accord reads it here (package data, a
    # link to schemas/policy/), so what partners read is what accord enforces.
    text = (resources.files("accord.labels") / "policies" / f"{name}.json").read_text("utf-8")
    doc = json.loads(text)
    if doc.get("policy") != name or doc.get("national_markings_status") != "illustrative":
        raise RuntimeError(f"label policy file {name}.json is not policy {name}")
    try:
        levels = tuple(Classification(level["name"]) for level in doc["levels"])
        caveats = frozenset(Caveat(c["name"]) for c in doc["caveats"])
        countries = frozenset(Country(c) for c in doc["countries"])
        markings = {
            Classification(level["name"]): {
                Country(c): m for c, m in level["national_markings"].items()
            }
            for level in doc["levels"]
        }
    except (KeyError, TypeError, ValueError) as exc:
        # A value the code has no name for: the file and the enums above disagree.
        raise RuntimeError(f"label policy file {name}.json: {exc!r}") from None
    return PolicyRules(name, levels, caveats, countries, markings)


POLICIES: dict[Policy, PolicyRules] = {p: _load_policy(p.value) for p in Policy}
_POLICY_NAMED: dict[str, PolicyRules] = {r.name: r for r in POLICIES.values()}

CLASSIFICATION_RANK: dict[Classification, int] = {
    c: i for i, c in enumerate(POLICIES[Policy.ACCORD_JPN_AUS_2007].levels)
}
"""Order on the scale: a higher rank needs more protection."""

NATIONAL_MARKINGS: dict[Classification, dict[Country, str]] = POLICIES[
    Policy.ACCORD_JPN_AUS_2007
].markings
"""Illustrative national markings for each exchange level, NOT an agreed correspondence
(the policy file says so): a real deployment takes them from the security arrangement."""


def unknown_label_values(label: object) -> str | None:
    """SPEC ENV-26 on a label as decoded JSON: what the policy does not know, or None.

    Only string values are judged here; a value of the wrong JSON type is left to
    schema validation (``schema-invalid``).
    """
    if not isinstance(label, dict):
        return None
    policy_name = label.get("policy")
    policy: PolicyRules | None = None
    if isinstance(policy_name, str):
        policy = _POLICY_NAMED.get(policy_name)
        if policy is None:
            return f"unknown label policy {policy_name[:64]!r}"
    level = label.get("classification")
    if isinstance(level, str) and policy is not None and level not in policy.levels:
        return f"classification {level[:64]!r} is not a level of policy {policy.name}"
    countries = label.get("releasable_to")
    if isinstance(countries, list):
        known = policy.countries if policy is not None else frozenset(Country)
        for country in countries:
            if isinstance(country, str) and country not in known:
                return f"releasable_to names an unknown country {country[:64]!r}"
    caveats = label.get("caveats")
    if isinstance(caveats, list) and policy is not None:
        for caveat in caveats:
            if isinstance(caveat, str) and caveat not in policy.caveats:
                return f"caveat {caveat[:64]!r} is not known to policy {policy.name}"
    return None


class Label(BaseModel):
    """A security label, bound into the signed payload."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    policy: Policy
    classification: Classification
    releasable_to: Annotated[
        tuple[Country, ...], Field(min_length=1, max_length=3, json_schema_extra=UNIQUE)
    ]
    caveats: Annotated[
        tuple[Caveat, ...], Field(max_length=len(Caveat), json_schema_extra=UNIQUE)
    ] = ()
    originator: Agency
    created_at: Timestamp
    review_on: Day
    legal_basis: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="The originator's laws and regulations the release is made under "
        "(the declaration: cooperation 'in accordance with laws and regulations of each "
        "country')."
    )
    need_to_know: NeedToKnow = Field(
        default=None,
        # Absent stays absent on the wire: a label without a need-to-know list is
        # byte-for-byte the label of spec v1.2 (and costs no Python call per dump
        # beyond this check, unlike a model serializer).
        exclude_if=lambda value: value is None,
        json_schema_extra=absent_by_default,
    )

    @field_validator("need_to_know", mode="before")
    @classmethod
    def _absent_not_null(cls, value: object, info: ValidationInfo) -> object:
        return list_or_absent(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> Label:
        unique(self.releasable_to, "releasable_to")
        unique(self.caveats, "caveats")
        invariant(self.review_on >= self.created_at.date(), "review_on is before created_at")
        if self.need_to_know is not None:
            unique(self.need_to_know, "need_to_know")
            invariant(
                list(self.need_to_know) == sorted(self.need_to_know),
                "need_to_know is not in ascending order",
            )
        return self


def _names(countries: set[Country]) -> str:
    return ", ".join(sorted(c.value for c in countries))


def national_marking(classification: Classification, country: Country) -> str:
    """The marking ``country`` uses for an exchange level (illustrative, see above)."""
    return NATIONAL_MARKINGS[classification][country]


def releasable_to_country(label: Label, country: Country) -> bool:
    """Whether a node of ``country`` may hold a message carrying ``label``."""
    return country in label.releasable_to


_last_passed: tuple[Label, Scope, str, bool] | None = None
"""The last label ``check_label`` passed, with what it was checked against. A
publisher's messages share their label object (``publish_many``: one for the call),
and a label is frozen: the same object checked against the same scope and sender
passes again (2.4 µs a message, ``timeit``; issue 16). The label is held, so its
identity cannot pass to another object; a verifier's labels are parsed per record and
never hit."""


def _forget_passed() -> None:
    global _last_passed
    _last_passed = None


rules.on_change(_forget_passed)  # a pass under one set of rules says nothing of another


def check_label(label: Label, scope: Scope, *, sender: str, values_checked: bool = False) -> None:
    """Refuse a label that cannot travel in ``scope`` from ``sender``.

    Rules:
    - the policy is known and allows the classification and every caveat
      (``unknown-label-value``);
    - ``releasable_to`` equals the scope's members (``releasability-violation``): a
      topic is read by every member of its scope, so a label narrower than the scope
      would be delivered to a country it is not releasable to, and a wider one names
      a country the scope never reaches; and every agency on a ``need_to_know`` list
      is of a member country (same rule, ENV-41);
    - the originator is the sender (``sender-mismatch``): the signer vouches for the
      label, and only the originator sets one.

    ``values_checked``: the caller already ran the first rule (ENV-26) on the label
    as received; a verifier does, on the parsed JSON before schema validation.
    """
    global _last_passed
    last = _last_passed
    if (
        last is not None
        and last[0] is label
        and last[1] is scope
        and last[2] == sender
        and last[3] == values_checked
    ):
        return
    if not values_checked and rules.enabled("ENV-26"):
        # The members ENV-26 reads, as JSON spells them: the enum members are their
        # own strings (StrEnum), so no full model_dump per message is needed.
        unknown = unknown_label_values(
            {
                "policy": label.policy,
                "classification": label.classification,
                "releasable_to": list(label.releasable_to),
                "caveats": list(label.caveats),
            }
        )
        if unknown is not None:
            raise Refused(ReasonCode.UNKNOWN_LABEL_VALUE, unknown, rule="ENV-26")
    releasable = set(label.releasable_to)
    members = set(scope.members)
    if releasable != members and rules.enabled("ENV-41"):
        if releasable - members:
            raise Refused(
                ReasonCode.RELEASABILITY_VIOLATION,
                f"label releasable to {_names(releasable - members)} outside scope {scope}",
                hint=f"scope {scope} reaches {_names(members)}; use the scope that matches "
                "the label",
                rule="ENV-41",
            )
        raise Refused(
            ReasonCode.RELEASABILITY_VIOLATION,
            f"scope {scope} would deliver to {_names(members - releasable)}, "
            "which the label does not release to",
            hint="publish in a narrower scope, or release the message to every member",
            rule="ENV-41",
        )
    if label.need_to_know is not None and rules.enabled("ENV-41"):
        # Part of ENV-41: the label as a whole fits the scope. A listed agency of
        # another country could never be entitled, so the list would be a lie about
        # who reads the message.
        outside = sorted(a for a in label.need_to_know if country_of(a) not in members)
        if outside:
            raise Refused(
                ReasonCode.RELEASABILITY_VIOLATION,
                f"need-to-know names {', '.join(outside)}, outside scope {scope}",
                hint=f"list only agencies of {_names(members)}",
                rule="ENV-41",
            )
    if label.originator != sender and rules.enabled("ENV-42"):
        raise Refused(
            ReasonCode.SENDER_MISMATCH,
            f"label originator {label.originator} is not the sender {sender}",
            hint="the originating agency signs its own labels",
            rule="ENV-42",
        )
    # No check that the originator's country is in releasable_to: ENV-33 (the sender
    # is in scope), ENV-41 and ENV-42 together imply it.
    _last_passed = (label, scope, sender, values_checked)


def scope_label(
    originator: str,
    scope: Scope,
    *,
    legal_basis: str,
    classification: Classification = Classification.RESTRICTED,
    caveats: tuple[Caveat, ...] = (Caveat.ORCON,),
    now: datetime | None = None,
    review_after: timedelta = timedelta(days=365),
    need_to_know: tuple[str, ...] | None = None,
) -> Label:
    """The usual label for a message to a whole scope: released to its members,
    created now, reviewed after a year; ``need_to_know`` narrows who reads it."""
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
        need_to_know=tuple(sorted(set(need_to_know))) if need_to_know is not None else None,
    )
