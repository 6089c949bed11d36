"""accord's own verifier behind the conformance line protocol (schemas/CONFORMANCE.md).

Run as ``python -m accord.conformance.reference``: one JSON request per line on stdin,
one JSON verdict per line on stdout, flushed after each line. ``accord conformance
--verifier 'python -m accord.conformance.reference'`` must agree with every vector.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from accord.confidentiality.errors import NotARecipient
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.keys import EncryptionKeyPair
from accord.confidentiality.recipients import may_read, narrow
from accord.conformance import rules
from accord.envelope import MAX_BYTES, Rejected, Verified, verify
from accord.envelope.batch import RootCache
from accord.envelope.jws import Sealed
from accord.envelope.v2 import open_sealed, verify_sealed
from accord.errors import AccordError, ReasonCode, Refused
from accord.trust import TrustStore

__all__ = ["answer", "serve"]


def answer(
    request: dict[str, Any],
    stores: dict[tuple[str, tuple[str, ...]], TrustStore],
    roots: RootCache | None = None,
) -> dict[str, Any]:
    """The response to one request (a verifier may cache trust per bundle and roots).

    ``roots``: batch roots verified by earlier requests (SPEC 12.4), as a receiving
    node keeps them; verdicts must not depend on it."""
    key = (str(request["bundle"]), tuple(request["roots"]))
    store = stores.get(key)
    if store is None:
        store = stores[key] = TrustStore.from_bundle(Path(key[0]), roots=key[1])
    raw = base64.b64decode(request["envelope"], validate=True)
    now = datetime.fromisoformat(request["now"])
    max_bytes = int(request.get("max_bytes", MAX_BYTES))
    decrypt = request.get("decrypt")
    body: bytes | None = None
    if decrypt is None:  # protocol v1: a node without encryption keys
        verdict = verify(
            raw, store, topic=request["topic"], now=now, max_bytes=max_bytes, roots=roots
        )
    else:
        verdict, body = _decrypting(raw, store, request["topic"], now, max_bytes, decrypt, roots)
    if isinstance(verdict, Verified):
        response: dict[str, Any] = {"id": request["id"], "verdict": "accept"}
        if body is not None:
            response["plaintext_sha256"] = hashlib.sha256(body).hexdigest()
        return response
    return {
        "id": request["id"],
        "verdict": "reject",
        "reason": verdict.reason.value,
        "rule": verdict.rule,
        "detail": verdict.detail,
    }


def _decrypting(
    raw: bytes,
    store: TrustStore,
    topic: str,
    now: datetime,
    max_bytes: int,
    decrypt: dict[str, Any],
    roots: RootCache | None = None,
) -> tuple[Verified | Rejected, bytes | None]:
    """A decrypting node (SPEC 11): open the announcements, verify, then ENC-04, ENC-09,
    ENC-05..08.

    Returns the verdict and, for an opened v2 record, the decrypted body's bytes."""
    agency = str(decrypt["agency"])
    keyring = Keyring(
        agency,
        [EncryptionKeyPair.from_seed(base64.b64decode(k, validate=True)) for k in decrypt["keys"]],
    )
    for announcement in decrypt.get("announcements", []):
        # NotARecipient is remembered: a record under that CWK is not-a-recipient (ENC-05)
        with contextlib.suppress(NotARecipient):
            keyring.open(base64.b64decode(announcement, validate=True), store, now=now)
    verdict = verify_sealed(raw, store, topic=topic, now=now, max_bytes=max_bytes, roots=roots)
    if isinstance(verdict, Rejected):
        return verdict, None
    if (
        isinstance(verdict, Verified)
        and decrypt.get("encryption_required")
        and verdict.header.type != "accord.receipt.v1"
        and rules.enabled("ENC-04")
    ):
        return Rejected(
            ReasonCode.PLAINTEXT_REFUSED,
            "plaintext body where the plan requires encryption",
            "ENC-04",
        ), None
    sender = verdict.header.sender
    if rules.enabled("ENC-09") and not may_read(verdict.label, sender=sender, agency=agency):
        reason = ReasonCode.NOT_A_RECIPIENT
        return Rejected(reason, f"need-to-know leaves out {agency}", "ENC-09"), None
    if isinstance(verdict, Verified):
        return verdict, None
    assert isinstance(verdict, Sealed)
    entitled = decrypt.get("entitled")
    if entitled is not None:
        entitled = narrow(entitled, sender=sender, need_to_know=verdict.label.need_to_know)
    try:
        opened = open_sealed(verdict, keyring, entitled=entitled)
    except Refused as refused:
        return Rejected(refused.reason, refused.message, refused.rule), None
    # open_sealed gives {"header":H,"label":L,"body":B} with the exact H and L: B is
    # the decrypted bytes, what plaintext_sha256 covers.
    head = b'{"header":' + verdict.header_bytes + b',"label":' + verdict.label_bytes + b',"body":'
    assert opened.plaintext is not None
    assert opened.plaintext.startswith(head)
    return opened, opened.plaintext[len(head) : -1]


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    stores: dict[tuple[str, tuple[str, ...]], TrustStore] = {}
    # One cache for the run, as a receiving node keeps one: a root verified for one
    # vector is not verified again for the next (SPEC 12.4).
    roots = RootCache()
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            response = answer(request, stores, roots)
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
