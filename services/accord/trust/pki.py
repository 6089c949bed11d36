"""PKI operations: country roots, agency signing certificates, rotation, revocation.

One import for the three modules that do the work: :mod:`accord.trust.builders`
(X.509 builders), :mod:`accord.trust.directory` (the on-disk directory) and
:mod:`accord.trust.testing` (a provisioned PKI for tests and demos).

Directory layout (``accord pki --dir DIR``)::

    DIR/roots/<COUNTRY>/ca.key.pem        root private key, mode 0600
    DIR/roots/<COUNTRY>/ca.cert.pem       root certificate (self-signed, CA)
    DIR/roots/<COUNTRY>/crl.pem           the root's current CRL (cumulative)
    DIR/agencies/<AGENCY>/<kid>.key.pem   agency signing key, mode 0600
    DIR/agencies/<AGENCY>/<kid>.cert.pem  agency signing certificate
    DIR/agencies/<AGENCY>/CURRENT         the kid the agency signs with now
    DIR/bundle.pem                        trust bundle: roots + certificates + CRLs
    DIR/roots.sha256                      the bundle's pinned roots (SHA-256 fingerprints)

A kid is the SHA-256 of the certificate's DER, lowercase hex (see accord.trust.certs).
Private keys are created with ``os.open(..., 0o600)`` and ``O_EXCL``, so they are
never readable by others, not even for an instant, and never overwritten.
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
