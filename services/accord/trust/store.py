"""The local trust store: the only place a ``kid`` is ever resolved.

Country roots, agency signing certificates and CRLs. Nothing is fetched from the
network: a verifier knows exactly the keys its operator gave it (a bundle file, the
trust topic). The structural result of validating a certificate (chain, key usage,
revocation) is cached per kid, because verification throughput should stay close to
a bare Ed25519 verify; the cache is dropped whenever a root or a CRL is added. The
validity window is checked on every call, against the time asked for.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding

from accord.conformance import rules
from accord.errors import PkiError, ReasonCode, Refused, Rejected
from accord.observability.logs import get_logger
from accord.parties import Country, country_of
from accord.trust.certs import agency_of, country_of_name, is_ca, kid_of

_log = get_logger(__name__)


ROOTS_FILE = "roots.sha256"
"""The roots file beside a bundle: the pinned roots' fingerprints, ``sha256sum`` style."""

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def pinned_fingerprints(values: Iterable[str]) -> frozenset[str]:
    """Normalise fingerprints (SHA-256 of the DER, hex; case and colons ignored)."""
    pins: set[str] = set()
    for value in values:
        pin = value.strip().lower().replace(":", "")
        if not _FINGERPRINT.fullmatch(pin):
            raise PkiError(
                f"pinned root {value[:80]!r} is not a SHA-256 fingerprint",
                hint="64 hex digits: the SHA-256 of the root certificate's DER "
                "(`accord pki bundle` writes them to roots.sha256)",
            )
        pins.add(pin)
    return frozenset(pins)


