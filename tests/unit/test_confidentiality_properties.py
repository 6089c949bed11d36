"""Hostile bytes against the confidentiality parsers: they refuse, never crash.

Any mutation of a key announcement, a key statement or an encrypted body either
leaves the meaning intact (it opens to the same key or plaintext) or is refused with
a stable reason code; nothing else escapes (no ValueError, no binascii.Error, no
pydantic error).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from _accord_pki import pki
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.confidentiality import (
    Cwk,
    EncryptedBody,
    EncryptionKeyPair,
    KeyDirectory,
    Recipient,
    decrypt_body,
    encrypt_body,
    open_announcement,
    seal_cwk,
    sign_key_statement,
)
from accord.errors import Refused
from accord.trust import TrustStore

T = TypeVar("T")
MID = uuid.UUID(int=7)
KEYS = {a: EncryptionKeyPair.generate() for a in ("JPN.MOFA", "AUS.DFAT")}


@functools.cache
def trust() -> TrustStore:
    return pki().trust_store()


@functools.cache
def material() -> tuple[Cwk, bytes, bytes, bytes]:
    cwk, announcement = seal_cwk(
        pki().signer("JPN.MOFA"), [Recipient(a, k.public) for a, k in KEYS.items()]
    )
    statement = sign_key_statement(pki().signer("AUS.DFAT"), KEYS["AUS.DFAT"].public)
    body = encrypt_body(cwk, MID, header=b"h", label=b"l", plaintext=b"the body")
    return cwk, announcement, statement, body


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(fn: Callable[[], T]) -> T | str:
    """The result, or the code of the refusal (anything else escapes and fails)."""
    try:
        return fn()
    except Refused as refused:
        return refused.code


REASONS = {
    "malformed",
    "oversized",
    "bad-signature",
    "unknown-key",
    "schema-invalid",
    "unsupported-alg",
    "undecryptable",
    "not-a-recipient",
    "sender-mismatch",
}


@SETTINGS
@given(st.data())
def test_a_mutated_announcement_opens_to_the_same_cwk_or_is_refused(data: st.DataObject) -> None:
    cwk, announcement, _, _ = material()
    raw = data.draw(mutated(announcement))
    got = outcome(
        lambda: open_announcement(
            raw, trust(), "AUS.DFAT", [KEYS["AUS.DFAT"]], now=datetime.now(UTC)
        )
    )
    assert got == cwk or got in REASONS


@SETTINGS
@given(st.data())
def test_a_mutated_key_statement_is_refused_or_means_the_same(data: st.DataObject) -> None:
    _, _, statement, _ = material()
    raw = data.draw(mutated(statement))
    directory = KeyDirectory(trust())
    got = outcome(lambda: directory.add(raw, now=datetime.now(UTC)))
    if isinstance(got, str):
        assert got in REASONS | {"expired-cert"}
    else:
        assert directory.current("AUS.DFAT", now=datetime.now(UTC)) == KEYS["AUS.DFAT"].public


@SETTINGS
@given(st.data())
def test_a_mutated_body_is_undecryptable(data: st.DataObject) -> None:
    cwk, _, _, body = material()
    raw = data.draw(mutated(body))
    got = outcome(
        lambda: decrypt_body(cwk, MID, header=b"h", label=b"l", body=EncryptedBody.from_bytes(raw))
    )
    assert got == "undecryptable" or (raw == body and got == b"the body")
