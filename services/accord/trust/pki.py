"""PKI operations: country roots, agency signing certificates, rotation, revocation.

One import for the three modules that do the work: :mod:`accord.trust.builders`
(X.509 builders), :mod:`accord.trust.directory` (the on-disk directory, whose
docstring shows its layout) and :mod:`accord.trust.testing` (a provisioned PKI
for tests and demos).
"""

from __future__ import annotations

from accord.trust.builders import CLOCK_SKEW, build_crl, create_root, issue_certificate
from accord.trust.directory import CertInfo, PkiDirectory, write_private_key
from accord.trust.testing import Pki, provision

__all__ = [
    "CLOCK_SKEW",
    "CertInfo",
    "Pki",
    "PkiDirectory",
    "build_crl",
    "create_root",
    "issue_certificate",
    "provision",
    "write_private_key",
]
