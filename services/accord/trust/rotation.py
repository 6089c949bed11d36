"""Rotation without quarantine: a new key is used only once its certificate is out.

Receivers learn certificates from the trust topic. A node that signed with a new
key at once would have every message quarantined as ``unknown-key`` until the
certificate reached the receivers. So a rotation is three steps, in order:

1. stage: issue the new key and certificate, PENDING, not in use;
2. publish: put the PKI directory's certificates and CRLs on the trust topic
   (acknowledged by the broker, so every receiver's feed will read it);
3. activate: PENDING becomes CURRENT; signers loaded from now on use the new key.

Receivers close the last gap themselves: a record whose kid they do not know makes
their feed catch up with the trust topic before it is refused (``TrustFeed.sync``).
If step 2 fails (an agency principal may not write the trust topic), nothing is
activated: the old key stays in use and the new one waits for ``accord pki publish``.
"""

from __future__ import annotations

from cryptography import x509

from accord.config import KafkaConnection
from accord.observability.logs import get_logger
from accord.trust.directory import PkiDirectory
from accord.trust.feed import publish_trust

log = get_logger(__name__)


async def publish_and_activate(
    directory: PkiDirectory, conn: KafkaConnection, topic: str
) -> tuple[int, list[str]]:
    """Publish the directory's certificates and CRLs, then activate staged keys.

    Returns how many records were published and the kids put in use.
    """
    store = directory.trust_store()
    count = await publish_trust(conn, topic, store.to_bundle(), roots=store)
    activated = [
        kid for agency in directory.agencies() if (kid := directory.activate(agency)) is not None
    ]
    return count, activated


async def rotate(
    directory: PkiDirectory,
    agency: str,
    conn: KafkaConnection,
    topic: str,
    *,
    valid_days: int = 365,
    passphrase: bytes | None = None,
    ca_passphrase: bytes | None = None,
) -> x509.Certificate:
    """Stage a new key for ``agency``, publish its certificate, then put it in use."""
    cert = directory.issue(
        agency,
        valid_days=valid_days,
        passphrase=passphrase,
        ca_passphrase=ca_passphrase,
        rotate=True,
        activate=False,
    )
    await publish_and_activate(directory, conn, topic)
    log.info("pki.rotated", agency=agency, topic=topic)
    return cert
