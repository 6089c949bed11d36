from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from accord.conformance import rules
from accord.errors import ReasonCode, Refused
from accord.labels import (
    Caveat,
    Classification,
    Label,
    Policy,
    check_label,
    national_marking,
    releasable_to_country,
)
from accord.parties import Country, Scope

T = datetime(2026, 1, 15, tzinfo=UTC)


def label(**kw: object) -> Label:
    fields: dict[str, object] = {
        "policy": Policy.ACCORD_JPN_AUS_2007,
        "classification": Classification.CONFIDENTIAL,
        "releasable_to": (Country.JPN, Country.AUS),
        "caveats": (Caveat.ORCON,),
        "originator": "JPN.MOFA",
        "created_at": T,
        "review_on": date(2027, 1, 15),
        "legal_basis": "Act on the Protection of Specially Designated Secrets (illustrative)",
    }
    fields.update(kw)
    return Label(**fields)  # type: ignore[arg-type]


def test_valid_label_passes() -> None:
    check_label(label(), Scope.BILATERAL, sender="JPN.MOFA")


@pytest.mark.parametrize(
    ("member", "value", "named"),
    [
        ("policy", "nato-2020", "unknown label policy 'nato-2020'"),
        ("classification", "TOP-SECRET", "classification 'TOP-SECRET'"),
        ("releasable_to", ("JPN", "GBR"), "unknown country 'GBR'"),
        ("caveats", ("NOFORN",), "caveat 'NOFORN'"),
    ],
)
def test_a_sealer_refuses_a_label_value_its_policy_does_not_know(
    member: str, value: object, named: str
) -> None:
    # ENV-26 on the typed label a publisher holds (one built around validation, as a
    # partner library might), read without a full dump of the model.
    fields = dict(label())
    fields[member] = value
    with pytest.raises(Refused) as exc:
        check_label(Label.model_construct(**fields), Scope.BILATERAL, sender="JPN.MOFA")
    assert exc.value.reason is ReasonCode.UNKNOWN_LABEL_VALUE
    assert named in exc.value.message


def test_releasability_must_match_scope() -> None:
    with pytest.raises(Refused) as err:
        check_label(label(releasable_to=(Country.JPN,)), Scope.BILATERAL, sender="JPN.MOFA")
    assert err.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    with pytest.raises(Refused) as err:
        check_label(label(), Scope.TRILATERAL, sender="JPN.MOFA")
    assert err.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    wide = label(releasable_to=(Country.JPN, Country.AUS, Country.USA))
    with pytest.raises(Refused) as err:
        check_label(wide, Scope.BILATERAL, sender="JPN.MOFA")
    assert err.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    check_label(wide, Scope.TRILATERAL, sender="JPN.MOFA")


def test_originator_must_be_sender() -> None:
    with pytest.raises(Refused) as err:
        check_label(label(), Scope.BILATERAL, sender="AUS.DFAT")
    assert err.value.reason is ReasonCode.SENDER_MISMATCH


def test_a_label_that_passed_is_judged_again_against_another_scope_sender_or_rules() -> None:
    # check_label remembers the last label object it passed (a publisher's messages
    # share one): the memory holds only for that same object, scope and sender, and
    # under the same rules.
    shared = label()
    check_label(shared, Scope.BILATERAL, sender="JPN.MOFA")
    check_label(shared, Scope.BILATERAL, sender="JPN.MOFA")  # the remembered pass
    with pytest.raises(Refused) as err:
        check_label(shared, Scope.TRILATERAL, sender="JPN.MOFA")
    assert err.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    check_label(shared, Scope.BILATERAL, sender="JPN.MOFA")
    with pytest.raises(Refused) as err:
        check_label(shared, Scope.BILATERAL, sender="AUS.DFAT")
    assert err.value.reason is ReasonCode.SENDER_MISMATCH
    narrow = label(releasable_to=(Country.JPN,))
    with rules.disabled("ENV-41"):
        check_label(narrow, Scope.BILATERAL, sender="JPN.MOFA")  # passes without ENV-41
    with pytest.raises(Refused) as err:  # the pass is forgotten with the rules it held under
        check_label(narrow, Scope.BILATERAL, sender="JPN.MOFA")
    assert err.value.rule == "ENV-41"


def test_releasable_to_country() -> None:
    assert releasable_to_country(label(), Country.AUS)
    assert not releasable_to_country(label(), Country.USA)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("policy", "nato"),
        ("classification", "TOP-SECRET"),
        ("caveats", ["NOFORN"]),
    ],
)
def test_unknown_values_refused_from_json(field: str, value: object) -> None:
    doc = label().model_dump(mode="json")
    doc[field] = value
    with pytest.raises(ValidationError) as err:
        Label.model_validate(doc, strict=False)
    assert err.value.errors()[0]["type"] == "enum"


def test_label_invariants() -> None:
    with pytest.raises(ValidationError):
        label(caveats=(Caveat.ORCON, Caveat.ORCON))
    with pytest.raises(ValidationError):
        label(review_on=date(2025, 1, 1))
    with pytest.raises(ValidationError):
        label(created_at=datetime(2026, 1, 15))  # naive
    with pytest.raises(ValidationError):
        label(legal_basis="x" * 1001)
    with pytest.raises(ValidationError):
        label(releasable_to=())


def test_markings_cover_every_level_and_country() -> None:
    for level in Classification:
        for country in Country:
            assert national_marking(level, country)


def test_the_policy_is_the_published_file() -> None:
    import json
    from pathlib import Path

    from jsonschema import Draft202012Validator

    from accord.labels import CLASSIFICATION_RANK, NATIONAL_MARKINGS, POLICIES, Policy

    folder = Path(__file__).resolve().parents[2] / "schemas" / "policy"
    doc = json.loads((folder / "accord-jpn-aus-2007.json").read_text())
    schema = json.loads((folder / "policy.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(doc))
    assert doc["national_markings_status"] == "illustrative"
    rules = POLICIES[Policy.ACCORD_JPN_AUS_2007]
    assert [level["name"] for level in doc["levels"]] == [c.value for c in rules.levels]
    assert sorted(CLASSIFICATION_RANK, key=CLASSIFICATION_RANK.__getitem__) == list(rules.levels)
    assert {c["name"] for c in doc["caveats"]} == {c.value for c in rules.caveats}
    assert {lvl["name"]: lvl["national_markings"] for lvl in doc["levels"]} == {
        level.value: {c.value: m for c, m in markings.items()}
        for level, markings in NATIONAL_MARKINGS.items()
    }
