"""``LocalExchange``: provision, apply and run agency nodes in this event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    SenderEncryption,
    sign_key_statement,
)
from accord.confidentiality.feed import NodeKeys
from accord.config import PUBLISHER_STATE_FILE, KafkaConnection, inbox_path
from accord.handover import Endpoint
from accord.observability.logs import get_logger
from accord.plan import Plan
from accord.plan.reconcile import apply_plan
from accord.publisher import Publisher
from accord.receiver import Handler, Receiver, ReceiverSettings
from accord.trust import TrustStore
from accord.trust.feed import TrustFeed
from accord.trust.pki import Pki, provision

log = get_logger(__name__)


class LocalExchange:
    """Agency nodes sharing one process.

    ``connections`` maps an agency to its own Kafka connection (its principal); an
    agency missing from it uses ``connection``.
    """

    def __init__(
        self,
        *,
        plan: Plan,
        connection: KafkaConnection,
        directory: Path,
        connections: Mapping[str, KafkaConnection] | None = None,
        pki: Pki | None = None,
    ) -> None:
        self.plan = plan
        self.connection = connection
        self.directory = directory
        self._connections = dict(connections or {})
        self.pki = pki or provision(directory / "pki", plan.agencies)
        self.trust: TrustStore = self.pki.trust_store()
        self.receivers: dict[str, Receiver] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.publishers: dict[str, Publisher] = {}
        self._trust_feed: TrustFeed | None = None
        self._keys: tuple[KeyDirectory, dict[str, Keyring]] | None = None

    def apply(self, secrets: Mapping[str, SecretStr] | None = None) -> None:
        """Create the plan's topics (and, on a SASL connection, principals and ACLs)."""
        apply_plan(self.plan, self.connection, secrets)

    def connection_for(self, agency: str) -> KafkaConnection:
        return self._connections.get(agency, self.connection)

    def inbox_path(self, agency: str) -> Path:
        return inbox_path(self.directory / "nodes" / agency.lower())

    # -- encryption ----------------------------------------------------------

    @property
    def encrypts(self) -> bool:
        """Whether some scope of the plan encrypts (``required`` or ``optional``)."""
        return any(sp.encryption != "off" for sp in self.plan.scopes.values())

    def encryption_keys(self) -> tuple[KeyDirectory, dict[str, Keyring]]:
        """An encryption key for every agency (made once, in memory), the directory of
        their signed statements, and each agency's keyring (one per agency, shared by
        its receiver and publisher here, as in one node)."""
        if self._keys is None:
            pairs = {a: EncryptionKeyPair.generate() for a in sorted(self.plan.agencies)}
            directory = KeyDirectory(self.trust)
            for agency, pair in pairs.items():
                directory.add(
                    sign_key_statement(self.pki.signer(agency), pair.public), now=datetime.now(UTC)
                )
            self._keys = directory, {a: Keyring(a, [p]) for a, p in pairs.items()}
        return self._keys

    def node_keys(self, agency: str) -> NodeKeys:
        directory, keyrings = self.encryption_keys()
        return NodeKeys(directory, keyrings[agency])

    def sender_encryption(self, agency: str) -> SenderEncryption:
        directory, keyrings = self.encryption_keys()
        return SenderEncryption(
            directory, ContentEncryptor(self.pki.signer(agency)), keyrings[agency]
        )

    # -- receivers -----------------------------------------------------------

    async def start_receiver(
        self,
        agency: str,
        *,
        handler: Handler | None = None,
        handover: Endpoint | None = None,
        keys: NodeKeys | None = None,
        **options: Any,
    ) -> Receiver:
        """Start and run one agency's receiver, handing over to ``handover`` if
        given; ``options`` are ``ReceiverSettings`` fields (``follow_trust`` defaults
        to off: one shared store, see ``start_trust_feed``). On a plan that encrypts,
        the agency gets its encryption keys and follows the trust and key topics (CWK
        announcements) unless ``keys`` says otherwise."""
        if keys is None and self.encrypts:
            keys = self.node_keys(agency)
            options.setdefault("follow_trust", True)
        options.setdefault("follow_trust", False)
        receiver = Receiver(
            agency=agency,
            connection=self.connection_for(agency),
            plan=self.plan,
            trust=self.trust,
            signer=self.pki.signer(agency),
            inbox_path=self.inbox_path(agency),
            handler=handler,
            handover=handover,
            settings=ReceiverSettings(**options),
            keys=keys,
        )
        await receiver.start()
        self.receivers[agency] = receiver
        task = asyncio.create_task(receiver.run(), name=f"receiver-{agency}")
        task.add_done_callback(_report_crash)
        self._tasks[agency] = task
        return receiver

    async def start_receivers(self, agencies: Iterable[str] | None = None) -> None:
        await asyncio.gather(*(self.start_receiver(a) for a in (agencies or self.plan.agencies)))

    async def start_trust_feed(self) -> TrustFeed:
        """Follow the trust topic into the store all nodes here share."""
        if self._trust_feed is None:
            self._trust_feed = TrustFeed(self.connection, self.plan.trust_topic, self.trust)
            await self._trust_feed.start()
        return self._trust_feed

    async def stop_receiver(self, agency: str) -> None:
        receiver = self.receivers.pop(agency)
        receiver.request_stop()
        task = self._tasks.pop(agency)
        # Bounded even if the node's loop is stuck in a client call that does not
        # honour cancellation (wait_for would wait for the cancellation to land).
        done, _ = await asyncio.wait({task}, timeout=15)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=5)
            if not done:
                log.error("exchange.receiver_stop_stuck", agency=agency)
        await receiver.stop()

    # -- publishers ----------------------------------------------------------

    async def publisher(self, agency: str, **options: object) -> Publisher:
        """``agency``'s publisher; on a plan that encrypts, with its encryption keys
        unless ``encryption`` is given."""
        if agency not in self.publishers:
            if self.encrypts:
                options.setdefault("encryption", self.sender_encryption(agency))
            publisher = Publisher(
                agency=agency,
                connection=self.connection_for(agency),
                plan=self.plan,
                signer=self.pki.signer(agency),
                state_path=self.directory / "nodes" / agency.lower() / PUBLISHER_STATE_FILE,
                **options,  # type: ignore[arg-type]
            )
            await publisher.start()
            self.publishers[agency] = publisher
        return self.publishers[agency]

    # -- waiting and stopping ------------------------------------------------

    async def settle(self, expected: Mapping[str, int], *, within_s: float = 60.0) -> bool:
        """Wait until each agency's receiver has delivered at least ``expected`` messages."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            if all(self.receivers[a].stats.delivered >= n for a, n in expected.items()):
                return True
            await asyncio.sleep(0.1)
        return False

    async def quiesce(self, *, idle_s: float = 2.0, within_s: float = 60.0) -> None:
        """Wait until no receiver has taken a record for ``idle_s`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s

        def total() -> int:
            return sum(
                r.stats.delivered + r.stats.duplicates + sum(r.stats.rejected.values())
                for r in self.receivers.values()
            )

        last, since = total(), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.2)
            now_total = total()
            if now_total != last:
                last, since = now_total, loop.time()
            elif loop.time() - since >= idle_s:
                return

    async def stop(self) -> None:
        await asyncio.gather(*(self.stop_receiver(a) for a in list(self.receivers)))
        for publisher in self.publishers.values():
            await publisher.stop()
        self.publishers.clear()
        if self._trust_feed is not None:
            await self._trust_feed.stop()
            self._trust_feed = None


def _report_crash(task: asyncio.Task[None]) -> None:
    # A node that dies must say so loudly; in one process nobody else would.
    if task.cancelled():
        log.error("exchange.receiver_crashed", task=task.get_name(), error="cancelled")
    elif task.exception() is not None:
        log.error("exchange.receiver_crashed", task=task.get_name(), error=repr(task.exception()))
