"""One agency's node inside a Python program: its publisher and its receiver.

The Python API's entry point. ``Node.open("JPN.MOFA")`` resolves the node's settings
the way ``accord receive`` does (arguments, then ``ACCORD_*`` variables, then
defaults), opens its plan, trust store and signing key, and ``async with`` runs the
publisher and (unless ``receive=False``) the receiver loop in the current event loop.
``accord node`` is this plus the HTTP API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from accord.areas import Area
from accord.config import load_node_settings
from accord.handover import Endpoint
from accord.labels import Label
from accord.models import MessageBody
from accord.node.context import NodeContext, open_node
from accord.observability.logs import get_logger
from accord.parties import Scope
from accord.publisher import Publisher, PublishResult
from accord.publisher.document import build_message
from accord.receiver import Handler, Inbox, Receiver

__all__ = ["Node"]

log = get_logger(__name__)


class Node:
    """One agency's node, in process. Use as ``async with``.

    ``handler`` is called once per newly landed message (an
    :class:`accord.envelope.Verified`), after the durable inbox write; ``handover``
    hands each landed message to an agency system's webhook, signed and retried.
    """

    def __init__(
        self,
        context: NodeContext,
        *,
        handler: Handler | None = None,
        handover: Endpoint | None = None,
        receive: bool = True,
    ) -> None:
        self.context = context
        settings = context.settings
        self.publisher = Publisher(
            agency=context.agency,
            connection=settings.kafka,
            plan=context.plan,
            signer=context.signer,
            state_path=settings.publisher_state_path,
            encryption=context.encryption(),
        )
        self.receiver: Receiver | None = None
        if receive:
            self.receiver = Receiver(
                agency=context.agency,
                connection=settings.kafka,
                plan=context.plan,
                trust=context.trust,
                signer=context.signer,
                inbox_path=settings.inbox_path,
                handler=handler,
                handover=handover,
                metrics=None,
                settings=settings.receiver,
                keys=context.keys,
            )
        self._run: asyncio.Task[None] | None = None

    @classmethod
    def open(
        cls,
        agency: str,
        *,
        handler: Handler | None = None,
        handover: Endpoint | None = None,
        receive: bool = True,
        **settings: Any,
    ) -> Node:
        """Open ``agency``'s node from its settings; ``settings`` are
        :func:`accord.config.load_node_settings` arguments (``plan_path``, ``pki_dir``,
        ``data_dir``, ``kafka``, ``receiver``, …), the rest from ``ACCORD_*``."""
        return cls(
            open_node(load_node_settings(agency, **settings)),
            handler=handler,
            handover=handover,
            receive=receive,
        )

    @property
    def agency(self) -> str:
        return self.context.agency

    @property
    def inbox(self) -> Inbox:
        """Where this node lands what it receives (needs ``receive=True``)."""
        if self.receiver is None:
            raise RuntimeError("this node was opened with receive=False: it has no inbox")
        return self.receiver.inbox

    async def start(self) -> None:
        await self.publisher.start()
        if self.receiver is not None:
            try:
                await self.receiver.start()
            except BaseException:
                await self.publisher.stop()
                raise
            self._run = asyncio.create_task(self.receiver.run(), name=f"node-{self.agency}")

    async def stop(self) -> None:
        """Stop receiving, then flush and close the publisher; bounded like each part."""
        if self.receiver is not None:
            self.receiver.request_stop()
            if self._run is not None:
                done, _ = await asyncio.wait({self._run}, timeout=15)
                if not done:
                    self._run.cancel()
                    log.error("node.receiver_stop_stuck", agency=self.agency)
                self._run = None
            await self.receiver.stop()
        await self.publisher.stop()

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def publish(
        self,
        body: MessageBody,
        *,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None = None,
    ) -> PublishResult:
        """Sign and publish one message; returns where the broker put it."""
        return await self.publisher.publish(
            body, scope=scope, area=area, label=label, correlation_id=correlation_id
        )

    async def publish_document(self, document: Mapping[str, Any]) -> PublishResult:
        """Publish a message document (``type``, ``scope``, ``area``, ``label``, ``body``),
        as ``accord publish`` and the HTTP API take it; label defaults filled in."""
        body, scope, area, label = build_message(document, self.agency)
        return await self.publish(body, scope=scope, area=area, label=label)

    async def release(self, message_id: str, *, label: Label | None = None) -> PublishResult:
        """Release one of this agency's bilateral messages to the trilateral scope."""
        return await self.publisher.release_trilateral(message_id, self.context.trust, label=label)
