"""Fixtures for exchange tests: one PKI for the session, a fresh namespace per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _exchange import drop_namespace, fresh_plan

from accord.broker import LocalBroker
from accord.exchange import LocalExchange
from accord.plan import load_plan
from accord.trust.pki import Pki, provision


@pytest.fixture(scope="session")
def session_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return provision(tmp_path_factory.mktemp("pki"), load_plan(None).agencies)


@pytest.fixture
async def exchange(
    kafka: LocalBroker, session_pki: Pki, tmp_path: Path
) -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(
        plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path, pki=session_pki
    )
    ex.apply()
    try:
        yield ex
    finally:
        await ex.stop()
        drop_namespace(kafka.connection(), ex.plan.namespace)
