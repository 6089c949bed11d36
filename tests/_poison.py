"""Trust-topic records no node can apply, built from real certificates."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, ObjectIdentifier

from accord.parties import Country
from accord.trust.builders import create_root, issue_certificate

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
    bad = der[:spki] + _UNKNOWN_OID + der[spki + len(_UNKNOWN_OID) :]
    return x509.load_der_x509_certificate(bad).public_bytes(Encoding.PEM)


def duplicate_extension_certificate() -> bytes:
    """A certificate carrying one extension twice (PEM): reading its extensions raises
    cryptography's ``DuplicateExtension``, which is not a ``ValueError`` either."""
    root_key, root = create_root(Country.JPN)
    _, cert = issue_certificate("JPN.MOFA", root_key=root_key, root_cert=root)
    key = Ed25519PrivateKey.generate()
    first = ObjectIdentifier("1.3.6.1.4.1.55555.1")
    second = ObjectIdentifier("1.3.6.1.4.1.55555.2")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPN.MOFA")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .add_extension(x509.UnrecognizedExtension(first, b"\x05\x00"), critical=False)
        .add_extension(x509.UnrecognizedExtension(second, b"\x05\x00"), critical=False)
    )
    der = builder.sign(root_key, algorithm=None).public_bytes(Encoding.DER)
    # Same length, so no DER length changes: the second extension now repeats the first.
    der = der.replace(_oid_der(second), _oid_der(first))
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def _oid_der(oid: ObjectIdentifier) -> bytes:
    """The DER encoding of an OID (tag, length, base-128 arcs)."""
    parts = [int(p) for p in oid.dotted_string.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)
