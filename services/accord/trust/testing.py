"""A provisioned PKI in one call, for tests, demos, benchmarks and soaks.

Unencrypted keys, one root per country, one certificate per agency: never for a
real deployment (use ``accord pki`` there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from accord.parties import country_of
from accord.trust.directory import PkiDirectory
from accord.trust.signer import Signer
from accord.trust.store import TrustStore

__all__ = ["Pki", "provision"]


@dataclass(frozen=True)
class Pki:
    """A provisioned PKI for tests and demos: one root per country, one cert per agency."""

    directory: PkiDirectory

    @property
    def bundle_path(self) -> Path:
        return self.directory.bundle_path

    def signer(self, agency: str) -> Signer:
        return self.directory.signer(agency)

    def trust_store(self) -> TrustStore:
        return self.directory.trust_store()


def provision(directory: Path, agencies: Iterable[str], *, valid_days: int = 365) -> Pki:
    """Create roots for every country needed and one unencrypted key+cert per agency."""
    pki = PkiDirectory(directory)
    wanted = sorted(set(agencies))
    for country in sorted({country_of(a) for a in wanted}):
        if not (pki.root_dir(country) / "ca.cert.pem").exists():
            pki.init_root(country, valid_days=max(valid_days, 3650))
    for agency in wanted:
        if not (pki.agency_dir(agency) / "CURRENT").exists():
            pki.issue(agency, valid_days=valid_days)
    pki.write_bundle()
    return Pki(pki)
