"""Where and how a node hands messages over: the endpoint and the retry policy."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from accord.errors import ConfigError
from accord.handover.signing import parse_secret


@dataclass(frozen=True)
class HandoverPolicy:
    """How hard the dispatcher tries. Defaults suit an agency system that may be
    down for maintenance for hours: retries back off to ``backoff_max_s`` and a
    message is parked as dead only after ``dead_after_s`` (a day)."""

    concurrency: int = 4
    timeout_s: float = 5.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    dead_after_s: float = 86_400.0
    min_attempts: int = 3
    """A row is parked only after this many tries too: a node that was itself down
    longer than ``dead_after_s`` still tries what it landed before giving up."""
    poll_s: float = 1.0
    """How often the outbox is looked at when nothing wakes the dispatcher."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    key: bytes = field(repr=False)
    """The Standard Webhooks secret's bytes; never logged."""
    policy: HandoverPolicy = HandoverPolicy()


def check_url(url: str) -> str:
    """Refuse what would leak messages: https is required unless the host is loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"webhook URL {url!r} is not an http(s) URL",
            hint="e.g. https://agency.example/accord or http://127.0.0.1:8080/in",
        )
    if parts.username or parts.password:
        raise ConfigError(
            "the webhook URL carries credentials",
            hint="authentication is the webhook signature; drop user:pass@",
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(
            f"plain http to {parts.hostname} would send messages in clear",
            hint="use https, or http only to a loopback address",
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_endpoint(
    url: str,
    secret_env: str | None,
    *,
    policy: HandoverPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """An endpoint from its URL and the name of the variable holding its secret."""
    source = os.environ if env is None else env
    if not secret_env:
        raise ConfigError(
            "a webhook needs a signing secret",
            hint="pass --webhook-secret-env VAR, VAR holding a whsec_ secret "
            "(`accord handover secret` makes one)",
        )
    secret = source.get(secret_env)
    if not secret:
        raise ConfigError(
            f"${secret_env} is not set", hint="export it with the endpoint's whsec_ secret"
        )
    return Endpoint(check_url(url), parse_secret(secret), policy or HandoverPolicy())
