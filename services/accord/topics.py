"""Topic names: one rule, used by the plan, the publisher, the receiver and the ACLs."""

from __future__ import annotations

from accord.areas import Area
from accord.parties import Scope

PREFIX = "accord"
RECEIPTS_TOPIC = f"{PREFIX}.receipts"
TRUST_TOPIC = f"{PREFIX}.trust"


def exchange_topic(scope: Scope, area: Area) -> str:
    """``accord.<scope>.<area>``, e.g. ``accord.bilateral.counter-terrorism``."""
    return f"{PREFIX}.{scope.value}.{area.value}"


def quarantine_topic(agency: str) -> str:
    """Per-agency quarantine, e.g. ``accord.quarantine.jpn.mofa``."""
    return f"{PREFIX}.quarantine.{agency.lower()}"


def parse_exchange_topic(topic: str) -> tuple[Scope, Area] | None:
    """The scope and area of an exchange topic, or None when it is not one."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    try:
        return Scope(parts[1]), Area(parts[2])
    except ValueError:
        return None
