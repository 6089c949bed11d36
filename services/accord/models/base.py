"""The base of every message body, and the rules that need the header's context."""

from __future__ import annotations

from typing import ClassVar

from accord.areas import Area
from accord.conformance import rules
from accord.errors import ReasonCode, Refused
from accord.models.types import Strict
from accord.parties import Scope, country_of


class MessageBody(Strict):
    """A message body. ``TYPE`` is its versioned wire name (the JWS ``cty``).

    Rules one body can enforce alone live in field and model validators (they give
    ``schema-invalid``). Rules that also need the signed header (who sent it, in
    which scope and area) live in :meth:`check_context`, which both the publisher
    and the verifier call.
    """

    TYPE: ClassVar[str]
    AREAS: ClassVar[frozenset[Area] | None] = None
    """The areas this type may be sent in; None means any."""

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        """Raise :class:`accord.errors.Refused` when this body cannot travel so."""
        if self.AREAS is not None and area not in self.AREAS and rules.enabled("ENV-34"):
            raise Refused(
                ReasonCode.SCHEMA_INVALID,
                f"{self.TYPE} cannot be sent in area {area}",
                hint=f"use area {', '.join(sorted(self.AREAS))}",
                rule="ENV-34",
            )

    @staticmethod
    def _agencies_in_scope(
        agencies: tuple[str, ...], scope: Scope, what: str, *, rule: str
    ) -> None:
        outside = sorted(a for a in agencies if country_of(a) not in scope.members)
        if outside and rules.enabled(rule):
            raise Refused(
                ReasonCode.SCOPE_VIOLATION,
                f"{what} {outside} are outside scope {scope}",
                rule=rule,
            )
