"""A handler that hands each delivered message to an agency system over HTTP.

The example of the handler hook: POST the verified message as JSON. The inbox is
already durable when this runs, so a failed POST is logged, never fatal; the
agency system can reconcile against the inbox.
"""

from __future__ import annotations

import aiohttp

from accord.envelope import Verified
from accord.receiver.service import Handler


def message_json(v: Verified) -> dict[str, object]:
    return {
        "header": v.header.model_dump(mode="json"),
        "label": v.label.model_dump(mode="json"),
        "body": v.body.model_dump(mode="json"),
        "signers": list(v.signers),
        "payload_sha256": v.payload_sha256,
    }


def webhook_handler(url: str, *, timeout_s: float = 5.0) -> Handler:
    session: aiohttp.ClientSession | None = None

    async def post(v: Verified) -> None:
        nonlocal session
        if session is None or session.closed:
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
        async with session.post(url, json=message_json(v)) as response:
            response.raise_for_status()

    return post
