"""Issue 9 item 4: a hostile record's cost before the signature is bounded.

Costly 1 MiB shapes (deep nesting, long lists, many members) are refused by the
bounded pre-scan without the general JSON parser ever seeing them; the figures
(each shape against a valid message) come from `python -m accord.conformance.cost`
and the hostile soak, not from a timed test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from accord.envelope import MAX_BYTES, Rejected, jws, verify
from accord.errors import ReasonCode
from accord.trust import TrustStore

MIB = MAX_BYTES - 64

SHAPES = {
    "deep-brackets": b"[" * MIB,
    "list-of-empty-lists": b"[" + b"[]," * (MIB // 3) + b"[]]",
    "list-of-empty-objects": b"[" + b"{}," * (MIB // 3) + b"{}]",
    "many-members": b"{" + b",".join(b'"k%d":0' % i for i in range(MIB // 12)) + b"}",
    "payload-then-members": b'{"payload":"", "signatures":[],' + b'"a":1,' * (MIB // 7) + b'"z":1}',
}


class CountingDecoder:
    def __init__(self, real: json.JSONDecoder) -> None:
        self.real = real
        self.calls = 0

    def decode(self, text: str) -> Any:
        self.calls += 1
        return self.real.decode(text)

    def raw_decode(self, text: str, index: int = 0) -> tuple[Any, int]:
        self.calls += 1
        return self.real.raw_decode(text, index)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_costly_shape_is_refused_before_any_general_parse(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = CountingDecoder(jws._DECODER)
    monkeypatch.setattr(jws, "_DECODER", decoder)
    verdict = verify(SHAPES[shape], TrustStore(), now=datetime.now(UTC))
    assert isinstance(verdict, Rejected)
    assert verdict.reason is ReasonCode.MALFORMED
    assert decoder.calls == 0, "the general JSON parser read a record the pre-scan should refuse"
    assert not verdict.detail.startswith("internal error"), verdict.detail


def test_the_counting_decoder_sees_a_record_that_passes_the_pre_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The control: a small record of the right shape does reach the parser, so the
    # counter above can fail.
    decoder = CountingDecoder(jws._DECODER)
    monkeypatch.setattr(jws, "_DECODER", decoder)
    verify(
        b'{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}',
        TrustStore(),
        now=datetime.now(UTC),
    )
    assert decoder.calls >= 1
