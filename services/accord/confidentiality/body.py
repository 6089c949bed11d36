"""Body encryption: AES-256-GCM under a per-message content key derived from the CWK.

Content key: ``HKDF-Expand(SHA-256, PRK = CWK, info = "accord/cek/v1" 0x00 || cwk_id
|| message_id (16 bytes), L = 32)`` (RFC 5869; the CWK is 32 uniformly random bytes,
so it is already a pseudorandom key and the Extract step adds nothing). Why derive
rather than wrap a fresh random key under the CWK: both give one key per message and
both are open to exactly the holders of the CWK; deriving costs no bytes (a wrapped
key costs 60 per message) and one HMAC pair. Each key encrypts one body, so GCM's
per-key limits never come near; the nonce is still random, so even a reused message
id (a sender bug) never reuses a (key, nonce) pair.

AAD: ``SHA-256("accord/aad/v1" 0x00 || u32be(len(header)) || header || u32be(len(label))
|| label)`` over the *exact* header and label bytes that are signed. Swapping the
label or header, or downgrading either, makes the tag fail.

Wire form (``EncryptedBody``), 45 bytes of overhead::

    0x01 (version) || cwk_id (16) || nonce (12) || AES-256-GCM ciphertext || tag (16)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from accord.confidentiality.errors import Undecryptable
from accord.confidentiality.wrap import CWK_ID_BYTES, Cwk
from accord.conformance import rules

__all__ = [
    "BODY_OVERHEAD",
    "MAX_BODY_BYTES",
    "EncryptedBody",
    "aad_digest",
    "content_key",
    "decrypt_body",
    "encrypt_body",
]

VERSION = 1
_NONCE = 12
_TAG = 16
BODY_OVERHEAD = 1 + CWK_ID_BYTES + _NONCE + _TAG
MAX_BODY_BYTES = 1_048_576
_CEK_INFO = b"accord/cek/v1\x00"
_AAD_PREFIX = b"accord/aad/v1\x00"


@dataclass(frozen=True)
class EncryptedBody:
    """A parsed encrypted body (no secret in it)."""

    cwk_id: bytes
    nonce: bytes
    ciphertext: bytes
    """AES-GCM output: ciphertext followed by the 16-byte tag."""

    def to_bytes(self) -> bytes:
        return bytes([VERSION]) + self.cwk_id + self.nonce + self.ciphertext

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptedBody:
        """Parse the wire form; Undecryptable for anything malformed or oversized."""
        if len(data) > MAX_BODY_BYTES + BODY_OVERHEAD:
            raise Undecryptable(f"encrypted body is {len(data)} bytes, limit {MAX_BODY_BYTES}")
        if len(data) < BODY_OVERHEAD:
            raise Undecryptable("encrypted body is too short")
        if data[0] != VERSION:
            raise Undecryptable(f"unknown encrypted body version {data[0]}")
        nonce_at = 1 + CWK_ID_BYTES
        return cls(
            bytes(data[1:nonce_at]),
            bytes(data[nonce_at : nonce_at + _NONCE]),
            bytes(data[nonce_at + _NONCE :]),
        )


def aad_digest(header: bytes, label: bytes) -> bytes:
    """The AAD for a body: SHA-256 over the exact header and label bytes, length-framed."""
    digest = hashlib.sha256(_AAD_PREFIX)
    for part in (header, label):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()


def content_key(cwk: Cwk, message_id: UUID) -> bytes:
    """The per-message content key (see the module docstring)."""
    return HKDFExpand(hashes.SHA256(), 32, _CEK_INFO + cwk.cwk_id + message_id.bytes).derive(
        cwk.key
    )


def encrypt_body(
    cwk: Cwk, message_id: UUID, *, header: bytes, label: bytes, plaintext: bytes
) -> bytes:
    """Encrypt ``plaintext`` (the exact body bytes) to the CWK's recipients; wire form."""
    if len(plaintext) > MAX_BODY_BYTES:
        raise ValueError(f"body is {len(plaintext)} bytes, limit {MAX_BODY_BYTES}")
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(content_key(cwk, message_id)).encrypt(
        nonce, plaintext, aad_digest(header, label)
    )
    return EncryptedBody(cwk.cwk_id, nonce, sealed).to_bytes()


def decrypt_body(
    cwk: Cwk, message_id: UUID, *, header: bytes, label: bytes, body: EncryptedBody
) -> bytes:
    """The plaintext body, or Undecryptable (wrong CWK, swapped header/label, tampering)."""
    if body.cwk_id != cwk.cwk_id:
        raise Undecryptable("body is encrypted under another content-wrapping key")
    try:
        return AESGCM(content_key(cwk, message_id)).decrypt(
            body.nonce, body.ciphertext, aad_digest(header, label)
        )
    except InvalidTag:
        if not rules.enabled("ENC-07"):
            return _without_tag(content_key(cwk, message_id), body)
        raise Undecryptable(
            "body does not decrypt: wrong key, or header, label or ciphertext altered"
        ) from None


def _without_tag(key: bytes, body: EncryptedBody) -> bytes:
    """TEST ONLY (ENC-07 switched off by the mutation test): the broken reader that
    skips the GCM tag and runs the CTR keystream, from inc32(J0) = nonce || 2."""
    decryptor = Cipher(algorithms.AES(key), modes.CTR(body.nonce + b"\0\0\0\2")).decryptor()
    return decryptor.update(body.ciphertext[:-_TAG]) + decryptor.finalize()
