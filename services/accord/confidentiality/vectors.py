"""Test vectors a partner decrypts: fixed test keys, one sealed CWK, encrypted bodies.

    python -m accord.confidentiality.vectors > examples/interop/hpke-go/testdata/vectors.json

HPKE and the body nonces are randomised, so vectors are generated once and checked
in; ``check_vectors`` (Python) and ``hpke-go vectors`` (Go) both decrypt them. The
recipient's key is the X-Wing seed below: a *test* key, published on purpose.
Signatures (key announcements, envelopes) are the envelope vectors' business; these
cover the confidentiality layers: HPKE ``info``, the sealed CWK, the content key
derivation, the AAD and AES-256-GCM.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from accord.confidentiality.body import (
    EncryptedBody,
    aad_digest,
    content_key,
    decrypt_body,
    encrypt_body,
)
from accord.confidentiality.errors import Undecryptable
from accord.confidentiality.keys import KEM_ID, SUITE, SUITE_NAME, EncryptionKeyPair
from accord.confidentiality.wrap import Cwk, cwk_info

__all__ = ["check_vectors", "make_vectors"]

RECIPIENT_SEED = bytes.fromhex("a0" * 16 + "0b" * 16)
SENDER_SEED = bytes.fromhex("5e" * 32)
_MESSAGES = [
    (
        "strategic assessment",
        b'{"scope":"bilateral","area":"strategic-assessments"}',
        b'{"classification":"SECRET","releasable_to":["JPN","AUS"]}',
        "評価: maritime activity increased".encode(),
    ),
    ("empty body", b'{"h":1}', b'{"l":1}', b""),
]


def make_vectors() -> dict[str, Any]:
    recipient = EncryptionKeyPair.from_seed(RECIPIENT_SEED)
    sender = EncryptionKeyPair.from_seed(SENDER_SEED)
    pairs = tuple(sorted((("AUS.DFAT", recipient.ekid), ("JPN.MOFA", sender.ekid))))
    cwk = Cwk(os.urandom(16), "JPN.MOFA", pairs, datetime(2030, 1, 1, tzinfo=UTC), os.urandom(32))
    info = cwk_info(cwk.sender, cwk.cwk_id, cwk.not_after, cwk.recipients, recipient.ekid)
    messages = []
    for name, header, label, plaintext in _MESSAGES:
        mid = uuid.uuid4()
        messages.append(
            {
                "name": name,
                "message_id": mid.bytes.hex(),
                "header": header.hex(),
                "label": label.hex(),
                "aad": aad_digest(header, label).hex(),
                "content_key": content_key(cwk, mid).hex(),
                "body": encrypt_body(
                    cwk, mid, header=header, label=label, plaintext=plaintext
                ).hex(),
                "plaintext": plaintext.hex(),
            }
        )
    return {
        "suite": SUITE_NAME,
        "kem_id": KEM_ID,
        "recipient": {
            "agency": "AUS.DFAT",
            "seed": RECIPIENT_SEED.hex(),
            "public_key": recipient.public.data.hex(),
            "ekid": recipient.ekid,
        },
        "cwk": {
            "sender": cwk.sender,
            "cwk_id": cwk.cwk_id.hex(),
            "not_after": "2030-01-01T00:00:00Z",
            "recipients": [list(p) for p in pairs],
            "info": info.hex(),
            "sealed": SUITE.encrypt(cwk.key, recipient.public.hpke_key(), info=info).hex(),
            "key": cwk.key.hex(),
        },
        "messages": messages,
    }


def _same(got: object, want: object, what: str) -> None:
    # Not `assert`: this check must also run under python -O.
    if got != want:
        raise AssertionError(f"{what} differs from the vector")


def check_vectors(vectors: dict[str, Any]) -> int:
    """Decrypt every vector and compare each intermediate; AssertionError on a mismatch.

    Returns the number of messages checked. Also checks that a swapped label fails.
    """
    r = vectors["recipient"]
    key = EncryptionKeyPair.from_seed(bytes.fromhex(r["seed"]))
    _same(key.public.data.hex(), r["public_key"], "public key")
    _same(key.ekid, r["ekid"], "ekid")
    c = vectors["cwk"]
    not_after = datetime.fromisoformat(c["not_after"].replace("Z", "+00:00"))
    pairs = tuple((a, e) for a, e in c["recipients"])
    info = cwk_info(c["sender"], bytes.fromhex(c["cwk_id"]), not_after, pairs, key.ekid)
    _same(info.hex(), c["info"], "HPKE info")
    secret = SUITE.decrypt(bytes.fromhex(c["sealed"]), key.hpke_key(), info=info)
    _same(secret.hex(), c["key"], "CWK")
    cwk = Cwk(bytes.fromhex(c["cwk_id"]), c["sender"], pairs, not_after, secret)
    for m in vectors["messages"]:
        mid = uuid.UUID(bytes=bytes.fromhex(m["message_id"]))
        header, label = bytes.fromhex(m["header"]), bytes.fromhex(m["label"])
        _same(aad_digest(header, label).hex(), m["aad"], f"{m['name']}: AAD")
        _same(content_key(cwk, mid).hex(), m["content_key"], f"{m['name']}: content key")
        body = EncryptedBody.from_bytes(bytes.fromhex(m["body"]))
        plain = decrypt_body(cwk, mid, header=header, label=label, body=body)
        _same(plain.hex(), m["plaintext"], f"{m['name']}: plaintext")
        try:
            decrypt_body(cwk, mid, header=header, label=header, body=body)
        except Undecryptable:
            pass
        else:
            raise AssertionError(f"{m['name']}: a swapped label decrypted")
    return len(vectors["messages"])


if __name__ == "__main__":
    json.dump(make_vectors(), sys.stdout, indent=1)
    sys.stdout.write("\n")
