"""API tests use accord's own pytest plugin (``accord.testing``), on the session's broker.

The plugin would start a broker of its own; here it shares the one the rest of
the suite uses, so a run never has two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accord.broker import LocalBroker
from accord.testing import NodeProcess


@pytest.fixture(scope="session")
def accord_broker(kafka: LocalBroker) -> LocalBroker:
    return kafka


@pytest.fixture(scope="session")
def dfat(accord_node: Callable[..., NodeProcess]) -> NodeProcess:
    return accord_node("AUS.DFAT")


@pytest.fixture(scope="session")
def mofa(accord_node: Callable[..., NodeProcess]) -> NodeProcess:
    return accord_node("JPN.MOFA")


def report(
    title: str = "Port call by a vessel of interest",
    *,
    scope: str = "bilateral",
    area: str = "counter-proliferation",
) -> dict[str, Any]:
    """A publish request as an agency system would write it: plain JSON."""
    return {
        "type": "accord.information-report.v1",
        "scope": scope,
        "area": area,
        "body": {
            "title": title,
            "priority": "routine",
            "details": "Observed at the port; cargo manifest attached to the case file.",
            "region": "South-East Asia",
        },
    }
