"""Issue 9 item 4: a hostile record's cost before the signature is bounded.

Costly 1 MiB shapes (deep nesting, long lists, many members) are refused by the
bounded pre-scan without the general JSON parser ever seeing them; the figures
(each shape against a valid message) come from `python -m accord.conformance.cost`
and the hostile soak, not from a timed test.
"""

from __future__ import annotations

from collections.abc import Callable
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


class CountingReaders:
    """Counts calls of the general JSON readers: the two behind ``_strict_json``
    (jiter's and the json module's) and the json module's decoder the v2 reader uses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._decoder = jws._DECODER
        monkeypatch.setattr(jws, "_DECODER", self)
        for name in ("_fast_json", "_exact_json"):
            monkeypatch.setattr(jws, name, self._counted(getattr(jws, name)))

    def raw_decode(self, text: str, index: int = 0) -> tuple[Any, int]:
        self.calls += 1
        return self._decoder.raw_decode(text, index)

    def _counted(self, reader: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            self.calls += 1
            return reader(*args)

        return counted


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_costly_shape_is_refused_before_any_general_parse(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = CountingReaders(monkeypatch)
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
    decoder = CountingReaders(monkeypatch)
    verify(
        b'{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}',
        TrustStore(),
        now=datetime.now(UTC),
    )
    assert decoder.calls >= 1
