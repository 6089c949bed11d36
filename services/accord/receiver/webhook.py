"""A handler that hands each delivered message to an agency system over HTTP.

The example of the handler hook: POST the verified message as JSON. The inbox is
already durable when this runs, so a failed POST is logged, never fatal; the
agency system can reconcile against the inbox.

The message is the agency's data, so where it may go is fixed when the handler is
built: https anywhere, plain http only to a loopback host (the agency system on
the same machine), and redirects are never followed (a 307/308 would re-POST the
whole message to whatever host or scheme the reply names). A redirect is a failed
hand-over, like any status >= 300.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import aiohttp

from accord.envelope import Verified
from accord.errors import ConfigError


def message_json(v: Verified) -> dict[str, object]:
    return {
        "header": v.header.model_dump(mode="json"),
        "label": v.label.model_dump(mode="json"),
        "body": v.body.model_dump(mode="json"),
        "signers": list(v.signers),
        "payload_sha256": v.payload_sha256,
    }


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """``url`` if a message may be sent there, else ConfigError."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"webhook URL {url[:200]!r} is not an http(s) URL",
                          hint="e.g. https://agency.example/accord or http://127.0.0.1:8080/in")
    if parts.username or parts.password:
        raise ConfigError("webhook URL must not carry credentials",
                          hint="credentials in a URL end up in logs; use a loopback endpoint")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(f"plain http to {host} would send messages unencrypted",
                          hint="use https, or an http endpoint on a loopback address")
    return url


class WebhookHandler:
    """POSTs each delivered message to one URL; :meth:`aclose` on the node's stop."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = check_webhook_url(url)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, v: Verified) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(self.url, json=message_json(v),
                                      allow_redirects=False) as response:
            if response.status >= 300:
                raise aiohttp.ClientResponseError(
                    response.request_info, response.history, status=response.status,
                    message=f"webhook answered {response.status}; redirects are not followed",
                )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def webhook_handler(url: str, *, timeout_s: float = 5.0) -> WebhookHandler:
    return WebhookHandler(url, timeout_s=timeout_s)
