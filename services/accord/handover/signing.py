"""Standard Webhooks signatures (https://www.standardwebhooks.com/, spec v1).

The agency system verifies each request with the reference algorithm of its own
language: ``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(secret,
"{webhook-id}.{webhook-timestamp}.{body}")), the secret being the bytes of a
``whsec_<base64>`` string. HMAC-SHA256 is the only scheme: nothing to negotiate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from accord.errors import ConfigError

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
_MIN_SECRET_BYTES = 24
"""The spec asks for 24 to 64 random bytes."""
_MAX_SECRET_BYTES = 64


def parse_secret(text: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; refuses weak or malformed ones."""
    if not text.startswith(SECRET_PREFIX):
        raise ConfigError(
            "the webhook secret does not start with whsec_",
            hint="generate one with `accord handover secret`",
        )
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ConfigError(
            "the webhook secret is not valid base64 after whsec_",
            hint="generate one with `accord handover secret`",
        ) from None
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise ConfigError(
            f"the webhook secret holds {len(key)} bytes; Standard Webhooks asks for 24 to 64",
            hint="generate one with `accord handover secret`",
        )
    return key


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes."""
    import secrets

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one request."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    mac = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def signed_headers(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers plus the content type."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, webhook_id, timestamp, body),
    }


def webhook_id(sender: str, message_id: str) -> str:
    """Stable per message, whatever the inbox or the attempt: the agency system
    dedupes on it. Derived from (sender, message_id), the message's identity."""
    digest = hashlib.sha256(f"{sender}\n{message_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"
