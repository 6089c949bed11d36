"""The trust topic: certificates and CRLs travel to every node over Kafka.

Agency certificates (keyed ``cert:<kid>``) and CRLs (keyed ``crl:<root kid>``, the
SHA-256 fingerprint of the issuing root, so compaction keeps the newest CRL per
root: two roots of one country share a name, never a fingerprint) are published on
the plan's compacted trust topic. Nodes read it from the beginning and fold what
they find into their local trust store, which is how they learn of rotations and
revocations without a restart.

Fail closed: roots never come from the topic (a node trusts only the roots it was
configured with), a CRL is applied only if a trusted root signed it, and a
certificate is merely *known* until a message signed with it chains to a trusted
root. Anything else on the topic is logged, counted and skipped.

The feed must outlive any record: the topic is compacted and read from the start
on every restart, so a record that crashed the feed would crash it again forever,
and rotations and revocations would silently stop arriving. Hence a record that
cannot be applied, whatever the exception, is skipped; the follow loop restarts
after any error; and :meth:`TrustFeed.stop` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography import x509

from accord.config import KafkaConnection
from accord.errors import PkiError
from accord.kafka import close_consumer, close_producer, new_consumer, new_producer
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.trust.certs import is_ca, kid_of
from accord.trust.store import TrustStore

if TYPE_CHECKING:
    from accord.confidentiality.feed import NodeKeys

log = get_logger(__name__)

_PEM = re.compile(rb"-----BEGIN (CERTIFICATE|X509 CRL)-----.+?-----END \1-----\s*", re.DOTALL)

APPLIED = ("certificate", "crl", "key-statement", "cwk", "cwk-not-mine")
"""What :func:`apply_item` returns when a record changed the store."""

_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 30.0


def crl_key(crl: x509.CertificateRevocationList, roots: TrustStore) -> str:
    """The compaction key of a CRL: ``crl:<kid of the trusted root that signed it>``.

    PkiError when no root of ``roots`` signed it: such a CRL no node would apply.
    """
    for _, root in roots.roots():
        key = root.public_key()
        # Names as DER bytes (SPEC 4.1), as the trust store applies CRLs.
        if root.subject.public_bytes() == crl.issuer.public_bytes() and crl.is_signature_valid(key):  # type: ignore[arg-type]
            return f"crl:{kid_of(root)}"
    raise PkiError(
        f"CRL of {crl.issuer.rfc4514_string()[:100]} is not signed by a known root",
        hint="issue CRLs with `accord pki revoke` in the PKI directory of that root",
    )


def trust_items(bundle: bytes, roots: TrustStore | None = None) -> list[tuple[str, bytes]]:
    """(key, PEM) for each agency certificate and CRL in a bundle; roots are left out.

    Each item is checked the way a node will apply it, against a store that holds
    only the roots (``roots``' roots; by default the bundle's own CA certificates),
    and the first that a node could not apply raises PkiError: a record every node
    would skip is refused at the source.
    """
    scratch = TrustStore()
    if roots is not None:
        for _, root in roots.roots():
            scratch.add_root(root)
    else:
        for ca in _bundle_cas(bundle):
            scratch.add_root(ca)
    items: list[tuple[str, bytes]] = []
    for match in _PEM.finditer(bundle):
        pem = match.group(0).strip() + b"\n"
        try:
            if match.group(1) == b"CERTIFICATE":
                cert = x509.load_pem_x509_certificate(pem)
                if is_ca(cert):
                    continue  # roots are configured, never learned
                key = f"cert:{kid_of(cert)}"
            else:
                key = crl_key(x509.load_pem_x509_crl(pem), scratch)
        except PkiError:
            raise
        except Exception as exc:  # whatever the parser raises, refuse the item
            raise PkiError(
                f"the bundle holds an unreadable {match.group(1).decode()}: "
                f"{type(exc).__name__}: {str(exc)[:200]}",
                hint="export the bundle again with `accord pki bundle`",
            ) from None
        what, error = apply_item(scratch, key.encode(), pem, quiet=True)
        if what == "rejected":
            raise PkiError(
                f"a node could not apply {key[:80]}: {error}",
                hint="publish only what `accord pki` issued from this PKI's roots",
            )
        items.append((key, pem))
    return items


async def publish_trust(
    conn: KafkaConnection, topic: str, bundle: bytes, roots: TrustStore | None = None
) -> int:
    """Publish a bundle's certificates and CRLs to the trust topic; return how many.

    Every item is checked first against the roots nodes pin (``roots``, by default
    the bundle's own; see :func:`trust_items`): nothing is sent unless all of it
    would apply.
    """
    items = trust_items(bundle, roots)
    producer = new_producer(conn)
    await producer.start()
    try:
        for key, pem in items:
            await producer.send_and_wait(topic, value=pem, key=key.encode())
    finally:
        await close_producer(producer, timeout_s=conn.request_timeout_ms / 1000)
    log.info("trust.published", topic=topic, items=len(items))
    return len(items)


def _bundle_cas(bundle: bytes) -> list[x509.Certificate]:
    cas: list[x509.Certificate] = []
    for match in _PEM.finditer(bundle):
        if match.group(1) != b"CERTIFICATE":
            continue
        try:
            cert = x509.load_pem_x509_certificate(match.group(0))
            if is_ca(cert):
                cas.append(cert)
        except Exception:  # noqa: S112 - trust_items reports unreadable blocks
            continue
    return cas


def apply_item(
    store: TrustStore, key: bytes | None, value: bytes | None, *, quiet: bool = False
) -> tuple[str, str | None]:
    """Fold one trust-topic record into ``store``; return what happened and why not.

    Never raises (short of BaseException): the record is untrusted bytes, and any
    exception the X.509 parser raises on it (``UnsupportedAlgorithm`` for an unknown
    key type, ``DuplicateExtension``, ``ValueError``, ...) means the same thing:
    this record cannot be applied. Outcomes: ``certificate``, ``crl``, ``known``,
    ``ignored`` or ``rejected`` (with the error's type and message).
    """
    if not value:
        return "ignored", None
    try:
        if value.startswith(b"-----BEGIN X509 CRL-----"):
            store.add_crl(x509.load_pem_x509_crl(value))
            return "crl", None
        cert = x509.load_pem_x509_certificate(value)
        if is_ca(cert):
            return "ignored", None  # roots are configured, never learned
        if store.resolve(kid_of(cert)) is None:
            store.add_certificate(cert)
            return "certificate", None
        return "known", None
    except Exception as exc:  # see the docstring: any failure is a rejection
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if not quiet:
            log.warning(
                "trust.item_rejected",
                key=(key or b"").decode("utf-8", "replace")[:100],
                error=error,
            )
        return "rejected", error


class TrustFeed:
    """Follows the trust topic and keeps a node's trust store current.

    ``applied`` counts records by outcome (see :func:`apply_item`); rejected
    records are also counted in ``metrics.trust_rejected`` by error type.
    """

    def __init__(
        self,
        conn: KafkaConnection,
        topic: str,
        store: TrustStore,
        *,
        metrics: NodeMetrics | None = None,
        agency: str = "",
        keys: NodeKeys | None = None,
        key_topics: Sequence[str] = (),
    ) -> None:
        """``keys``: the node's key directory and keyring, fed from the ``enc:`` and
        ``cwk:`` records (accord.confidentiality.feed); None: those are ignored.
        ``key_topics``: the agencies' key topics, read with the trust topic; on those
        only ``enc:``/``cwk:`` records count (agencies write them, not trust)."""
        self._conn = conn
        self._keys = keys
        self._topic = topic
        self._key_topics = tuple(key_topics)
        self._store = store
        self._agency = agency
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._read_to: dict[TopicPartition, int] = {}  # next offset per partition, applied
        self._progress = asyncio.Event()
        self._synced_at = -1.0
        self.applied: dict[str, int] = {}
        self.restarts = 0
        # Unix times, for the node's metrics: the last poll that reached the topic,
        # and the last record applied.
        self.last_poll: float | None = None
        self.last_record: float | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"trust-feed-{self._topic}")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Stop following. Never raises: a node's shutdown must go on whatever the feed did."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() rather than await: it neither raises the task's exception nor the
        # cancellation into the caller.
        await asyncio.wait({task}, timeout=15)

    async def sync(self, *, timeout_s: float = 5.0, min_interval_s: float = 1.0) -> bool:
        """Catch up with the trust topic as it is now; True if anything new was applied.

        For a receiver that meets a kid it does not know: the certificate of a key
        rotated a moment ago may be on the topic but not yet read. Bounded twice: by
        ``timeout_s``, and by answering False at once when the feed caught up less
        than ``min_interval_s`` ago (a flood of unknown kids costs one check a second).
        """
        loop = asyncio.get_running_loop()
        consumer = self._consumer
        if consumer is None or loop.time() - self._synced_at < min_interval_s:
            return False
        before = sum(self.applied.get(k, 0) for k in APPLIED)
        deadline = loop.time() + timeout_s
        try:
            partitions = consumer.assignment()
            ends = await asyncio.wait_for(consumer.end_offsets(list(partitions)), timeout=timeout_s)
            while any(self._read_to.get(tp, 0) < end for tp, end in ends.items()):
                self._progress.clear()
                left = deadline - loop.time()
                if left <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), timeout=left)
        except Exception as exc:  # a failed sync only means: refuse as before
            log.warning("trust.feed_sync_failed", error=type(exc).__name__)
            return False
        self._synced_at = loop.time()
        return sum(self.applied.get(k, 0) for k in APPLIED) > before

    def _ended(self, task: asyncio.Task[None]) -> None:
        # _follow only ends by cancellation; anything else is a bug worth an alarm.
        if not task.cancelled() and task.exception() is not None:
            log.error("trust.feed_died", topic=self._topic, error=type(task.exception()).__name__)

    def _apply(self, key: bytes | None, value: bytes | None, topic: str | None = None) -> None:
        from accord.confidentiality.feed import KEY_PREFIXES, apply_key_record

        is_key = key is not None and key.startswith(KEY_PREFIXES)
        error: str | None
        if topic in self._key_topics and not is_key:
            # An agency-writable topic never carries certificates or CRLs.
            what, error = "rejected", "NotAKeyRecord: not an enc:/cwk: record on a key topic"
        elif is_key:
            what, error = (
                apply_key_record(self._keys, key, value)
                if self._keys is not None
                else ("ignored", None)
            )
        else:
            what, error = apply_item(self._store, key, value)
        self.last_record = time.time()
        self.applied[what] = self.applied.get(what, 0) + 1
        if what in APPLIED:
            log.info("trust.updated", kind=what, topic=self._topic)
        elif what == "rejected":
            kind = (error or "Error").split(":", 1)[0][:60]
            self.metrics.trust_rejected.labels(self._agency, kind).inc()

    async def _follow(self) -> None:
        backoff = _BACKOFF_FIRST_S
        while True:
            # No group: every node reads the whole (compacted) topic from the start.
            consumer = None
            try:
                # A long poll (fetch_min_bytes 1, Kafka's defaults): the broker answers
                # the moment a certificate is written, and an idle feed asks twice a
                # second. (Its 50 ms wait until issue 16 cost a receiving node and its
                # broker ~15 and ~40 ms of CPU a second, and no latency: min 1 byte.)
                consumer = new_consumer(self._conn, self._topic, *self._key_topics, group_id=None)
                await consumer.start()
                self._consumer = consumer
                while True:
                    batch = await consumer.getmany(timeout_ms=1000)
                    self.last_poll = time.time()
                    backoff = _BACKOFF_FIRST_S  # a good poll: the next failure starts over
                    for tp, records in batch.items():
                        for r in records:
                            self._apply(r.key, r.value, r.topic)
                        self._read_to[tp] = records[-1].offset + 1
                    for tp in consumer.assignment():
                        # Also past compacted-away offsets and control records.
                        self._read_to[tp] = max(
                            self._read_to.get(tp, 0), await consumer.position(tp)
                        )
                    self._progress.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed must outlive any error
                self.restarts += 1
                self.metrics.trust_feed_restarts.labels(self._agency).inc()
                log.warning(
                    "trust.feed_error",
                    topic=self._topic,
                    error=type(exc).__name__,
                    detail=str(exc)[:200],
                    retry_in_s=backoff,
                )
            finally:
                self._consumer = None
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        await close_consumer(consumer, timeout_s=10)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
