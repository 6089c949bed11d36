"""How accord reads identity out of X.509: kid, agency, country.

- kid: the SHA-256 thumbprint of the certificate's DER encoding, 64 lowercase hex
  digits (the same digest as the JWS ``x5t#S256`` header, which is its base64url).
- agency: the SAN URI ``urn:accord:agency:<AGENCY>``; the subject CN must agree.
- country of a root: the subject ``C`` (ISO 3166 alpha-2, as X.509 requires),
  mapped to the alpha-3 code accord uses everywhere.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from accord.errors import PkiError
from accord.parties import Country, is_agency_id

AGENCY_URI_PREFIX = "urn:accord:agency:"

ALPHA2: dict[Country, str] = {Country.JPN: "JP", Country.AUS: "AU", Country.USA: "US"}
_ALPHA3 = {v: k for k, v in ALPHA2.items()}


def kid_of(cert: x509.Certificate) -> str:
    """The key id of a certificate: SHA-256 of its DER encoding, lowercase hex."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def x5t_s256(kid: str) -> str:
    """The JWS ``x5t#S256`` value for a kid: the same digest, base64url without padding."""
    return base64.urlsafe_b64encode(bytes.fromhex(kid)).rstrip(b"=").decode("ascii")


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:
        return None
    value = values[0].value
    return value if isinstance(value, str) else None


def country_of_name(name: x509.Name) -> Country | None:
    code = _attr(name, NameOID.COUNTRY_NAME)
    return _ALPHA3.get(code) if code is not None else None


def agency_of(cert: x509.Certificate) -> str:
    """The agency id a signing certificate names; PkiError when it names none clearly."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise PkiError(
            "certificate has no subjectAltName", hint="accord certificates carry an agency URI"
        ) from None
    uris = [
        u
        for u in san.get_values_for_type(x509.UniformResourceIdentifier)
        if u.startswith(AGENCY_URI_PREFIX)
    ]
    if len(uris) != 1:
        raise PkiError(f"certificate must name exactly one {AGENCY_URI_PREFIX}<AGENCY> URI")
    agency = uris[0][len(AGENCY_URI_PREFIX) :]
    if not is_agency_id(agency):
        raise PkiError(f"certificate names a malformed agency id {agency!r}")
    if _attr(cert.subject, NameOID.COMMON_NAME) != agency:
        raise PkiError(f"certificate subject CN does not match its agency URI {agency}")
    return agency


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
