"""The canonical text forms of SPEC.md 3.3 (uuid, date-time, date), read from JSON
by pydantic-core's regex engine and from Python values by ``re``: both judge alike."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import TypeAdapter, ValidationError

from accord.envelope import Header
from accord.models.types import (
    _DATE_RE,
    _DATETIME_RE,
    _UUID_RE,
    CanonicalUuid,
    Day,
    Timestamp,
)

ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "uuid": TypeAdapter(CanonicalUuid),
    "date-time": TypeAdapter(Timestamp),
    "date": TypeAdapter(Day),
}
PATTERNS = {"uuid": _UUID_RE, "date-time": _DATETIME_RE, "date": _DATE_RE}

CANONICAL = {
    "uuid": [
        ("01a234f0-e36e-7082-a29b-d6ef88a4e823", UUID("01a234f0-e36e-7082-a29b-d6ef88a4e823")),
        ("00000000-0000-0000-0000-000000000000", UUID(int=0)),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", UUID(int=2**128 - 1)),
        ("abcdef01-2345-6789-abcd-ef0123456789", UUID("abcdef01-2345-6789-abcd-ef0123456789")),
    ],
    "date-time": [
        ("2026-12-02T04:08:51.822741Z", datetime(2026, 12, 2, 4, 8, 51, 822741, tzinfo=UTC)),
        ("2024-02-29T23:59:59.1Z", datetime(2024, 2, 29, 23, 59, 59, 100000, tzinfo=UTC)),
        (
            "2026-01-15T09:00:00+09:00",
            datetime(2026, 1, 15, 9, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("0001-01-01T00:00:00-00:00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
    "date": [("2027-12-02", date(2027, 12, 2)), ("2000-02-29", date(2000, 2, 29))],
}
NOT_CANONICAL = {
    "uuid": [
        "01A234F0-E36E-7082-A29B-D6EF88A4E823",  # upper case
        "{01a234f0-e36e-7082-a29b-d6ef88a4e823}",
        "01a234f0e36e7082a29bd6ef88a4e823",  # no hyphens
        "urn:uuid:01a234f0-e36e-7082-a29b-d6ef88a4e823",
        "01a234f0-e36e-7082-a29b-d6ef88a4e823\n",  # "$" in Python's re would allow it
        "01a234f0-e36e-7082-a29b-d6ef88a4e82\uff13",  # a fullwidth digit
        "",
    ],
    "date-time": [
        "2026-12-02 04:08:51Z",  # a space for T
        "2026-12-02t04:08:51Z",
        "2026-12-02T04:08:51z",
        "2026-12-02T04:08:51",  # no offset
        "2026-12-02T04:08:51.1234567Z",  # seven fraction digits
        "2026-12-02T04:08:51+24:00",
        "2026-12-02T24:00:00Z",
        "2026-12-02T23:59:60Z",  # a leap second
        "2023-02-29T00:00:00Z",
        "2026-12-02T04:08:51Z\n",
        "\uff12026-12-02T04:08:51Z",  # a fullwidth digit
        "2026-12-02T04:08Z",
    ],
    "date": [
        "2027-12-2",
        "2027-13-01",
        "1900-02-29",  # not a leap year
        "0000-01-01",
        "2027-12-02\n",
        "20271202",
        "2027-12-02T00:00:00Z",
    ],
}


def _json(text: str) -> bytes:
    return json.dumps(text).encode()


@pytest.mark.parametrize(
    ("what", "text", "value"), [(w, t, v) for w, cases in CANONICAL.items() for t, v in cases]
)
def test_canonical_text_reads_the_same_from_json_and_from_python(
    what: str, text: str, value: object
) -> None:
    adapter = ADAPTERS[what]
    from_json = adapter.validate_json(_json(text), strict=True)
    from_python = adapter.validate_python(text, strict=True)
    assert from_json == from_python == value
    # the same kind of value as Python's own parse: datetime.timezone, not another tzinfo
    assert type(from_json) is type(value)
    if isinstance(value, datetime):
        assert type(from_json.tzinfo) is timezone
        assert from_json.utcoffset() == value.utcoffset()


@pytest.mark.parametrize(
    ("what", "text"), [(w, t) for w, texts in NOT_CANONICAL.items() for t in texts]
)
def test_other_spellings_are_refused_alike_from_json_and_from_python(what: str, text: str) -> None:
    assert PATTERNS[what].fullmatch(text) is None  # the published pattern refuses it
    for validate in (
        lambda: ADAPTERS[what].validate_json(_json(text), strict=True),
        lambda: ADAPTERS[what].validate_python(text, strict=True),
    ):
        with pytest.raises(ValidationError) as caught:
            validate()
        [error] = caught.value.errors()
        assert error["type"] == "lexical_form"
        assert error["msg"] == f"{what} is not in its canonical form"


@pytest.mark.parametrize("what", sorted(ADAPTERS))
@pytest.mark.parametrize("value", [12, None, True, [], {}])
def test_json_values_that_are_not_text_are_refused(what: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ADAPTERS[what].validate_json(json.dumps(value), strict=True)
    assert caught.value.errors()[0]["type"] == "lexical_form"


def test_python_values_go_to_the_strict_type_check() -> None:
    uid = UUID("01a234f0-e36e-7082-a29b-d6ef88a4e823")
    assert ADAPTERS["uuid"].validate_python(uid, strict=True) is uid
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValidationError) as caught:
        ADAPTERS["date-time"].validate_python(naive, strict=True)
    assert caught.value.errors()[0]["type"] == "timezone_aware"
    with pytest.raises(ValidationError):
        ADAPTERS["date"].validate_python(20271202, strict=True)


V7 = "01a234f0-e36e-7082-a29b-d6ef88a4e823"
NOT_V7 = [
    "01a234f0-e36e-4082-a29b-d6ef88a4e823",  # version 4
    "01a234f0-e36e-8082-a29b-d6ef88a4e823",  # version 8
    "01a234f0-e36e-7082-c29b-d6ef88a4e823",  # version 7, variant 110 (Microsoft)
    "01a234f0-e36e-7082-729b-d6ef88a4e823",  # version 7, variant 0 (NCS)
    "00000000-0000-0000-0000-000000000000",
]


def _header(message_id: object) -> dict[str, object]:
    return {
        "message_id": message_id,
        "type": "accord.information-report.v1",
        "sender": "JPN.MOFA",
        "issued_at": "2026-12-02T04:08:51.822741Z",
        "scope": "bilateral",
        "area": "counter-terrorism",
        "topic": "accord.bilateral.counter-terrorism",
        "sequence": 1,
    }


def test_a_message_id_of_version_7_reads_the_same_from_json_and_from_python() -> None:
    from_json = Header.model_validate_json(json.dumps(_header(V7)), strict=True).message_id
    from_python = Header.model_validate(
        Header.model_validate_json(json.dumps(_header(V7))).model_dump()
    ).message_id
    assert from_json == from_python == UUID(V7)
    assert type(from_json) is UUID
    assert from_json.version == 7


@pytest.mark.parametrize("text", NOT_V7)
def test_a_message_id_of_another_version_is_refused_alike_from_json_and_python(text: str) -> None:
    assert UUID(text).version != 7
    document = _header(text)
    as_python = {**Header.model_validate_json(json.dumps(_header(V7))).model_dump()}
    as_python["message_id"] = UUID(text)
    for validate in (
        lambda: Header.model_validate_json(json.dumps(document), strict=True),
        lambda: Header.model_validate(as_python),
    ):
        with pytest.raises(ValidationError) as caught:
            validate()
        [error] = caught.value.errors()
        assert (error["loc"], error["type"]) == (("message_id",), "uuid_v7")
        assert error["msg"] == "message_id must be a UUIDv7 (RFC 9562)"


def test_a_message_id_not_in_canonical_form_is_told_so_before_its_version() -> None:
    with pytest.raises(ValidationError) as caught:
        Header.model_validate_json(json.dumps(_header(V7.upper())), strict=True)
    [error] = caught.value.errors()
    assert error["type"] == "lexical_form"
