"""The PKI directory: roots, agency keys and certificates, CRLs and bundles on disk.

Directory layout (``accord pki --dir DIR``)::

    DIR/roots/<COUNTRY>/ca.key.pem        root private key, mode 0600
    DIR/roots/<COUNTRY>/ca.cert.pem       root certificate (self-signed, CA)
    DIR/roots/<COUNTRY>/crl.pem           the root's current CRL (cumulative)
    DIR/agencies/<AGENCY>/<kid>.key.pem   agency signing key, mode 0600
    DIR/agencies/<AGENCY>/<kid>.cert.pem  agency signing certificate
    DIR/agencies/<AGENCY>/CURRENT         the kid the agency signs with now
    DIR/agencies/<AGENCY>/PENDING         a rotated kid not in use yet: it becomes CURRENT
                                          once its certificate is on the trust topic
    DIR/bundle.pem                        trust bundle: roots + certificates + CRLs
    DIR/roots.sha256                      the bundle's pinned roots (SHA-256 fingerprints)

A kid is the SHA-256 of the certificate's DER, lowercase hex (see accord.trust.certs).
Private keys are created with ``os.open(..., 0o600)`` and ``O_EXCL``, so they are
never readable by others, not even for an instant, and never overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from accord.config import BUNDLE_FILE
from accord.errors import PkiError
from accord.observability.logs import get_logger
from accord.parties import Country, country_of, is_agency_id
from accord.trust.builders import build_crl, create_root, issue_certificate, utc_now
from accord.trust.certs import agency_of, kid_of
from accord.trust.signer import Signer
from accord.trust.store import ROOTS_FILE, TrustStore

__all__ = ["CertInfo", "PkiDirectory", "write_private_key"]

log = get_logger(__name__)


def write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None = None) -> None:
    """Write a PEM PKCS#8 key, created 0600 and exclusive (never chmod-ed after the fact)."""
    encryption = BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
    data = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PkiError(f"{path} already exists", hint="keys are never overwritten") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _load_key(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=passphrase)
    except FileNotFoundError:
        raise PkiError(f"{path} does not exist") from None
    except (ValueError, TypeError):
        raise PkiError(
            f"cannot load private key {path}", hint="check the passphrase for this key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PkiError(f"{path} is not an Ed25519 key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise PkiError(f"{path} does not exist") from None
    except ValueError:
        raise PkiError(f"{path} is not a PEM certificate") from None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # a signer never reads half a kid


@dataclass(frozen=True)
class CertInfo:
    """One certificate as ``accord pki show`` lists it."""

    agency: str
    kid: str
    serial: int
    not_before: datetime
    not_after: datetime
    current: bool
    revoked: bool
    pending: bool = False


class PkiDirectory:
    """A PKI directory in the layout above. One instance per ``--dir``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # paths
    def root_dir(self, country: Country) -> Path:
        return self.path / "roots" / country.value

    def agency_dir(self, agency: str) -> Path:
        if not is_agency_id(agency):
            raise PkiError(
                f"malformed agency id {agency!r}", hint="use COUNTRY.AGENCY, e.g. JPN.MOFA"
            )
        return self.path / "agencies" / agency

    @property
    def bundle_path(self) -> Path:
        return self.path / BUNDLE_FILE

    # operations
    def init_root(
        self,
        country: Country,
        *,
        valid_days: int = 3650,
        passphrase: bytes | None = None,
        not_before: datetime | None = None,
    ) -> x509.Certificate:
        where = self.root_dir(country)
        if (where / "ca.cert.pem").exists():
            raise PkiError(
                f"{country} already has a root in {where}",
                hint="a root is created once; issue agency certificates from it",
            )
        where.mkdir(parents=True, exist_ok=True)
        key, cert = create_root(country, valid_days=valid_days, not_before=not_before)
        write_private_key(where / "ca.key.pem", key, passphrase)
        (where / "ca.cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        self._write_crl(country, key, cert, [], number=1)
        log.info("pki.root_created", country=country.value, kid=kid_of(cert))
        return cert

    def issue(
        self,
        agency: str,
        *,
        valid_days: int = 365,
        passphrase: bytes | None = None,
        ca_passphrase: bytes | None = None,
        rotate: bool = False,
        activate: bool = True,
    ) -> x509.Certificate:
        """A new key and certificate for ``agency``; it becomes CURRENT.

        Without ``rotate`` the agency must have no certificate yet; with it, it must
        have one, which stays valid (overlap) until it expires or is revoked. With
        ``activate=False`` a rotated key is only staged (PENDING): receivers would
        quarantine what it signs as ``unknown-key`` until its certificate reaches
        them, so it is put in use by :meth:`activate` once it is on the trust topic.
        """
        where = self.agency_dir(agency)
        has_current = (where / "CURRENT").exists()
        if has_current and not rotate:
            raise PkiError(f"{agency} already has a certificate", hint="use `accord pki rotate`")
        if rotate and not has_current:
            raise PkiError(f"{agency} has no certificate to rotate", hint="use `accord pki issue`")
        country = country_of(agency)
        root_key, root_cert = self._root(country, ca_passphrase)
        key, cert = issue_certificate(
            agency, root_key=root_key, root_cert=root_cert, valid_days=valid_days
        )
        kid = kid_of(cert)
        where.mkdir(parents=True, exist_ok=True)
        write_private_key(where / f"{kid}.key.pem", key, passphrase)
        (where / f"{kid}.cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        if activate or not rotate:
            _write_atomic(where / "CURRENT", kid + "\n")
            (where / "PENDING").unlink(missing_ok=True)
        else:
            _write_atomic(where / "PENDING", kid + "\n")
        log.info(
            "pki.certificate_issued",
            agency=agency,
            kid=kid,
            rotated=rotate,
            active=activate or not rotate,
            not_after=cert.not_valid_after_utc.isoformat(),
        )
        return cert

    def revoke(
        self,
        agency: str,
        *,
        kid: str | None = None,
        everything: bool = False,
        ca_passphrase: bytes | None = None,
        crl_days: int = 30,
    ) -> list[str]:
        """Revoke one certificate of ``agency`` (or all with ``everything``); reissue the CRL."""
        certs = self._agency_certs(agency)
        if not certs:
            raise PkiError(f"{agency} has no certificates in {self.path}")
        if kid is not None:
            chosen = [c for c in certs if kid_of(c) == kid]
            if not chosen:
                raise PkiError(
                    f"{agency} has no certificate with kid {kid}", hint="see `accord pki show`"
                )
        elif everything or len(certs) == 1:
            chosen = certs
        else:
            raise PkiError(
                f"{agency} has {len(certs)} certificates; say which to revoke",
                hint="pass --kid KID (see `accord pki show`) or --all",
            )
        country = country_of(agency)
        root_key, root_cert = self._root(country, ca_passphrase)
        old = self._crl(country)
        entries = (
            {(e.serial_number, e.revocation_date_utc) for e in old} if old is not None else set()
        )
        known = {serial for serial, _ in entries}
        when = utc_now()
        entries |= {(c.serial_number, when) for c in chosen if c.serial_number not in known}
        number = self._crl_number(old) + 1 if old is not None else 1
        self._write_crl(country, root_key, root_cert, entries, number=number, valid_days=crl_days)
        kids = [kid_of(c) for c in chosen]
        log.info("pki.revoked", agency=agency, kids=kids, crl_number=number)
        return kids

    def pending(self, agency: str) -> str | None:
        """The kid of ``agency``'s staged rotation, or None."""
        path = self.agency_dir(agency) / "PENDING"
        return path.read_text().strip() if path.exists() else None

    def activate(self, agency: str) -> str | None:
        """Put ``agency``'s staged key in use (PENDING becomes CURRENT); return its kid.

        Call only once its certificate is on the trust topic (``accord pki publish``
        and ``accord pki rotate`` do).
        """
        kid = self.pending(agency)
        if kid is None:
            return None
        where = self.agency_dir(agency)
        if not (where / f"{kid}.cert.pem").exists():
            raise PkiError(f"{agency}'s PENDING names {kid}, which has no certificate here")
        _write_atomic(where / "CURRENT", kid + "\n")
        (where / "PENDING").unlink()
        log.info("pki.certificate_activated", agency=agency, kid=kid)
        return kid

    def trust_store(self) -> TrustStore:
        store = TrustStore()
        for country in Country:
            cert_path = self.root_dir(country) / "ca.cert.pem"
            if cert_path.exists():
                store.add_root(_load_cert(cert_path))
                crl = self._crl(country)
                if crl is not None:
                    store.add_crl(crl)
        for agency in self.agencies():
            for cert in self._agency_certs(agency):
                store.add_certificate(cert)
        return store

    @property
    def roots_path(self) -> Path:
        return self.path / ROOTS_FILE

    def write_bundle(self, out: Path | None = None) -> Path:
        """Write the bundle and, beside it, the roots file that pins its roots.

        The PKI directory knows its own roots, so a bundle it exports works out of the
        box; a node given only bundle.pem (and no pins) trusts nothing.
        """
        target = Path(out) if out is not None else self.bundle_path
        store = self.trust_store()
        target.write_bytes(store.to_bundle())
        (target.parent / ROOTS_FILE).write_bytes(store.roots_file())
        return target

    def signer(self, agency: str, *, passphrase: bytes | None = None) -> Signer:
        where = self.agency_dir(agency)
        try:
            kid = (where / "CURRENT").read_text().strip()
        except FileNotFoundError:
            raise PkiError(
                f"{agency} has no certificate in {self.path}", hint="run `accord pki issue`"
            ) from None
        return Signer.load(where / f"{kid}.key.pem", where / f"{kid}.cert.pem", passphrase)

    def agencies(self) -> list[str]:
        base = self.path / "agencies"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    def show(self) -> list[CertInfo]:
        store = self.trust_store()
        rows: list[CertInfo] = []
        for agency in self.agencies():
            current_path = self.agency_dir(agency) / "CURRENT"
            current = current_path.read_text().strip() if current_path.exists() else ""
            pending = self.pending(agency)
            for cert in self._agency_certs(agency):
                kid = kid_of(cert)
                rows.append(
                    CertInfo(
                        agency=agency,
                        kid=kid,
                        serial=cert.serial_number,
                        not_before=cert.not_valid_before_utc,
                        not_after=cert.not_valid_after_utc,
                        current=kid == current,
                        revoked=store.is_revoked(kid),
                        pending=kid == pending,
                    )
                )
        return rows

    # internals
    def _root(
        self, country: Country, passphrase: bytes | None
    ) -> tuple[Ed25519PrivateKey, x509.Certificate]:
        where = self.root_dir(country)
        if not (where / "ca.cert.pem").exists():
            raise PkiError(
                f"no {country} root in {self.path}",
                hint=f"run `accord pki init-root --country {country} --dir {self.path}`",
            )
        return _load_key(where / "ca.key.pem", passphrase), _load_cert(where / "ca.cert.pem")

    def _agency_certs(self, agency: str) -> list[x509.Certificate]:
        where = self.agency_dir(agency)
        if not where.exists():
            return []
        certs = [_load_cert(p) for p in sorted(where.glob("*.cert.pem"))]
        for cert in certs:
            if agency_of(cert) != agency:
                raise PkiError(f"{where} holds a certificate of {agency_of(cert)}")
        return sorted(certs, key=lambda c: c.not_valid_before_utc)

    def _crl(self, country: Country) -> x509.CertificateRevocationList | None:
        path = self.root_dir(country) / "crl.pem"
        if not path.exists():
            return None
        try:
            return x509.load_pem_x509_crl(path.read_bytes())
        except ValueError:
            raise PkiError(f"{path} is not a PEM CRL") from None

    @staticmethod
    def _crl_number(crl: x509.CertificateRevocationList) -> int:
        try:
            return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            return 0

    def _write_crl(
        self,
        country: Country,
        key: Ed25519PrivateKey,
        cert: x509.Certificate,
        entries: Iterable[tuple[int, datetime]],
        *,
        number: int,
        valid_days: int = 30,
    ) -> None:
        crl = build_crl(key, cert, entries, number=number, valid_days=valid_days)
        path = self.root_dir(country) / "crl.pem"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(crl.public_bytes(Encoding.PEM))
        tmp.replace(path)  # atomic: a reader never sees half a CRL
