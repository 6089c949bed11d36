"""A signing identity: an agency's Ed25519 key and the certificate that vouches for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from accord.errors import PkiError
from accord.trust.certs import agency_of, kid_of


@dataclass(frozen=True)
class Signer:
    """Signs for ``agency`` with the key certified by ``certificate`` (key id ``kid``)."""

    agency: str
    kid: str
    certificate: x509.Certificate = field(repr=False)
    # repr=False: a signer may end up in a log line or a traceback; the key must not.
    _key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def from_key(cls, key: Ed25519PrivateKey, certificate: x509.Certificate) -> Signer:
        if key.public_key() != certificate.public_key():
            raise PkiError(
                "private key does not match the certificate",
                hint="pass the key file issued with this certificate",
            )
        return cls(agency_of(certificate), kid_of(certificate), certificate, key)

    @classmethod
    def load(cls, key_path: Path, cert_path: Path, passphrase: bytes | None = None) -> Signer:
        """Load a PEM private key (optionally passphrase-encrypted) and its PEM certificate."""
        try:
            key = load_pem_private_key(Path(key_path).read_bytes(), password=passphrase)
        except OSError as exc:
            raise PkiError(f"cannot read key {key_path}: {exc.strerror}") from None
        except (ValueError, TypeError):
            # Deliberately vague: never echo key material or the passphrase.
            raise PkiError(
                f"cannot load private key {key_path}",
                hint="check the passphrase (encrypted keys need one; plain keys take none)",
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise PkiError(f"{key_path} is not an Ed25519 key")
        try:
            cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        except OSError as exc:
            raise PkiError(f"cannot read certificate {cert_path}: {exc.strerror}") from None
        except ValueError:
            raise PkiError(f"{cert_path} is not a PEM certificate") from None
        return cls.from_key(key, cert)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)
