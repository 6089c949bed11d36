"""Who takes part: countries, agencies and scopes.

One name each, used everywhere: a country is ISO 3166-1 alpha-3, an agency is
``COUNTRY.AGENCY``, and a scope names the set of countries that share a topic.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema


class Country(StrEnum):
    JPN = "JPN"
    AUS = "AUS"
    USA = "USA"


class Scope(StrEnum):
    """The exchanges the declaration provides for."""

    BILATERAL = "bilateral"
    TRILATERAL = "trilateral"

    @property
    def members(self) -> frozenset[Country]:
        return SCOPE_MEMBERS[self]


SCOPE_MEMBERS: dict[Scope, frozenset[Country]] = {
    Scope.BILATERAL: frozenset({Country.JPN, Country.AUS}),
    Scope.TRILATERAL: frozenset({Country.JPN, Country.AUS, Country.USA}),
}

AGENCY_PATTERN = r"^(JPN|AUS|USA)\.[A-Z][A-Z0-9-]{1,31}$"
"""An agency id, ``COUNTRY.AGENCY`` (SPEC.md section 2)."""
_AGENCY_RE = re.compile(AGENCY_PATTERN)


_AGENCY_FORM = (
    "must be COUNTRY.AGENCY, e.g. JPN.MOFA (country JPN, AUS or USA; agency 2-32 of A-Z, 0-9, '-')"
)


def _check_agency(value: str) -> str:
    if not _AGENCY_RE.fullmatch(value):
        raise ValueError(f"agency id {value!r} {_AGENCY_FORM}")
    return value


class _AgencyPattern:
    """The agency id's pattern, judged in pydantic-core (Rust's regex engine; the
    pattern is RE2-compatible and anchored) rather than in a Python callback: a
    message and each acknowledgement of a receipt name agencies, on every side of
    the exchange (issue 16). One error type, ``agency_id``, whatever was wrong."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        text = handler(source)
        if text.get("type") != "str":  # pragma: no cover - AgencyId is always a str
            raise TypeError("AgencyId annotates str")
        return core_schema.custom_error_schema(
            {**text, "pattern": AGENCY_PATTERN},
            custom_error_type="agency_id",
            custom_error_message=f"agency id {_AGENCY_FORM}",
        )


AgencyId = Annotated[str, _AgencyPattern()]
"""An agency's identity, ``COUNTRY.AGENCY`` such as ``JPN.MOFA``."""


def is_agency_id(value: str) -> bool:
    return _AGENCY_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=1024)
def country_of(agency: str) -> Country:
    """The country an agency id belongs to; raises ValueError on a malformed id.

    Cached: a pure function of the id, asked for each agency of the plan whenever the
    audience of a message is worked out (a malformed id raises, and is not cached)."""
    return Country(_check_agency(agency).split(".", 1)[0])
