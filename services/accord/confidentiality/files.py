"""Encryption keys on disk, next to the agency's signing keys in a PKI directory.

Layout (``accord keys --dir DIR``, the same DIR as ``accord pki``)::

    DIR/agencies/<AGENCY>/enc/<ekid>.enc-key.pem      private key, 0600, O_EXCL
    DIR/agencies/<AGENCY>/enc/<ekid>.statement.jws    key statement (public)
    DIR/agencies/<AGENCY>/enc/<ekid>.revocation.jws   revocation (public), if revoked
    DIR/agencies/<AGENCY>/enc/CURRENT                 the ekid senders should use now

Statements are signed with the agency's current signing key from the same
directory, so ``accord pki issue`` comes first. Rotation keeps the old private keys
(messages in flight still open); revocation writes a signed revocation and never
deletes a key file (deleting is the operator's decision, after the last message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from accord.confidentiality.directory import KeyDirectory
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.keys import EncryptionKeyPair
from accord.confidentiality.statement import (
    sign_key_revocation,
    sign_key_statement,
    verify_key_statement,
)
from accord.errors import PkiError
from accord.observability.logs import get_logger
from accord.trust import TrustStore
from accord.trust.pki import PkiDirectory

__all__ = ["KEYS_BUNDLE", "EncryptionKeyFiles", "KeyInfo"]

KEYS_BUNDLE = "keys.jwsl"
"""Every agency's statements, one per line, in the PKI directory (`accord keys bundle`)."""

log = get_logger(__name__)


@dataclass(frozen=True)
class KeyInfo:
    """One encryption key as ``accord keys show`` lists it."""

    agency: str
    ekid: str
    not_before: datetime | None
    not_after: datetime | None
    current: bool
    revoked: bool


class EncryptionKeyFiles:
    """The encryption keys of every agency in a PKI directory."""

    def __init__(self, path: Path) -> None:
        self.pki = PkiDirectory(path)

    def key_dir(self, agency: str) -> Path:
        return self.pki.agency_dir(agency) / "enc"

    def issue(
        self,
        agency: str,
        *,
        passphrase: bytes | None = None,
        signing_passphrase: bytes | None = None,
        valid_days: int = 90,
        rotate: bool = False,
        now: datetime | None = None,
    ) -> str:
        """A new encryption key for ``agency``, its signed statement; it becomes CURRENT.

        Without ``rotate`` the agency must have none yet; with it, it must have one.
        Returns the new ekid.
        """
        where = self.key_dir(agency)
        has_current = (where / "CURRENT").exists()
        if has_current and not rotate:
            raise PkiError(
                f"{agency} already has an encryption key", hint="use `accord keys rotate`"
            )
        if rotate and not has_current:
            raise PkiError(
                f"{agency} has no encryption key to rotate", hint="use `accord keys issue`"
            )
        signer = self.pki.signer(agency, passphrase=signing_passphrase)
        key = EncryptionKeyPair.generate()
        statement = sign_key_statement(
            signer, key.public, now=now, valid_for=timedelta(days=valid_days)
        )
        where.mkdir(parents=True, exist_ok=True)
        key.write(where / f"{key.ekid}.enc-key.pem", passphrase)
        (where / f"{key.ekid}.statement.jws").write_bytes(statement)
        (where / "CURRENT").write_text(key.ekid + "\n")
        log.info("keys.issued", agency=agency, ekid=key.ekid, rotated=rotate)
        return key.ekid

    def revoke(self, agency: str, ekid: str, *, signing_passphrase: bytes | None = None) -> None:
        """Sign and store a revocation of ``agency``'s key ``ekid``."""
        where = self.key_dir(agency)
        if not (where / f"{ekid}.statement.jws").exists():
            raise PkiError(f"{agency} has no encryption key {ekid}", hint="see `accord keys show`")
        signer = self.pki.signer(agency, passphrase=signing_passphrase)
        (where / f"{ekid}.revocation.jws").write_bytes(sign_key_revocation(signer, ekid))
        log.info("keys.revoked", agency=agency, ekid=ekid)

    def current_ekid(self, agency: str) -> str | None:
        path = self.key_dir(agency) / "CURRENT"
        return path.read_text().strip() if path.exists() else None

    def statements(self) -> list[bytes]:
        """Every statement and revocation in the directory (what bundles and the trust
        topic carry), statements first."""
        files = [p for a in self.pki.agencies() for p in sorted(self.key_dir(a).glob("*.jws"))]
        files.sort(key=lambda p: p.name.endswith(".revocation.jws"))
        return [p.read_bytes() for p in files]

    def agency_statements(self, agency: str) -> list[bytes]:
        """``agency``'s statements and revocations, statements first (its key topic)."""
        files = sorted(self.key_dir(agency).glob("*.jws"))
        files.sort(key=lambda p: p.name.endswith(".revocation.jws"))
        return [p.read_bytes() for p in files]

    def bundle(self) -> bytes:
        """Every statement and revocation, one compact JWS per line (KeyDirectory.add_bundle)."""
        return b"".join(raw + b"\n" for raw in self.statements())

    def directory(self, trust: TrustStore, *, now: datetime | None = None) -> KeyDirectory:
        """A KeyDirectory of every statement here; Refused if one does not verify."""
        at = now or datetime.now(UTC)
        directory = KeyDirectory(trust)
        for raw in self.statements():
            directory.add(raw, now=at)
        return directory

    def keyring(self, agency: str, *, passphrase: bytes | None = None) -> Keyring:
        """``agency``'s private keys, CURRENT first (the others only open old messages)."""
        where = self.key_dir(agency)
        current = self.current_ekid(agency)
        if current is None:
            raise PkiError(f"{agency} has no encryption key", hint="run `accord keys issue`")
        paths = sorted(
            where.glob("*.enc-key.pem"), key=lambda p: (p.name != f"{current}.enc-key.pem", p.name)
        )
        return Keyring(agency, [EncryptionKeyPair.load(p, passphrase) for p in paths])

    def show(self, trust: TrustStore, *, now: datetime | None = None) -> list[KeyInfo]:
        at = now or datetime.now(UTC)
        rows: list[KeyInfo] = []
        for agency in self.pki.agencies():
            where = self.key_dir(agency)
            current = self.current_ekid(agency)
            for path in sorted(where.glob("*.statement.jws")):
                statement = verify_key_statement(path.read_bytes(), trust, now=at)
                rows.append(
                    KeyInfo(
                        agency=agency,
                        ekid=statement.ekid,
                        not_before=statement.not_before,
                        not_after=statement.not_after,
                        current=statement.ekid == current,
                        revoked=(where / f"{statement.ekid}.revocation.jws").exists(),
                    )
                )
        return rows
