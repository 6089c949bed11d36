"""Opening a node: the one place that turns settings into working parts.

Fails closed with clear errors: an agency the plan does not know, a missing key
or certificate, a trust bundle that does not load.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.config import NodeSettings
from accord.errors import PkiError
from accord.plan import Plan, load_plan
from accord.trust import Signer, TrustStore
from accord.trust.pki import PkiDirectory


@dataclass(frozen=True)
class NodeContext:
    settings: NodeSettings
    plan: Plan
    trust: TrustStore
    signer: Signer

    @property
    def agency(self) -> str:
        return self.settings.agency


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
    return NodeContext(settings, plan, trust, signer)
