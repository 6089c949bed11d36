"""The per-process operations endpoint: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` is liveness: 200 while the process's loop is alive (an orchestrator
restarts the process when it fails). ``/readyz`` is readiness: 200 only while the
node says it is ready (``Receiver.ready``: assigned partitions, reached the broker
within its stall timeout, not recovering, not stopping); the server asks the node
at each request and keeps no state of its own. docs/ops.md has the details.

The address is loopback unless configured (``ACCORD_METRICS_HOST``): in a
container it must be the container's interface for Prometheus to scrape it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class _HasRegistry(Protocol):
    @property
    def registry(self) -> CollectorRegistry: ...


def _always() -> bool:
    return True


class OpsServer:
    """Serves a node's (or the monitor's) metrics and probes."""

    def __init__(
        self,
        metrics: _HasRegistry,
        *,
        healthy: Callable[[], bool] = _always,
        ready: Callable[[], bool] = _always,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._metrics = metrics
        self._healthy = healthy
        self._ready = ready
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._probe(self._healthy))
        app.router.add_get("/readyz", self._probe(self._ready))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve_metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @staticmethod
    def _probe(check: Callable[[], bool]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_request: web.Request) -> web.Response:
            ok = check()
            return web.json_response({"ok": ok}, status=200 if ok else 503)

        return handler
