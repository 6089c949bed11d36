"""Bounded field types shared by the message models.

Every string and list has a maximum, so a hostile sender cannot make a receiver
hold an unbounded value after the envelope size check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    ValidationInfo,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from accord.conformance import rules
from accord.parties import AGENCY_PATTERN, AgencyId

# -- lexical forms (SPEC.md 3.3) ------------------------------------------------------
# Formats are published as patterns, never as JSON Schema `format` (an annotation only
# in most validators, and their date-time/uuid accept forms the spec refuses). The
# patterns are RE2- and ECMA-262-compatible: no look-around, no \u escapes.

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_YEAR = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_DATE = (
    f"({_YEAR}-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    f"|{_YEAR}-(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    f"|{_YEAR}-02-(0[1-9]|1[0-9]|2[0-8])"
    f"|{_LEAP}-02-29)"
)
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
DATE_PATTERN = f"^{_DATE}$"
DATETIME_PATTERN = f"^{_DATE}T{_TIME}{_OFFSET}$"
_UUID_RE = re.compile(UUID_PATTERN)
_DATE_RE = re.compile(DATE_PATTERN)
_DATETIME_RE = re.compile(DATETIME_PATTERN)


class _Lexical:
    """A value written as text in one canonical form (SPEC.md 3.3): the text is judged
    by its published pattern, then parsed; Python values (models built in code) go on
    to the type's own strict check unchanged.

    In JSON the pattern runs in pydantic-core (Rust's regex engine: the patterns are
    RE2-compatible, anchored, with ASCII classes), and only the parse calls Python:
    judging the text in a Python callback cost the receiver about 0.9 µs more a
    field, five fields a message (issue 16).
    """

    def __init__(
        self,
        pattern: re.Pattern[str],
        what: str,
        parse: Callable[[str], Any],
        *,
        native_json: bool = False,
    ) -> None:
        """``native_json``: in JSON, the type's own strict parse reads the canonical text
        (pydantic-core's UUID: 0.3 µs, where a Python ``parse`` made from Rust cost 1.5
        more; issue 16), so ``parse`` serves Python values alone. Only for a type whose
        own parse reads every text of ``pattern`` as ``parse`` does."""
        self._pattern, self._parse, self._native_json = pattern, parse, native_json
        self._message = f"{what} is not in its canonical form"
        self.text_schema = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=pattern.pattern, strict=True),
            custom_error_type="lexical_form",
            custom_error_message=self._message,
        )
        """The JSON text's check alone, for a type that narrows this one (a UUIDv7)."""

    def _check(self, value: Any) -> Any:
        if isinstance(value, str):
            if not self._pattern.fullmatch(value):
                raise PydanticCustomError("lexical_form", self._message)
            return self._parse(value)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        typed = handler(source)  # the type's own strict check, on the parsed value
        parse = (
            [] if self._native_json else [core_schema.no_info_plain_validator_function(self._parse)]
        )
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([self.text_schema, *parse, typed]),
            python_schema=core_schema.no_info_before_validator_function(self._check, typed),
        )


UUID_FORM = _Lexical(_UUID_RE, "uuid", UUID, native_json=True)
"""A UUID's canonical text (SPEC.md 3.3): lower-case, hyphenated, nothing around it."""

CanonicalUuid = Annotated[
    UUID,
    UUID_FORM,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": UUID_PATTERN,
            "description": "canonical lower-case hyphenated UUID",
        }
    ),
]
Timestamp = Annotated[
    AwareDatetime,
    _Lexical(_DATETIME_RE, "date-time", datetime.fromisoformat),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "RFC 3339 date-time, upper-case T and Z or an offset (SPEC.md 3.3)",
        }
    ),
]
Day = Annotated[
    date,
    _Lexical(_DATE_RE, "date", date.fromisoformat),
    WithJsonSchema(
        {"type": "string", "pattern": DATE_PATTERN, "description": "calendar date YYYY-MM-DD"}
    ),
]


def invariant(holds: bool, message: str) -> None:
    """A cross-field rule (SPEC ENV-28): fails with its own error type, so that the
    verifier can tell it from a schema error (ENV-27)."""
    if not holds and rules.enabled("ENV-28"):
        raise PydanticCustomError("invariant", message)


def unique(values: tuple[object, ...], what: str) -> None:
    """``uniqueItems`` (published in the schema, so part of ENV-27)."""
    if len(set(values)) != len(values):
        raise ValueError(f"{what} lists a value twice")


UNIQUE = {"uniqueItems": True}

AGENCY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": AGENCY_PATTERN,
    "description": "agency id COUNTRY.AGENCY, e.g. JPN.MOFA",
}
"""An agency id's JSON Schema (also the items of the optional agency lists)."""

Agency = Annotated[
    AgencyId,
    # The validator lives in accord.parties; this only publishes the same rule in the
    # JSON Schema, so partners can check agency ids without accord's code.
    WithJsonSchema(AGENCY_SCHEMA),
]


def absent_by_default(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of an optional list (a label's ``need_to_know``, a receipt's
    ``readers``): its default is absence, which JSON Schema says by "not required"; a
    published ``"default": null`` would suggest null is a value."""
    schema.pop("default", None)


def list_or_absent(value: object, info: ValidationInfo) -> object:
    """Before-validator of an optional list: in JSON it is a list or absent, never
    null (one spelling of "absent"); Python callers may pass None. A before-validator
    sees the parsed JSON array as a list, which strict tuple validation would then
    refuse as if it came from Python: it becomes a tuple here."""
    if info.mode != "json":
        return value
    if value is None:
        raise ValueError(f"{info.field_name} is absent or a list, never null")
    return tuple(value) if isinstance(value, list) else value


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

# A receiver may write attachments to disk or show them: no path separators, no
# look-alike slashes (fraction slash, division slash, set minus, big solidus, small
# reverse solidus, fullwidth solidus and reverse solidus), no control characters and
# no bidi controls that would show a name other than the one written.
_NAME_FORBIDDEN = (
    "/\\\\\\x00-\\x1f\\x7f"
    "\u2044\u2215\u2216\u29f8\ufe68\uff0f\uff3c"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
)
FILE_NAME_PATTERN = f"^[^{_NAME_FORBIDDEN}]{{1,255}}$"


def _not_dot(value: str) -> str:
    if value in {".", ".."}:
        raise ValueError("file name must not be '.' or '..'")
    return value


FileName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=FILE_NAME_PATTERN),
    AfterValidator(_not_dot),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": FILE_NAME_PATTERN,
            "not": {"enum": [".", ".."]},
        }
    ),
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


Subjects = Annotated[tuple[Subject, ...], Field(max_length=len(Subject), json_schema_extra=UNIQUE)]


class Attachment(Strict):
    """An attachment by reference: its bytes travel elsewhere, its digest is signed here."""

    sha256: Sha256Hex
    size: Annotated[int, Field(ge=0, le=2**40)]
    media_type: MediaType
    name: FileName
