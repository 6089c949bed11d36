"""SPEC 3.1's strict JSON: the fast reader (jiter) and the exact one (the json module
with Python hooks) give the same verdict and the same value on every input.

``_strict_json`` sends text to the fast reader unless a run of number bytes could be a
number literal longer than SPEC 3.1 allows; these tests hold the two readers to each
other, so that which reader judged a record never changes what a receiver decides.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.envelope import jws
from accord.errors import ReasonCode, Refused


def _fast(data: bytes) -> tuple[str, Any]:
    try:
        shape = data.translate(jws._NUMBER_BYTES)
        assert jws._LONG_NUMBER not in shape, "a case for the exact reader only"
        return "accepted", repr(jws._fast_json(data, shape.count(b"{")))
    except (ValueError, RecursionError, UnicodeError):
        return "refused", None


def _exact(data: bytes) -> tuple[str, Any]:
    try:
        return "accepted", repr(jws._exact_json(data.decode("utf-8"), None))
    except (ValueError, RecursionError, UnicodeError):
        return "refused", None


EDGES = [
    b'{"a":1,"a":2}',
    b'{"a":1,"\\u0061":2}',
    b'{"a":{"b":1,"b":1}}',
    b'{"":1,"":2}',
    b'[{"x":1},{"x":2}]',
    b"NaN",
    b"[NaN]",
    b"[Infinity]",
    b"[-Infinity]",
    b"\xef\xbb\xbf{}",
    b"{} ",
    b" \t\r\n{}",
    b"\x0c{}",
    b"{}\x0b",
    b"\xc2\xa0{}",
    b"{}\xe2\x80\xa8",
    b"{}x",
    b"{} {}",
    b'["\\ud800"]',
    b'["\\udc00"]',
    b'["\\ud800\\u0041"]',
    b'["\\ud800\\udc00"]',
    b'"\\uD800"',
    b'["\x01"]',
    b'["\x7f"]',
    b'["\\x41"]',
    b"['a']",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[+1]",
    b"[-]",
    b"[1e400]",
    b"[-1e400]",
    b"[1E5,1e+5,1e-5,-0,-0.0]",
    b"[9007199254740993]",
    b"[4.9e-325]",
    b'["\xff"]',
    b'["\xc3"]',
    b'["\xed\xa0\x80"]',
    b"\xff",
    b"[1,]",
    b'{"a":1,}',
    b"[true,false,null]",
    b"[tru]",
    b'{"a" : 1}',
    b'["a\\/b","\\u00e9","\\n\\t\\r\\b\\f"]',
    b'"\\u0000"',
    b"[1]\x00",
    b'""',
    b"",
    b" ",
    b"[" * 32 + b"]" * 32,
    b"[" * 33 + b"]" * 33,
    b"[" + b"[]," * 40 + b"[]]",
]


@pytest.mark.parametrize("data", EDGES, ids=repr)
def test_the_two_readers_agree_on_the_edges_of_strict_json(data: bytes) -> None:
    assert _fast(data) == _exact(data)


def test_the_readers_refuse_and_accept_what_spec_3_1_says() -> None:
    accepted = {data for data in EDGES if _fast(data)[0] == "accepted"}
    assert b"[" * 32 + b"]" * 32 in accepted
    assert b"[" + b"[]," * 40 + b"[]]" in accepted  # many openings, shallow
    for refused in (b'{"a":1,"a":2}', b"[NaN]", b'["\\ud800"]', b"\xef\xbb\xbf{}", b"\x0c{}"):
        assert refused not in accepted
    assert b"[" * 33 + b"]" * 33 not in accepted


_SEEDS = [
    b'{"header":{"id":"01a2","n":-12.5e3,"t":true,"f":false,"z":null,'
    b'"s":"a\\"b\\\\c\\u00e9\\ud83d\\ude00"},"l":[1,2,{"k":[]}]}',
    b'[0,-0,1.5,2E-3,"x",{"a":{"b":[null]}}]',
    b'{"a":"\\n\\t\\r\\b\\f\\/"}',
]
_TOKENS = [
    b'"', b"\\", b"u", b"d800", b"dc00", b"{", b"}", b"[", b"]", b",", b":", b" ", b"\t",
    b"\x0c", b"\x00", b"\xff", b"\xc3\xa9", b"\xef\xbb\xbf", b"1", b"0", b"e", b"-", b"+",
    b".", b"NaN", b"Infinity", b"true", b"null", b'"a"', b"\\u0061", b'"a":1',
    b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\x7f", b"\xe2\x80\xa8",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    seed=st.sampled_from(_SEEDS),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(["insert", "delete", "replace"]),
                  st.sampled_from(_TOKENS)),
        min_size=1, max_size=3,
    ),
)  # fmt: skip
def test_the_two_readers_agree_on_mutated_documents(
    seed: bytes, edits: list[tuple[float, str, bytes]]
) -> None:
    text = bytearray(seed)
    for where, how, token in edits:
        at = int(where * len(text))
        if how == "insert":
            text[at:at] = token
        elif how == "delete":
            del text[at : at + 2]
        else:
            text[at : at + 1] = token
    data = bytes(text)
    if jws._LONG_NUMBER in data.translate(jws._NUMBER_BYTES):
        return  # the exact reader's alone (the next test)
    assert _fast(data) == _exact(data)


@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        (b"[" + b"1" * 33 + b"]", "refused"),
        (b"[-" + b"1" * 32 + b"]", "refused"),
        (b"[" + b"1" * 32 + b"]", "accepted"),
        (b"[0." + b"0" * 40 + b"1]", "refused"),
        (b'["' + b"1" * 40 + b'"]', "accepted"),  # a run in a string: the exact reader's
    ],
    ids=["33 digits", "sign and 32 digits", "32 digits", "long fraction", "digits in a string"],
)
def test_a_number_literal_longer_than_32_is_refused_by_the_exact_reader(
    data: bytes, verdict: str
) -> None:
    if verdict == "accepted":
        assert jws._strict_json(data, "payload", "ENV-24") == json.loads(data)
        return
    with pytest.raises(Refused) as refused:
        jws._strict_json(data, "payload", "ENV-24")
    assert refused.value.reason is ReasonCode.MALFORMED
    assert refused.value.rule == "ENV-24"


@settings(max_examples=1000, deadline=None)
@given(
    sign=st.sampled_from(["", "-"]),
    whole=st.from_regex(r"0|[1-9][0-9]{0,16}", fullmatch=True),
    fraction=st.from_regex(r"(\.[0-9]{1,14})?", fullmatch=True),
    exponent=st.from_regex(r"([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
def test_the_two_readers_read_every_number_literal_alike(
    sign: str, whole: str, fraction: str, exponent: str
) -> None:
    # Same value and same type (an int stays an int, -0.0 keeps its sign), as a
    # partner reading the payload with either reader would see it.
    literal = f"[{sign}{whole}{fraction}{exponent}]".encode()
    if len(literal) - 2 > 32:
        return  # the exact reader's alone (the long-number test above)
    fast, exact = _fast(literal), _exact(literal)
    assert fast == exact
    assert fast[0] == "accepted"
