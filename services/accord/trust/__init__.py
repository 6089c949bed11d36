"""Trust: X.509 roots per country, agency signing certificates, CRLs, signers.

A kid is the SHA-256 thumbprint of the DER certificate, 64 lowercase hex digits;
a root is pinned by the same digest (its fingerprint).
"""

from accord.trust.builders import build_crl, create_root, issue_certificate
from accord.trust.certs import agency_of, kid_of, x5t_s256
from accord.trust.directory import PkiDirectory
from accord.trust.signer import Signer
from accord.trust.store import ROOTS_FILE, TrustedKey, TrustStore, pinned_fingerprints
from accord.trust.testing import Pki, provision

__all__ = [
    "ROOTS_FILE",
    "Pki",
    "PkiDirectory",
    "Signer",
    "TrustStore",
    "TrustedKey",
    "agency_of",
    "build_crl",
    "create_root",
    "issue_certificate",
    "kid_of",
    "pinned_fingerprints",
    "provision",
    "x5t_s256",
]
