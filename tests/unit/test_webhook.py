"""The webhook hand-over: where a message may go, redirects, and closing (real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from _accord_pki import pki, sealed
from aiohttp import web

from accord.envelope import Verified, verify
from accord.errors import ConfigError
from accord.receiver.webhook import WebhookHandler, check_webhook_url


def _verified() -> Verified:
    raw, header = sealed()
    verdict = verify(raw, pki().trust_store(), topic=header.topic)
    assert isinstance(verdict, Verified), verdict
    return verdict


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server: /in takes a POST, /redirect answers 307 to /in."""
    hits: list[str] = []

    async def take(request: web.Request) -> web.Response:
        hits.append(request.path)
        await request.read()
        return web.Response(status=204)

    async def redirect(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect("/in")

    app = web.Application()
    app.router.add_post("/in", take)
    app.router.add_post("/redirect", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def test_a_redirect_is_a_failure_never_followed(server: tuple[str, list[str]]) -> None:
    base, hits = server
    handler = WebhookHandler(f"{base}/redirect")
    try:
        with pytest.raises(aiohttp.ClientResponseError) as err:
            await handler(_verified())
        assert err.value.status == 307
        assert hits == ["/redirect"]  # the message was not re-POSTed to /in
    finally:
        await handler.aclose()


async def test_the_session_is_closed_on_aclose(server: tuple[str, list[str]]) -> None:
    base, hits = server
    handler = WebhookHandler(f"{base}/in")
    await handler(_verified())
    session = handler._session
    assert session is not None
    assert not session.closed
    await handler.aclose()
    assert session.closed
    assert hits == ["/in"]


@pytest.mark.parametrize("url", [
    "http://192.0.2.10/in",          # plain http off the machine
    "http://agency.example/in",
    "ftp://127.0.0.1/in",
    "file:///etc/passwd",
    "https://user:pw@agency.example/in",
    "/relative",
])
def test_where_a_message_may_not_go(url: str) -> None:
    with pytest.raises(ConfigError):
        check_webhook_url(url)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/in", "http://[::1]:8080/in", "http://localhost/in",
    "https://agency.example/accord",
])
def test_where_a_message_may_go(url: str) -> None:
    assert check_webhook_url(url) == url
