from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from accord.areas import Area
from accord.envelope.samples import SAMPLES
from accord.errors import ReasonCode, Refused
from accord.models import (
    MESSAGE_TYPES,
    DialogueKind,
    DialogueRecord,
    Participant,
    Retract,
    StrategicAssessment,
    Supersede,
)
from accord.parties import Country, Scope

SA = SAMPLES[StrategicAssessment.TYPE]


def test_registry_keys_are_type_names() -> None:
    assert len(MESSAGE_TYPES) == 10
    for name, cls in MESSAGE_TYPES.items():
        assert name == cls.TYPE
        assert name.startswith("accord.")
        assert name.endswith(".v1")


@pytest.mark.parametrize("type_name", sorted(MESSAGE_TYPES))
def test_json_round_trip(type_name: str) -> None:
    body = SAMPLES[type_name].body
    assert type(body).model_validate_json(body.model_dump_json()) == body


def test_unknown_fields_refused() -> None:
    doc = SA.body.model_dump(mode="json") | {"annex": "x"}
    with pytest.raises(ValidationError):
        StrategicAssessment.model_validate(doc, strict=False)


def test_naive_datetimes_refused() -> None:
    doc = SA.body.model_dump(mode="json") | {"valid_from": "2026-01-15T09:00:00"}
    with pytest.raises(ValidationError):
        StrategicAssessment.model_validate_json(__import__("json").dumps(doc))


def test_validity_window_ordered() -> None:
    with pytest.raises(ValidationError, match="valid_until"):
        SA.body.model_validate(
            SA.body.model_dump() | {"valid_until": SA.body.model_dump()["valid_from"]}
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "x" * 301),
        ("summary", "x" * 20001),
        ("key_judgments", ()),
        ("subjects", ("terrorism",)),
        ("references", ("not-a-uuid",)),
    ],
)
def test_bounds_and_strictness(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        SA.body.model_validate(SA.body.model_dump() | {field: value})


def test_credibility_and_reliability_bounds() -> None:
    doc = SA.body.model_dump(mode="json")
    doc["sources"][0]["credibility"] = 7
    with pytest.raises(ValidationError):
        StrategicAssessment.model_validate_json(__import__("json").dumps(doc))
    doc["sources"][0] |= {"credibility": 6, "reliability": "G"}
    with pytest.raises(ValidationError):
        StrategicAssessment.model_validate_json(__import__("json").dumps(doc))


def test_attachment_names_cannot_be_paths() -> None:
    doc = SA.body.model_dump(mode="json")
    doc["attachments"][0]["name"] = "../../etc/passwd"
    with pytest.raises(ValidationError):
        StrategicAssessment.model_validate_json(__import__("json").dumps(doc))


def test_only_originator_may_supersede_or_retract() -> None:
    for cls in (Supersede, Retract):
        body = SAMPLES[cls.TYPE].body
        body.check_context(sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.COUNTER_TERRORISM)
        with pytest.raises(Refused) as err:
            body.check_context(
                sender="AUS.DFAT", scope=Scope.BILATERAL, area=Area.COUNTER_TERRORISM
            )
        assert err.value.reason is ReasonCode.NOT_ORIGINATOR


def test_tsd_record_only_in_trilateral_scope() -> None:
    body = SAMPLES[DialogueRecord.TYPE].body
    body.check_context(sender="USA.STATE", scope=Scope.TRILATERAL, area=Area.DIALOGUE)
    bilateral = DialogueRecord(
        kind=DialogueKind.TRILATERAL_STRATEGIC_DIALOGUE,
        held_on=date(2026, 1, 1),
        location="Tokyo",
        participants=(Participant(country=Country.JPN, office="FM"),),
        outcomes=("x",),
    )
    with pytest.raises(Refused) as err:
        bilateral.check_context(sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.DIALOGUE)
    assert err.value.reason is ReasonCode.SCOPE_VIOLATION


def test_area_bound_types() -> None:
    body = SAMPLES["accord.exercise-notice.v1"].body
    with pytest.raises(Refused) as err:
        body.check_context(sender="JPN.MOD", scope=Scope.BILATERAL, area=Area.DIALOGUE)
    assert err.value.reason is ReasonCode.SCHEMA_INVALID


def test_participants_in_scope() -> None:
    body = SAMPLES["accord.exercise-notice.v1"].body
    changed = body.model_copy(update={"participants": ("JPN.MOD", "USA.DOD")})
    with pytest.raises(Refused) as err:
        changed.check_context(sender="JPN.MOD", scope=Scope.BILATERAL, area=Area.JOINT_EXERCISES)
    assert err.value.reason is ReasonCode.SCOPE_VIOLATION


def test_exercise_window() -> None:
    body = SAMPLES["accord.exercise-notice.v1"].body
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError):
        body.model_validate(body.model_dump() | {"starts_at": t, "ends_at": t - timedelta(1)})


def test_receipt_signed_by_receiver() -> None:
    body = SAMPLES["accord.receipt.v1"].body
    with pytest.raises(Refused) as err:
        body.check_context(
            sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.STRATEGIC_ASSESSMENTS
        )
    assert err.value.reason is ReasonCode.SENDER_MISMATCH
