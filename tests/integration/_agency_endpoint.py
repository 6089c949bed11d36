"""A real agency system on 127.0.0.1 for handover tests.

It verifies every request with the Standard Webhooks reference implementation
(the ``standardwebhooks`` package), records what it took, and answers as a
script says: ``500``, ``slow`` (takes the message, then answers after the
node's timeout: the node must send it again, with the same webhook-id),
``redirect`` (a 307 the node must not follow) or ``ok``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class AgencyEndpoint:
    def __init__(
        self, secret: str, script: list[str] | None = None, *, slow_s: float = 2.0
    ) -> None:
        self._webhook = Webhook(secret)
        self.script: deque[str] = deque(script or ())
        self.slow_s = slow_s
        self.taken: list[tuple[str, dict[str, Any]]] = []
        """(webhook-id, data) of every request the endpoint accepted."""
        self.answers: list[str] = []
        self.traceparents: dict[str, str] = {}
        """message_id -> the ``traceparent`` header of the request that took it."""
        self.bad_signatures = 0
        self.redirect_followed = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/accord/inbound"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/accord/inbound", self._inbound)
        app.router.add_post("/elsewhere", self._elsewhere)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _inbound(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self._webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=400)
        action = self.script.popleft() if self.script else "ok"
        self.answers.append(action)
        if action == "500":
            return web.Response(status=500)
        if action == "redirect":
            raise web.HTTPTemporaryRedirect("/elsewhere")
        data = json.loads(body)["data"]
        self.taken.append((request.headers["webhook-id"], data))
        self.traceparents[data["message_id"]] = request.headers.get("traceparent", "")
        if action == "slow":
            await asyncio.sleep(self.slow_s)
        return web.Response(status=204)

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.redirect_followed += 1
        return web.Response(status=204)

    def message_ids(self) -> set[str]:
        return {data["message_id"] for _, data in self.taken}

    def copies(self) -> Counter[str]:
        return Counter(data["message_id"] for _, data in self.taken)

    async def wait_for(self, message_ids: set[str], *, within_s: float = 60.0) -> bool:
        """Until the endpoint has taken every one of ``message_ids`` (a bound, not a
        figure: the test asserts what was taken, not how fast)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            if message_ids <= self.message_ids():
                return True
            await asyncio.sleep(0.1)
        return False