def read_roots_file(path: Path) -> frozenset[str]:
    """The fingerprints in a roots file: the first word of each line; # comments."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise PkiError(
            f"cannot read the pinned roots {path}",
            hint="export the bundle with `accord pki bundle` (it writes the roots "
            "file beside it) or set ACCORD_TRUSTED_ROOTS",
        ) from None
    words = [
        line.split()[0]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return pinned_fingerprints(words)


@dataclass(frozen=True)
class TrustedKey:
    """A signing key that chains to a trusted root and is not revoked.

    ``not_before``/``not_after`` are the intersection of the certificate's and the
    root's validity windows.
    """

    kid: str
    agency: str
    country: Country
    certificate: x509.Certificate
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class _Root:
    kid: str
    country: Country
    certificate: x509.Certificate
    public_key: Ed25519PublicKey


_PEM_BLOCK = re.compile(
    rb"-----BEGIN (CERTIFICATE|X509 CRL)-----\r?\n.+?-----END \1-----", re.DOTALL
)


class TrustStore:
    """Roots per country, agency certificates by kid, revoked serials per root."""

    def __init__(self) -> None:
        self._roots: dict[str, _Root] = {}
        self._certs: dict[str, x509.Certificate] = {}
        self._crls: dict[bytes, x509.CertificateRevocationList] = {}
        self._revoked: set[tuple[str, int]] = set()  # (root kid, serial)
        self._checked: dict[str, TrustedKey | Rejected] = {}

    # -- loading --------------------------------------------------------------

    def add_root(self, cert: x509.Certificate) -> str:
        """Trust a country root CA (self-signed, CA, Ed25519, subject C = its country)."""
        key = cert.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise PkiError("root certificate key is not Ed25519")
        if not is_ca(cert) or cert.issuer.public_bytes() != cert.subject.public_bytes():
            raise PkiError(
                "not a self-signed CA certificate",
                hint="add agency certificates with add_certificate",
            )
        try:
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        except InvalidSignature:
            raise PkiError("root certificate's self-signature does not verify") from None
        country = country_of_name(cert.subject)
        if country is None:
            raise PkiError("root certificate subject has no known country (C=JP, AU or US)")
        kid = kid_of(cert)
        self._roots[kid] = _Root(kid, country, cert, key)
        self._checked.clear()
        return kid

    def add_certificate(self, cert: x509.Certificate) -> str:
        """Know an agency signing certificate. Whether it is trusted is decided on use."""
        if is_ca(cert):
            raise PkiError(
                "CA certificates are roots", hint="use add_root; accord has no intermediate CAs"
            )
        if not isinstance(cert.public_key(), Ed25519PublicKey):
            raise PkiError("agency certificate key is not Ed25519")
        agency_of(cert)  # refuses certificates that name no agency
        kid = kid_of(cert)
        self._certs[kid] = cert
        self._checked.pop(kid, None)
        return kid

    def add_crl(self, crl: x509.CertificateRevocationList) -> None:
        """Apply a CRL after checking it is signed by a trusted root.

        Revocations accumulate: a CRL never un-revokes, so replaying an older CRL
        (for example from the trust topic) cannot bring a revoked key back.
        """
        for root in self._roots.values():
            if root.certificate.subject.public_bytes() == crl.issuer.public_bytes() and (
                crl.is_signature_valid(root.public_key)
            ):
                break
        else:
            raise PkiError(
                "CRL is not signed by a trusted root",
                hint="add the issuing country's root first",
            )
        self._crls[crl.public_bytes(Encoding.DER)] = crl
        for entry in crl:
            self._revoked.add((root.kid, entry.serial_number))
        self._checked.clear()

    @classmethod
    def from_pem(cls, data: bytes, *, roots: Collection[str] = ()) -> TrustStore:
        """A store from concatenated PEM certificates and CRLs (see :meth:`to_bundle`).

        ``roots`` pins the country roots by SHA-256 fingerprint (hex, any case,
        colons allowed): a CA certificate in ``data`` becomes a root only if it is
        pinned, because anyone who can edit or extend a bundle could otherwise add a
        root for any country its subject claims. Every pin must be in ``data``.
        """
        store = cls()
        certs: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        try:
            for match in _PEM_BLOCK.finditer(data):
                if match.group(1) == b"CERTIFICATE":
                    certs.append(x509.load_pem_x509_certificate(match.group(0)))
                else:
                    crls.append(x509.load_pem_x509_crl(match.group(0)))
        except ValueError as exc:
            raise PkiError(f"bundle has an unreadable PEM block: {exc}") from None
        if not certs:
            raise PkiError("bundle holds no certificates")
        pins = pinned_fingerprints(roots)
        if not pins:
            raise PkiError(
                "no pinned roots: a node trusts only roots it was configured with",
                hint=f"list the roots' SHA-256 fingerprints in {ROOTS_FILE} beside "
                "the bundle (`accord pki bundle` writes it) or in ACCORD_TRUSTED_ROOTS",
            )
        for cert in certs:
            if is_ca(cert):
                if kid_of(cert) in pins:
                    store.add_root(cert)
                else:
                    # Not a root, whatever its subject says; nothing chains to it.
                    _log.warning(
                        "trust.unpinned_ca_ignored",
                        kid=kid_of(cert),
                        subject=cert.subject.rfc4514_string()[:200],
                    )
        missing = pins - set(store._roots)
        if missing:
            raise PkiError(
                f"pinned root {sorted(missing)[0]} is not in the bundle",
                hint="export the bundle again with `accord pki bundle`, or fix "
                "the pinned fingerprints",
            )
        for crl in crls:
            try:
                store.add_crl(crl)
            except PkiError:
                continue  # not signed by a pinned root: ignored (SPEC.md section 4.1)
        for cert in certs:
            if not is_ca(cert):
                store.add_certificate(cert)
        return store

    @classmethod
    def from_bundle(cls, path: Path, *, roots: Collection[str] | None = None) -> TrustStore:
        """A store from a bundle file, its roots pinned by ``roots`` (fingerprints) or,
        when ``roots`` is None, by the roots file beside it (``roots.sha256``)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PkiError(f"cannot read trust bundle {path}: {exc.strerror}") from None
        if roots is None:
            roots = read_roots_file(path.parent / ROOTS_FILE)
        return cls.from_pem(data, roots=roots)

    def root_fingerprints(self) -> list[str]:
        """The SHA-256 fingerprints of the trusted roots, sorted: what a node pins."""
        return sorted(self._roots)

    def roots_file(self) -> bytes:
        """The pins in ``sha256sum`` format, one root a line: the roots file's content."""
        return b"".join(
            f"{kid}  {r.certificate.subject.rfc4514_string()}\n".encode()
            for kid, r in sorted(self._roots.items())
        )

    def to_bundle(self) -> bytes:
        """One PEM file: roots, then agency certificates, then CRLs, each sorted by DER."""
        blocks: list[bytes] = []
        blocks += sorted(r.certificate.public_bytes(Encoding.PEM) for r in self._roots.values())
        blocks += sorted(c.public_bytes(Encoding.PEM) for c in self._certs.values())
        blocks += sorted(c.public_bytes(Encoding.PEM) for c in self._crls.values())
        return b"".join(blocks)

    # -- lookups --------------------------------------------------------------

    def resolve(self, kid: str) -> x509.Certificate | None:
        """The agency certificate with this kid, or None. Never fetches anything."""
        return self._certs.get(kid)

    def roots(self) -> Iterator[tuple[Country, x509.Certificate]]:
        for root in self._roots.values():
            yield root.country, root.certificate

    def certificates(self) -> Iterator[x509.Certificate]:
        yield from self._certs.values()

    def crls(self) -> Iterator[x509.CertificateRevocationList]:
        """The CRLs applied so far (for operators: their next-update dates)."""
        return iter(list(self._crls.values()))

    def is_revoked(self, kid: str) -> bool:
        checked = self._check(kid)
        return isinstance(checked, Rejected) and checked.reason is ReasonCode.REVOKED

    def validate(self, kid: str, at: datetime) -> TrustedKey:
        """The trusted key for ``kid`` at time ``at`` (aware), or raise Refused.

        Reasons: unknown-key, untrusted-issuer, revoked, expired-cert. Revocation
        applies whatever the time asked for: a revoked key's past signatures are
        no longer trusted either.
        """
        checked = self._checked.get(kid)
        if checked is None:
            checked = self._check(kid)
        if isinstance(checked, Rejected):
            raise checked.refused()  # cached as data; a fresh exception each time
        if rules.enabled("ENV-21") and not checked.not_before <= at <= checked.not_after:
            raise Refused(
                ReasonCode.EXPIRED_CERT,
                f"certificate {kid[:16]}… of {checked.agency} is not valid at {at.isoformat()} "
                f"(valid {checked.not_before.isoformat()} to {checked.not_after.isoformat()})",
                hint="the sender should rotate its certificate",
                rule="ENV-21",
            )
        return checked

    def _check(self, kid: str) -> TrustedKey | Rejected:
        cert = self._certs.get(kid)
        if cert is None:
            # Unknown kids are not cached: that would let a flood of random kids grow
            # the cache without bound.
            return Rejected(
                ReasonCode.UNKNOWN_KEY,
                f"no certificate with kid {kid[:64]!r}",
                hint="the sender's certificate must be in the local trust store",
                rule="ENV-17",
            )
        result = self._structural(kid, cert)
        self._checked[kid] = result
        return result

    def _structural(self, kid: str, cert: x509.Certificate) -> TrustedKey | Rejected:
        agency = agency_of(cert)
        country = country_of(agency)
        key = cert.public_key()
        assert isinstance(key, Ed25519PublicKey)  # add_certificate admits nothing else
        issuer: _Root | None = None
        check_issuer = rules.enabled("ENV-18")
        # SPEC 4.1: the issuer Name's DER is byte-identical to the root's subject DER
        # (no RFC 5280 7.1 matching: Name equality here would ignore string types).
        issuer_der = cert.issuer.public_bytes()
        for root in self._roots.values():
            if root.certificate.subject.public_bytes() != issuer_der:
                continue
            if check_issuer:
                if root.country is not country:
                    continue
                try:
                    root.public_key.verify(cert.signature, cert.tbs_certificate_bytes)
                except InvalidSignature:
                    continue
            issuer = root
            break
        if issuer is None and check_issuer:
            return Rejected(
                ReasonCode.UNTRUSTED_ISSUER,
                f"certificate of {agency} is not issued by a trusted {country} root",
                rule="ENV-18",
            )
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            signs = usage.digital_signature
        except x509.ExtensionNotFound:
            signs = False
        if not signs and rules.enabled("ENV-19"):
            return Rejected(
                ReasonCode.UNTRUSTED_ISSUER,
                f"certificate of {agency} is not certified for digital signatures",
                rule="ENV-19",
            )
        if (
            issuer is not None
            and (issuer.kid, cert.serial_number) in self._revoked
            and rules.enabled("ENV-20")
        ):
            return Rejected(
                ReasonCode.REVOKED,
                f"certificate {kid[:16]}… of {agency} is revoked",
                hint="the sender should sign with its current certificate",
                rule="ENV-20",
            )
        if issuer is None:  # only with ENV-18 switched off (mutation test)
            return TrustedKey(
                kid, agency, country, cert, key, cert.not_valid_before_utc, cert.not_valid_after_utc
            )
        root_cert = issuer.certificate
        return TrustedKey(
            kid=kid,
            agency=agency,
            country=country,
            certificate=cert,
            public_key=key,
            not_before=max(cert.not_valid_before_utc, root_cert.not_valid_before_utc),
            not_after=min(cert.not_valid_after_utc, root_cert.not_valid_after_utc),
        )
