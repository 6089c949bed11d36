"""The trust topic: certificates and CRLs travel to every node over Kafka.

Agency certificates (keyed ``cert:<kid>``) and CRLs (keyed ``crl:<issuer>``, so
compaction keeps the newest per root) are published on the plan's compacted trust
topic. Nodes read it from the beginning and fold what they find into their local
trust store, which is how they learn of rotations and revocations without a
restart.

Fail closed: roots never come from the topic (a node trusts only the roots it was
configured with), a CRL is applied only if a trusted root signed it, and a
certificate is merely *known* until a message signed with it chains to a trusted
root. Anything else on the topic is logged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

from aiokafka.errors import KafkaError
from cryptography import x509

from accord.config import KafkaConnection
from accord.errors import PkiError
from accord.kafka import close_consumer, close_producer, new_consumer, new_producer
from accord.observability.logs import get_logger
from accord.trust.certs import is_ca, kid_of
from accord.trust.store import TrustStore

log = get_logger(__name__)

_PEM = re.compile(rb"-----BEGIN (CERTIFICATE|X509 CRL)-----.+?-----END \1-----\s*", re.DOTALL)


def trust_items(bundle: bytes) -> list[tuple[str, bytes]]:
    """(key, PEM) for each agency certificate and CRL in a bundle; roots are left out."""
    items: list[tuple[str, bytes]] = []
    for match in _PEM.finditer(bundle):
        pem = match.group(0).strip() + b"\n"
        if match.group(1) == b"CERTIFICATE":
            cert = x509.load_pem_x509_certificate(pem)
            if not is_ca(cert):
                items.append((f"cert:{kid_of(cert)}", pem))
        else:
            crl = x509.load_pem_x509_crl(pem)
            items.append((f"crl:{crl.issuer.rfc4514_string()}", pem))
    return items


async def publish_trust(conn: KafkaConnection, topic: str, bundle: bytes) -> int:
    """Publish a bundle's certificates and CRLs to the trust topic; return how many."""
    items = trust_items(bundle)
    producer = new_producer(conn)
    await producer.start()
    try:
        for key, pem in items:
            await producer.send_and_wait(topic, value=pem, key=key.encode())
    finally:
        await close_producer(producer, timeout_s=conn.request_timeout_ms / 1000)
    log.info("trust-published", topic=topic, items=len(items))
    return len(items)


def apply_item(store: TrustStore, key: bytes | None, value: bytes | None) -> str:
    """Fold one trust-topic record into ``store``; return what happened."""
    if not value:
        return "ignored"
    try:
        if value.startswith(b"-----BEGIN X509 CRL-----"):
            store.add_crl(x509.load_pem_x509_crl(value))
            return "crl"
        cert = x509.load_pem_x509_certificate(value)
        if is_ca(cert):
            return "ignored"  # roots are configured, never learned
        if store.resolve(kid_of(cert)) is None:
            store.add_certificate(cert)
            return "certificate"
        return "known"
    except (ValueError, PkiError) as exc:
        log.warning("trust-item-rejected", key=(key or b"").decode("utf-8", "replace")[:100],
                    error=str(exc)[:200])
        return "rejected"


class TrustFeed:
    """Follows the trust topic and keeps a node's trust store current."""

    def __init__(self, conn: KafkaConnection, topic: str, store: TrustStore) -> None:
        self._conn = conn
        self._topic = topic
        self._store = store
        self._task: asyncio.Task[None] | None = None
        self.applied: dict[str, int] = {}
        # Unix times, for the node's metrics: the last poll that reached the topic,
        # and the last record applied.
        self.last_poll: float | None = None
        self.last_record: float | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"trust-feed-{self._topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            # No group: every node reads the whole (compacted) topic from the start.
            consumer = new_consumer(self._conn, self._topic, group_id=None)
            try:
                await consumer.start()
                while True:
                    batch = await consumer.getmany(timeout_ms=1000)
                    self.last_poll = time.time()
                    for records in batch.values():
                        for r in records:
                            what = apply_item(self._store, r.key, r.value)
                            self.last_record = time.time()
                            self.applied[what] = self.applied.get(what, 0) + 1
                            if what in ("crl", "certificate"):
                                log.info("trust-updated", kind=what, topic=self._topic)
            except KafkaError as exc:
                log.warning("trust-feed-error", error=type(exc).__name__)
                await asyncio.sleep(2.0)
            finally:
                await close_consumer(consumer, timeout_s=10)
