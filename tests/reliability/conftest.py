"""Reliability scenarios (accord.soak) at CI size; ``accord soak`` runs them larger."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.plan import load_plan
from accord.trust.pki import Pki, provision


@pytest.fixture(scope="session")
def soak_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return provision(tmp_path_factory.mktemp("soak-pki"), load_plan(None).agencies)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
