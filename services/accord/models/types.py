"""Bounded field types shared by the message models.

Every string and list has a maximum, so a hostile sender cannot make a receiver
hold an unbounded value after the envelope size check.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import WithJsonSchema

from accord.parties import AgencyId

Agency = Annotated[
    AgencyId,
    # The validator lives in accord.parties; this only publishes the same rule in the
    # JSON Schema, so partners can check agency ids without accord's code.
    WithJsonSchema({
        "type": "string",
        "pattern": r"^(JPN|AUS|USA)\.[A-Z][A-Z0-9-]{1,31}$",
        "description": "agency id COUNTRY.AGENCY, e.g. JPN.MOFA",
    }),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Statement = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=5000)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=20000)]
Sha256Hex = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="SHA-256 digest, 64 lowercase hex digits"),
]
MediaType = Annotated[
    str,
    StringConstraints(
        max_length=127, pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$"
    ),
]

_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def _check_file_name(value: str) -> str:
    # A receiver may write attachments to disk: no paths, no control characters.
    if _BAD_NAME.search(value) or value in {".", ".."}:
        raise ValueError("file name must not contain '/', '\\' or control characters")
    return value


FileName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_check_file_name),
]


class Strict(BaseModel):
    """Base of every model on the wire: unknown fields refused, no coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Subject(StrEnum):
    """Subjects the declaration names, as tags (not areas)."""

    NORTH_KOREA_NUCLEAR = "north-korea-nuclear"
    BALLISTIC_MISSILES = "ballistic-missiles"
    ABDUCTION_ISSUE = "abduction-issue"
    TERRORISM = "terrorism"
    UN_PEACEKEEPING = "un-peacekeeping"
    UN_REFORM = "un-reform"
    WMD_PROLIFERATION = "wmd-proliferation"
    NARCOTICS = "narcotics"
    PEOPLE_SMUGGLING = "people-smuggling"
    COUNTERFEIT_CURRENCY = "counterfeit-currency"
    ARMS_SMUGGLING = "arms-smuggling"
    DISASTER_RELIEF = "disaster-relief"
    PANDEMICS = "pandemics"
    MARITIME_SECURITY = "maritime-security"
    AVIATION_SECURITY = "aviation-security"
    REGIONAL_CAPACITY_BUILDING = "regional-capacity-building"


Subjects = Annotated[tuple[Subject, ...], Field(max_length=len(Subject))]


class Attachment(Strict):
    """An attachment by reference: its bytes travel elsewhere, its digest is signed here."""

    sha256: Sha256Hex
    size: Annotated[int, Field(ge=0, le=2**40)]
    media_type: MediaType
    name: FileName
