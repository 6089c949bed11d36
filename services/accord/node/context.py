"""Opening a node: the one place that turns settings into working parts.

Fails closed with clear errors: an agency the plan does not know, a missing key
or certificate, a trust bundle that does not load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from accord.confidentiality import ContentEncryptor, KeyDirectory, SenderEncryption
from accord.confidentiality.feed import NodeKeys
from accord.confidentiality.files import KEYS_BUNDLE, EncryptionKeyFiles
from accord.config import NodeSettings
from accord.errors import AccordError, PkiError
from accord.observability.logs import get_logger
from accord.plan import Plan, load_plan
from accord.trust import Signer, TrustStore
from accord.trust.pki import PkiDirectory

log = get_logger(__name__)

_MAX_SHIPPED = 10_000  # statements in a shipped keys bundle (KeyDirectory.add_bundle's bound)


@dataclass(frozen=True)
class NodeContext:
    settings: NodeSettings
    plan: Plan
    trust: TrustStore
    signer: Signer
    keys: NodeKeys | None = None
    """Every agency's encryption keys and this agency's keyring; None when the agency
    has no encryption key in its PKI directory (plaintext scopes only)."""

    @property
    def agency(self) -> str:
        return self.settings.agency

    def encryption(self) -> SenderEncryption | None:
        """What a publisher of this node encrypts with (a fresh ``ContentEncryptor``:
        one per publisher), sharing the receiver's directory and keyring, so key
        statements and CWKs the receiver reads on the trust topic serve both."""
        if self.keys is None or self.keys.keyring is None:
            return None
        return SenderEncryption(
            self.keys.directory, ContentEncryptor(self.signer), self.keys.keyring
        )


def open_node(settings: NodeSettings) -> NodeContext:
    """Open a node's plan, trust store (pinned roots) and signing key from its settings."""
    plan = load_plan(settings.plan_path)
    plan.agency(settings.agency)
    pki = PkiDirectory(settings.pki_dir)
    if not settings.pki_dir.is_dir():
        raise PkiError(
            f"no PKI directory at {settings.pki_dir}",
            hint="create one with `accord pki init-root` and `accord pki issue`, "
            "or point ACCORD_PKI_DIR at it",
        )
    passphrase = (
        settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
    )
    signer = pki.signer(settings.agency, passphrase=passphrase)
    # A node trusts what the published bundle says (roots, certificates, CRLs); it
    # never needs, and in production never has, the roots' private keys.
    if not pki.bundle_path.exists():
        raise PkiError(
            f"no trust bundle at {pki.bundle_path}",
            hint="export one with `accord pki bundle`",
        )
    # Roots are pinned: ACCORD_TRUSTED_ROOTS, else the roots file beside the bundle.
    trust = TrustStore.from_bundle(pki.bundle_path, roots=settings.trusted_roots)
    keys = _encryption_keys(settings, plan, trust, passphrase)
    return NodeContext(settings, plan, trust, signer, keys)


def _encryption_keys(
    settings: NodeSettings, plan: Plan, trust: TrustStore, passphrase: bytes | None
) -> NodeKeys | None:
    """The agency's keyring and the statements in the PKI directory, when it has a key.

    A plan that requires encryption in some scope and an agency without a key fail
    here, at start, rather than at the first message. Statements that no longer
    verify (expired, signer revoked) are skipped, not trusted: the directory then has
    no key for that agency and a sender refuses (``no-encryption-key``).
    """
    files = EncryptionKeyFiles(settings.pki_dir)
    if files.current_ekid(settings.agency) is None:
        required = sorted(s for s, sp in plan.scopes.items() if sp.encryption == "required")
        if required:
            raise PkiError(
                f"the plan requires encryption in {', '.join(required)} and "
                f"{settings.agency} has no encryption key in {settings.pki_dir}",
                hint=f"run `accord keys issue --agency {settings.agency} --dir {settings.pki_dir}`",
            )
        return None
    keyring = files.keyring(settings.agency, passphrase=passphrase)
    directory = KeyDirectory(trust)
    now = datetime.now(UTC)
    # The key files here, and the shipped statements bundle (`accord keys bundle`,
    # KEYS_BUNDLE beside bundle.pem): a one-shot `accord publish` reads no key topic.
    shipped = settings.pki_dir / KEYS_BUNDLE
    lines = shipped.read_bytes().splitlines() if shipped.is_file() else []
    if len(lines) > _MAX_SHIPPED:
        raise PkiError(
            f"{shipped} has {len(lines)} lines, more than {_MAX_SHIPPED}",
            hint="export it again with `accord keys bundle`",
        )
    for raw in [*files.statements(), *(line.strip() for line in lines if line.strip())]:
        try:
            directory.add(raw, now=now)
        except AccordError as exc:
            log.warning("node.keys_statement_skipped", error=f"{exc.code}: {exc.message[:200]}")
    return NodeKeys(directory, keyring)
