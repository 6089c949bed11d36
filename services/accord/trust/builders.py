"""X.509 builders: country roots, agency signing certificates, CRLs. Pure: no files.

Every accord certificate and CRL is Ed25519-signed; roots are CA:true with no
intermediates; agency certificates carry their agency in the subject CN and a SAN
URI (see :mod:`accord.trust.certs` for how they are read back).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from accord.errors import PkiError
from accord.parties import Country, country_of, is_agency_id
from accord.trust.certs import AGENCY_URI_PREFIX, ALPHA2

__all__ = ["CLOCK_SKEW", "build_crl", "create_root", "issue_certificate"]

CLOCK_SKEW = timedelta(minutes=5)
"""Certificates start this long before their issue time, so a peer's slightly slow
clock does not see a fresh certificate as not yet valid."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_root(
    country: Country,
    *,
    key: Ed25519PrivateKey | None = None,
    not_before: datetime | None = None,
    valid_days: int = 3650,
    serial: int | None = None,
) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """A country root CA: Ed25519, CA:true (no intermediates), keyCertSign + cRLSign."""
    key = key or Ed25519PrivateKey.generate()
    start = not_before or utc_now() - CLOCK_SKEW
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, ALPHA2[country]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "accord"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, country.value),
            x509.NameAttribute(NameOID.COMMON_NAME, f"accord {country.value} root CA"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, algorithm=None)
    )
    return key, cert


def issue_certificate(
    agency: str,
    *,
    root_key: Ed25519PrivateKey,
    root_cert: x509.Certificate,
    key: Ed25519PrivateKey | None = None,
    not_before: datetime | None = None,
    valid_days: int = 365,
    serial: int | None = None,
) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """An agency signing certificate: digitalSignature only (critical), agency in CN and SAN."""
    if not is_agency_id(agency):
        raise PkiError(f"malformed agency id {agency!r}", hint="use COUNTRY.AGENCY, e.g. JPN.MOFA")
    country = country_of(agency)
    key = key or Ed25519PrivateKey.generate()
    start = not_before or utc_now() - CLOCK_SKEW
    public = key.public_key()
    root_public = root_key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, ALPHA2[country]),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "accord"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, country.value),
                    x509.NameAttribute(NameOID.COMMON_NAME, agency),
                ]
            )
        )
        .issuer_name(root_cert.subject)
        .public_key(public)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(AGENCY_URI_PREFIX + agency)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_public), critical=False
        )
        .sign(root_key, algorithm=None)
    )
    return key, cert


def build_crl(
    root_key: Ed25519PrivateKey,
    root_cert: x509.Certificate,
    revoked: Iterable[tuple[int, datetime]],
    *,
    number: int,
    this_update: datetime | None = None,
    valid_days: int = 30,
) -> x509.CertificateRevocationList:
    """A CRL signed by the root, listing ``(serial, revoked_at)`` pairs, with next_update."""
    start = this_update or utc_now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(start)
        .next_update(start + timedelta(days=valid_days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    for serial, when in sorted(revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(root_key, algorithm=None)
