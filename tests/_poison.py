"""Trust-topic records no node can apply, built from real certificates."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

_ED25519_OID = bytes.fromhex("06032b6570")  # 1.3.101.112
_UNKNOWN_OID = bytes.fromhex("06032b657f")  # 1.3.101.127: no key type anyone knows


def unknown_key_certificate(cert: x509.Certificate) -> bytes:
    """``cert`` with its public key's algorithm OID changed to an unknown one (PEM).

    It parses; reading its key raises cryptography's ``UnsupportedAlgorithm``, which
    is not a ``ValueError`` (the error that once stopped the trust feed for good).
    """
    der = cert.public_bytes(Encoding.DER)
    first = der.index(_ED25519_OID)  # the TBS signature algorithm
    spki = der.index(_ED25519_OID, first + 1)  # the subject public key's algorithm
    bad = der[:spki] + _UNKNOWN_OID + der[spki + len(_UNKNOWN_OID):]
    return x509.load_der_x509_certificate(bad).public_bytes(Encoding.PEM)
