"""Trust: X.509 roots per country, agency signing certificates, CRLs, signers.

A kid is the SHA-256 thumbprint of the DER certificate, 64 lowercase hex digits.
"""

from accord.trust.certs import agency_of, kid_of, x5t_s256
from accord.trust.signer import Signer
from accord.trust.store import TrustedKey, TrustStore

__all__ = ["Signer", "TrustStore", "TrustedKey", "agency_of", "kid_of", "x5t_s256"]
