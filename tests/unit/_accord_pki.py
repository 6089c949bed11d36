"""Shared test material for the envelope tests: one provisioned PKI per process."""

from __future__ import annotations

import functools
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from accord.envelope import Header, seal
from accord.envelope.samples import SAMPLES, Sample, sample_header, sample_label
from accord.trust.pki import Pki, provision

AGENCIES = ("JPN.MOFA", "JPN.MOD", "AUS.DFAT", "AUS.DEFENCE", "USA.STATE")


@functools.cache
def pki() -> Pki:
    # Provisioning takes ~10 ms per certificate; share one PKI across the run.
    return provision(Path(tempfile.mkdtemp(prefix="accord-test-pki-")), AGENCIES)


def now() -> datetime:
    return datetime.now(UTC)


def header_for(sample: Sample, **kw: object) -> Header:
    return sample_header(sample, issued_at=now(), **kw)  # type: ignore[arg-type]


def sealed(type_name: str = "accord.strategic-assessment.v1") -> tuple[bytes, Header]:
    sample = SAMPLES[type_name]
    header = header_for(sample)
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    return seal(header, label, sample.body, pki().signer(sample.sender)), header
