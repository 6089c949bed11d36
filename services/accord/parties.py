"""Who takes part: countries, agencies and scopes.

One name each, used everywhere: a country is ISO 3166-1 alpha-3, an agency is
``COUNTRY.AGENCY``, and a scope names the set of countries that share a topic.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator


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


def _check_agency(value: str) -> str:
    if not _AGENCY_RE.fullmatch(value):
        raise ValueError(
            f"agency id {value!r} must be COUNTRY.AGENCY, e.g. JPN.MOFA "
            "(country JPN, AUS or USA; agency 2-32 of A-Z, 0-9, '-')"
        )
    return value


AgencyId = Annotated[str, AfterValidator(_check_agency)]
"""An agency's identity, ``COUNTRY.AGENCY`` such as ``JPN.MOFA``."""


def is_agency_id(value: str) -> bool:
    return _AGENCY_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=1024)
def country_of(agency: str) -> Country:
    """The country an agency id belongs to; raises ValueError on a malformed id.

    Cached: a pure function of the id, asked for each agency of the plan whenever the
    audience of a message is worked out (a malformed id raises, and is not cached)."""
    return Country(_check_agency(agency).split(".", 1)[0])
