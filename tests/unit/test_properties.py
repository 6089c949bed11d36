"""Hostile bytes: any mutation of a sealed envelope is rejected, and verify never raises.

A mutation may still verify only if the signed bytes are unchanged: JWS signs the
base64url text of the protected header and payload, so the only harmless mutations
are in the unsigned outer JSON (for example whitespace between tokens). The property
is therefore: a Verified result carries exactly the original payload and signers.
"""

from __future__ import annotations

import functools

from _accord_pki import pki, sealed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.envelope import Rejected, Verified, verify
from accord.trust import TrustStore


@functools.cache
def original() -> tuple[bytes, Verified, TrustStore]:
    envelope, header = sealed()
    store = pki().trust_store()
    verdict = verify(envelope, store, topic=header.topic)
    assert isinstance(verdict, Verified)
    return envelope, verdict, store


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(original()[0])
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
    pos = draw(st.integers(0, len(raw) - 1))
    if kind == "flip":
        raw[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del raw[pos:]
    elif kind == "insert":
        raw[pos:pos] = draw(st.binary(min_size=1, max_size=4))
    elif kind == "delete":
        del raw[pos : pos + draw(st.integers(1, 8))]
    else:
        raw[pos] = draw(st.integers(0, 255))
    return bytes(raw)


def check(raw: bytes) -> None:
    envelope, good, store = original()
    verdict = verify(raw, store, topic=good.header.topic)
    if isinstance(verdict, Verified):
        assert verdict.payload == good.payload
        assert verdict.signers == good.signers
        assert verdict.header == good.header
    else:
        assert isinstance(verdict, Rejected)
        assert not verdict.detail.startswith("internal error"), verdict.detail
        assert raw != envelope


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_are_rejected_unless_signed_bytes_unchanged(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["payload", "signatures", "protected", "signature", "header", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_random_json_never_raises(value: object) -> None:
    import json

    check(json.dumps(value).encode())


def test_whitespace_in_outer_json_is_harmless() -> None:
    envelope, good, store = original()
    spaced = envelope.replace(b'","', b'" ,\n "').replace(b'{"', b'{ "')
    verdict = verify(spaced, store)
    assert isinstance(verdict, Verified)
    assert verdict.payload == good.payload
