"""Agency encryption keys: HPKE KEM ML-KEM-768 + X25519 (X-Wing, KEM id 0x647A).

An agency's encryption key pair is separate from its Ed25519 signing key: a signing
key proves origin for decades of audit, an encryption key is rotated and destroyed
on its own schedule, and neither may be used for the other's job.

- Public key: the ML-KEM-768 encapsulation key (1184 bytes) followed by the X25519
  public key (32 bytes), 1216 bytes, as RFC 9180 ``SerializePublicKey`` gives it
  for this KEM (Go's ``crypto/hpke`` ``PublicKey.Bytes()``).
- ekid: SHA-256 of those 1216 bytes, 64 lowercase hex digits (like a signing kid,
  a thumbprint, so nobody can claim someone else's ekid for a different key).
- Private key file: two PEM PKCS#8 blocks in one file (ML-KEM-768 in its seed form,
  RFC 9935, then X25519, RFC 8410), created 0600 and ``O_EXCL`` like signing keys,
  optionally encrypted with the passphrase (PBES2, ``BestAvailableEncryption``).
  There is no PKCS#8 encoding of the hybrid key in ``cryptography`` (nor a
  registered OID); two standard containers beat one home-made one.
- ``from_seed``: the X-Wing 32-byte private seed, expanded with SHAKE256 to the
  ML-KEM seed (64 bytes) and the X25519 key (32 bytes). It is what Go's
  ``MLKEM768X25519().NewPrivateKey`` takes; used for test vectors and interop.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from accord.errors import PkiError

__all__ = [
    "KEM_ID",
    "PUBLIC_KEY_BYTES",
    "SUITE",
    "SUITE_NAME",
    "EncryptionKeyPair",
    "EncryptionPublicKey",
    "ekid_of",
]

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
"""The one HPKE suite accord uses (pinned: nothing in a message can choose another)."""
SUITE_NAME: Final = "HPKE-MLKEM768X25519-HKDFSHA256-AES256GCM"
KEM_ID = 0x647A
_MLKEM_PUBLIC = 1184
_X25519_PUBLIC = 32
PUBLIC_KEY_BYTES = _MLKEM_PUBLIC + _X25519_PUBLIC
_PEM_BLOCK = re.compile(
    rb"-----BEGIN (ENCRYPTED )?PRIVATE KEY-----\r?\n.+?-----END \1?PRIVATE KEY-----\r?\n?",
    re.DOTALL,
)
_MAX_KEY_FILE = 16_384


def ekid_of(public_bytes: bytes) -> str:
    """The encryption key id: SHA-256 of the 1216-byte public key, lowercase hex."""
    return hashlib.sha256(public_bytes).hexdigest()


@dataclass(frozen=True)
class EncryptionPublicKey:
    """A recipient's public key as it travels: 1216 bytes, and its ekid."""

    data: bytes = field(repr=False)
    ekid: str

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptionPublicKey:
        """Parse a serialised public key; PkiError unless it is exactly a valid one."""
        if len(data) != PUBLIC_KEY_BYTES:
            raise PkiError(f"an encryption public key is {PUBLIC_KEY_BYTES} bytes, got {len(data)}")
        cls._hpke_key(data)  # validates both halves now, not at first use
        return cls(bytes(data), ekid_of(data))

    @staticmethod
    def _hpke_key(data: bytes) -> hpke.MLKEM768X25519PublicKey:
        try:
            return hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM_PUBLIC]),
                x25519.X25519PublicKey.from_public_bytes(data[_MLKEM_PUBLIC:]),
            )
        except ValueError:
            raise PkiError("not an ML-KEM-768 + X25519 public key") from None

    def hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        return self._hpke_key(self.data)


@dataclass(frozen=True)
class EncryptionKeyPair:
    """An agency's private encryption key. Never printed (repr shows the ekid only)."""

    public: EncryptionPublicKey
    _mlkem: mlkem.MLKEM768PrivateKey = field(repr=False)
    _x25519: x25519.X25519PrivateKey = field(repr=False)

    @property
    def ekid(self) -> str:
        return self.public.ekid

    @classmethod
    def generate(cls) -> EncryptionKeyPair:
        return cls.from_seed(os.urandom(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> EncryptionKeyPair:
        """The X-Wing key pair for a 32-byte seed (as Go's ``NewPrivateKey(seed)``)."""
        if len(seed) != 32:
            raise PkiError("an X-Wing seed is 32 bytes")
        expanded = hashlib.shake_256(seed).digest(96)
        return cls._of(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
            x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
        )

    @classmethod
    def _of(cls, pq: mlkem.MLKEM768PrivateKey, t: x25519.X25519PrivateKey) -> EncryptionKeyPair:
        data = pq.public_key().public_bytes_raw() + t.public_key().public_bytes_raw()
        return cls(EncryptionPublicKey(data, ekid_of(data)), pq, t)

    def hpke_key(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)

    # -- files -------------------------------------------------------------------

    def private_pem(self, passphrase: bytes | None = None) -> bytes:
        encryption = BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
        return b"".join(
            k.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption)
            for k in (self._mlkem, self._x25519)
        )

    def write(self, path: Path, passphrase: bytes | None = None) -> None:
        """Write the private key file, created 0600 and exclusive (never overwritten)."""
        data = self.private_pem(passphrase)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise PkiError(f"{path} already exists", hint="keys are never overwritten") from None
        with os.fdopen(fd, "wb") as out:
            out.write(data)

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None = None) -> EncryptionKeyPair:
        blocks = [m.group(0) for m in _PEM_BLOCK.finditer(data)]
        if len(blocks) != 2:
            raise PkiError(
                "an encryption key file holds exactly two PKCS#8 PEM blocks "
                "(ML-KEM-768, then X25519)"
            )
        try:
            pq, t = (load_pem_private_key(b, password=passphrase) for b in blocks)
        except (ValueError, TypeError):
            # Deliberately vague: never echo key material or the passphrase.
            raise PkiError(
                "cannot load the encryption key",
                hint="check the passphrase (encrypted keys need one; plain keys take none)",
            ) from None
        if not (
            isinstance(pq, mlkem.MLKEM768PrivateKey) and isinstance(t, x25519.X25519PrivateKey)
        ):
            raise PkiError("an encryption key file holds an ML-KEM-768 key, then an X25519 key")
        return cls._of(pq, t)

    @classmethod
    def load(cls, path: Path, passphrase: bytes | None = None) -> EncryptionKeyPair:
        try:
            with open(path, "rb") as f:
                data = f.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            raise PkiError(f"cannot read encryption key {path}: {exc.strerror}") from None
        if len(data) > _MAX_KEY_FILE:
            raise PkiError(f"{path} is too large to be an encryption key file")
        try:
            return cls.from_pem(data, passphrase)
        except PkiError as exc:
            raise PkiError(f"{path}: {exc.message}", hint=exc.hint) from None
