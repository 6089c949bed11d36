"""A throw-away TLS certificate authority for the local broker's TLS listener.

The launcher makes its own CA rather than asking for one: a development or test
broker must not depend on (or be trusted by) any real PKI, and a CA that lives
in the broker's data dir dies with it. Layout of ``<data_dir>/tls``:

* ``ca.crt`` — the CA certificate: what clients pass as ``ssl_cafile``
  (``ACCORD_SSL_CAFILE``), and the broker's truststore when client auth is on.
* ``ca.key`` — the CA's private key (0600), kept so that client certificates can
  be issued later (``accord broker client-cert``).
* ``broker.pem`` — the broker's private key followed by its certificate chain
  (0600): Kafka's ``ssl.keystore.type=PEM`` file format (KIP-651).
* ``clients/<name>.crt`` / ``clients/<name>.key`` — client certificates (key 0600).

Keys are EC P-256: small, fast to make on a 2-core box, and accepted by the JVM,
OpenSSL (aiokafka) and librdkafka alike. Private keys are unencrypted PKCS#8,
which Kafka's PEM keystore reads when ``ssl.key.password`` is unset; their
protection is the file mode, like the broker's other secrets in the data dir.

The server certificate names ``localhost`` and ``127.0.0.1`` (and the broker's
host if it is another one) because clients verify the host name by default
(Python's ``ssl`` and librdkafka's ``ssl.endpoint.identification.algorithm=https``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.errors import BrokerError

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
BROKER_KEYSTORE = "broker.pem"
CLIENTS_DIR = "clients"

VALIDITY = timedelta(days=365)
"""Long enough that a dev broker never expires mid-week; short enough to be throw-away."""

_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class CertFiles:
    """A PEM certificate and its PEM private key, as a client's ``ssl_certfile``/``ssl_keyfile``."""

    certfile: Path
    keyfile: Path


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically; private files are created 0600 (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # the only key format Kafka's PEM keystore reads
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "accord local broker"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class LocalCa:
    """The CA in ``directory``; ``LocalCa.ensure`` creates it on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self._cert = x509.load_pem_x509_certificate(self.cafile.read_bytes())
            key = serialization.load_pem_private_key(
                (self.directory / CA_KEY).read_bytes(), password=None
            )
        except (OSError, ValueError) as exc:
            raise BrokerError(
                f"no usable TLS CA in {self.directory}: {exc}",
                hint="start the broker with TLS once (it makes the CA), or delete the tls dir",
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise BrokerError(f"the CA key in {self.directory} is not an EC key")
        self._key = key

    @classmethod
    def ensure(cls, directory: Path) -> LocalCa:
        """The CA in ``directory``, made now if there is none."""
        directory = Path(directory)
        if not (directory / CA_CERT).is_file():
            key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.now(UTC)
            name = _name(f"accord throw-away CA {os.urandom(4).hex()}")
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))  # tolerate clock skew
                .not_valid_after(now + VALIDITY)
                # path_length=0: this CA signs leaf certificates only, never other CAs.
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=False, content_commitment=False,
                        key_encipherment=False, data_encipherment=False, key_agreement=False,
                        key_cert_sign=True, crl_sign=True, encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256())
            )  # fmt: skip
            # Key first: a crash between the writes leaves no certificate without a key.
            _write(directory / CA_KEY, _key_pem(key), private=True)
            _write(directory / CA_CERT, _cert_pem(cert), private=False)
        return cls(directory)

    @property
    def cafile(self) -> Path:
        return self.directory / CA_CERT

    @property
    def keystore(self) -> Path:
        return self.directory / BROKER_KEYSTORE

    def _issue(
        self,
        common_name: str,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + VALIDITY, self._cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )  # fmt: skip
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self._key, hashes.SHA256())

    def issue_broker(self, host: str = "127.0.0.1") -> Path:
        """(Re)write the broker's PEM keystore: its key, its certificate, then the CA's."""
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        try:
            extra: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            extra = x509.DNSName(host)
        if extra not in sans:
            sans.append(extra)
        key, cert = self._issue("accord local broker", ExtendedKeyUsageOID.SERVER_AUTH, sans)
        _write(self.keystore, _key_pem(key) + _cert_pem(cert) + _cert_pem(self._cert), private=True)
        return self.keystore

    def issue_client(self, name: str) -> CertFiles:
        """A client certificate with ``CN=name`` (e.g. an agency id), for ``ssl.client.auth``.

        Re-issuing replaces the files: the CA keeps no register, and the broker trusts
        any certificate it signed (client certificates authenticate the connection;
        authorization stays with SCRAM principals and ACLs).
        """
        if not _CLIENT_NAME.fullmatch(name):
            raise BrokerError(
                f"client certificate name {name!r} is not a plain identifier",
                hint="use letters, digits, '.', '_' and '-' (e.g. JPN.MOFA)",
            )
        key, cert = self._issue(name, ExtendedKeyUsageOID.CLIENT_AUTH)
        files = CertFiles(
            certfile=self.directory / CLIENTS_DIR / f"{name}.crt",
            keyfile=self.directory / CLIENTS_DIR / f"{name}.key",
        )
        _write(files.keyfile, _key_pem(key), private=True)
        _write(files.certfile, _cert_pem(cert) + _cert_pem(self._cert), private=False)
        return files
