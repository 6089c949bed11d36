"""Confidentiality: bodies encrypted to exactly the agencies entitled to read them.

HPKE (RFC 9180) with the post-quantum hybrid KEM ML-KEM-768 + X25519, HKDF-SHA256
and AES-256-GCM seals a content-wrapping key (CWK) once per sender, recipient set
and epoch; each body is AES-256-GCM under a key derived from the CWK and bound to
the exact header and label bytes. See docs/confidentiality.md.

- keys: ``EncryptionKeyPair`` / ``EncryptionPublicKey`` (files 0600, passphrase)
- statement: key statements signed by the agency's certified signing key
- directory: ``KeyDirectory``, which key each agency is reached with now
- recipients: plan entitlement, need-to-know, the sender; resolved to keys
- wrap: ``seal_cwk`` / ``open_announcement``
- body: ``encrypt_body`` / ``decrypt_body``
- sender / keyring: the stateful sides a publisher and a receiver hold
"""

from accord.confidentiality.body import (
    BODY_OVERHEAD,
    EncryptedBody,
    aad_digest,
    decrypt_body,
    encrypt_body,
)
from accord.confidentiality.directory import KeyDirectory
from accord.confidentiality.errors import (
    NoEncryptionKey,
    NotARecipient,
    PlaintextRefused,
    Undecryptable,
    UnknownCwk,
)
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.keys import SUITE_NAME, EncryptionKeyPair, EncryptionPublicKey
from accord.confidentiality.policy import EncryptionMode, check_plaintext
from accord.confidentiality.recipients import (
    Audiences,
    Recipient,
    may_read,
    recipient_agencies,
    resolve_recipients,
)
from accord.confidentiality.sender import ContentEncryptor, SenderEncryption
from accord.confidentiality.statement import (
    KeyStatement,
    sign_key_revocation,
    sign_key_statement,
    verify_key_statement,
)
from accord.confidentiality.wrap import Cwk, open_announcement, seal_cwk

__all__ = [
    "BODY_OVERHEAD",
    "SUITE_NAME",
    "Audiences",
    "ContentEncryptor",
    "Cwk",
    "EncryptedBody",
    "EncryptionKeyPair",
    "EncryptionMode",
    "EncryptionPublicKey",
    "KeyDirectory",
    "KeyStatement",
    "Keyring",
    "NoEncryptionKey",
    "NotARecipient",
    "PlaintextRefused",
    "Recipient",
    "SenderEncryption",
    "Undecryptable",
    "UnknownCwk",
    "aad_digest",
    "check_plaintext",
    "decrypt_body",
    "encrypt_body",
    "may_read",
    "open_announcement",
    "recipient_agencies",
    "resolve_recipients",
    "seal_cwk",
    "sign_key_revocation",
    "sign_key_statement",
    "verify_key_statement",
]
