"""Agency ids (SPEC.md section 2, ``COUNTRY.AGENCY``): judged by pydantic-core's regex
engine wherever a model holds one, and by ``re`` in ``is_agency_id`` and
``country_of``: the two give the same verdicts, from JSON and from Python."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from accord.models.messages import Acknowledgement
from accord.parties import AgencyId, Country, country_of, is_agency_id

ADAPTER: TypeAdapter[Any] = TypeAdapter(AgencyId)

VALID = ["JPN.MOFA", "AUS.AFP", "USA.DOD", "AUS.A1", "JPN.NPA-2", "USA." + "X" * 32]
INVALID = [
    "NZL.MFAT",  # not a country of the exchange
    "jpn.mofa",
    "JPN.mofa",
    "JPN.M",  # one character
    "USA." + "X" * 33,  # 33 characters
    "JPN.1MOFA",  # starts with a digit
    "JPN-MOFA",
    "JPN.MOFA\n",  # "$" in Python's re would allow it
    " JPN.MOFA",
    "JPN.MOFA ",
    "JPN.MO FA",
    "JPN.MOF\uff21",  # a fullwidth letter
    "JPN.MOFA.X",
    "JPN",
    "",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_ids_pass_from_json_and_from_python(text: str) -> None:
    assert is_agency_id(text)
    assert ADAPTER.validate_json(json.dumps(text), strict=True) == text
    assert ADAPTER.validate_python(text, strict=True) == text
    assert ADAPTER.validate_python(text) == text
    assert country_of(text) is Country(text[:3])


@pytest.mark.parametrize("text", INVALID)
def test_other_spellings_are_refused_alike(text: str) -> None:
    assert not is_agency_id(text)
    for validate in (
        lambda: ADAPTER.validate_json(json.dumps(text), strict=True),
        lambda: ADAPTER.validate_python(text, strict=True),
        lambda: ADAPTER.validate_python(text),
    ):
        with pytest.raises(ValidationError) as caught:
            validate()
        [error] = caught.value.errors()
        assert error["type"] == "agency_id"
        assert "must be COUNTRY.AGENCY, e.g. JPN.MOFA" in error["msg"]
    with pytest.raises(ValueError, match=r"COUNTRY\.AGENCY"):
        country_of(text)


@pytest.mark.parametrize("value", [12, None, True, ["JPN.MOFA"], {}])
def test_values_that_are_not_text_are_refused(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_json(json.dumps(value), strict=True)
    assert caught.value.errors()[0]["type"] == "agency_id"


def test_a_model_field_and_a_mapping_key_both_judge_the_id() -> None:
    class Holder(BaseModel):
        model_config = ConfigDict(strict=True)
        agency: AgencyId
        by_agency: dict[AgencyId, int]

    assert Holder(agency="JPN.MOFA", by_agency={"AUS.AFP": 1}).by_agency == {"AUS.AFP": 1}
    with pytest.raises(ValidationError) as caught:
        Holder(agency="JPN.MOFA", by_agency={"nzl.mfat": 1})
    assert caught.value.errors()[0]["type"] == "agency_id"
    with pytest.raises(ValidationError) as caught:
        Acknowledgement.model_validate_json(
            json.dumps(
                {
                    "message_id": "01a234f0-e36e-7082-a29b-d6ef88a4e823",
                    "sender": "JPN.MOFA\n",
                    "payload_sha256": "0" * 64,
                }
            ),
            strict=True,
        )
    assert [e["loc"] for e in caught.value.errors()] == [("sender",)]


def test_the_published_schema_keeps_the_pattern() -> None:
    from accord.parties import AGENCY_PATTERN

    assert ADAPTER.json_schema() == {"pattern": AGENCY_PATTERN, "type": "string"}
