"""accord's own verifier behind the conformance line protocol (schemas/CONFORMANCE.md).

Run as ``python -m accord.conformance.reference``: one JSON request per line on stdin,
one JSON verdict per line on stdout, flushed after each line. ``accord conformance
--verifier 'python -m accord.conformance.reference'`` must agree with every vector.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from accord.envelope import MAX_BYTES, Verified, verify
from accord.errors import AccordError
from accord.trust import TrustStore

__all__ = ["answer", "serve"]


def answer(request: dict[str, Any], stores: dict[tuple[str, tuple[str, ...]], TrustStore]
           ) -> dict[str, Any]:
    """The response to one request (a verifier may cache trust per bundle and roots)."""
    key = (str(request["bundle"]), tuple(request["roots"]))
    store = stores.get(key)
    if store is None:
        store = stores[key] = TrustStore.from_bundle(Path(key[0]), roots=key[1])
    raw = base64.b64decode(request["envelope"], validate=True)
    verdict = verify(raw, store, topic=request["topic"],
                     now=datetime.fromisoformat(request["now"]),
                     max_bytes=int(request.get("max_bytes", MAX_BYTES)))
    if isinstance(verdict, Verified):
        return {"id": request["id"], "verdict": "accept"}
    return {"id": request["id"], "verdict": "reject", "reason": verdict.reason.value,
            "rule": verdict.rule, "detail": verdict.detail}


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    stores: dict[tuple[str, tuple[str, ...]], TrustStore] = {}
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            response = answer(request, stores)
        except (ValueError, KeyError, TypeError, binascii.Error, AccordError) as exc:
            # A bad request is the runner's bug, not a verdict: say so on stderr and in
            # the response (the runner reports it as an error).
            print(f"error: bad request: {exc}", file=sys.stderr)
            rid = request.get("id") if isinstance(locals().get("request"), dict) else None
            response = {"id": rid, "error": str(exc)[:300]}
        stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    # stdout carries the protocol alone: every log line goes to stderr.
    from accord.observability.logs import configure_logging

    configure_logging("WARNING", stream=sys.stderr)
    sys.exit(serve(sys.stdin, sys.stdout))
