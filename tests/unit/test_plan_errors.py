"""Bad plans: each error names file:line:col and says how to fix it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accord.errors import PlanError
from accord.plan import load_plan, parse_plan

PLAN_TEXT = (Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml").read_text()


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def _error(text: str, tmp_path: Path) -> PlanError:
    f = tmp_path / "plan.yaml"
    f.write_text(text)
    with pytest.raises(PlanError) as info:
        load_plan(f)
    return info.value


def _at(err: PlanError, tmp_path: Path) -> int:
    m = re.match(rf"{re.escape(str(tmp_path / 'plan.yaml'))}:(\d+):(\d+): ", err.message)
    assert m, err.message
    return int(m.group(1))


def test_unknown_key_names_line_and_allowed_keys(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace(
        "    name: Australian Federal Police\n",
        "    name: Australian Federal Police\n    recieve: [dialogue]\n",
    )
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "recieve:")
    assert "unknown key 'recieve'" in err.message
    assert err.hint
    assert "'receive'" in err.hint
    assert "publish" in err.hint


def test_misspelt_area_suggests_the_right_one(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace(
        "    receive: [law-enforcement, counter-terrorism, coordinated-activities, "
        "personnel-exchange]\n  AUS.ABF",
        "    receive: [law-enforcement,\n              counter-terorism]\n  AUS.ABF",
    )
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "counter-terorism]")
    assert "agencies.AUS.AFP.receive[1]" in err.message
    assert err.hint
    assert "counter-terrorism" in err.hint


def test_area_outside_every_scope_of_the_country(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace(
        "    receive: [strategic-assessments, counter-proliferation, counter-terrorism,\n"
        "              peace-operations, humanitarian-relief, dialogue]",
        "    receive: [strategic-assessments, counter-proliferation, counter-terrorism,\n"
        "              peace-operations, humanitarian-relief, dialogue,\n"
        "              law-enforcement]",
    )
    assert text != PLAN_TEXT
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "              law-enforcement]")
    assert "USA.STATE may not receive law-enforcement" in err.message
    assert "only bilateral" in err.message
    assert err.hint
    assert "remove law-enforcement" in err.hint


def test_duplicate_agency(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace("  USA.DOD:\n", "  JPN.MOD:\n", 1)
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "  JPN.MOD:", 2)
    assert "duplicate key 'JPN.MOD'" in err.message
    assert f"first at line {_line_of(text, '  JPN.MOD:')}" in err.message


def test_duplicate_area_in_list(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace(
        "    publish: [border-security, maritime-aviation-security, law-enforcement]\n",
        "    publish: [border-security, border-security]\n",
    )
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "[border-security, border-security]")
    assert "listed twice" in err.message


def test_agency_of_unknown_country(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace("  USA.DOD:\n", "  NZL.MFAT:\n")
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "NZL.MFAT:")
    assert "COUNTRY.AGENCY" in err.message


def test_country_left_out_of_plan(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace(
        "countries: [JPN, AUS, USA]\n\nscopes", "countries: [JPN, AUS]\n\nscopes", 1
    )
    err = _error(text, tmp_path)
    # first problem: the trilateral scope names USA, which the plan does not list
    assert "USA" in err.message
    assert err.hint
    assert "USA" in err.hint


def test_wrong_type_and_min_isr(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace("    partitions: 3\n", "    partitions: three\n")
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "partitions: three")
    assert "topics.defaults.partitions" in err.message
    text = PLAN_TEXT.replace("    min_insync_replicas: 1\n", "    min_insync_replicas: 2\n")
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "    min_insync_replicas: 2")
    assert "exceeds replication_factor" in err.message


def test_trust_must_be_compacted(tmp_path: Path) -> None:
    text = PLAN_TEXT.replace("    cleanup_policy: compact ", "    cleanup_policy: delete  ")
    err = _error(text, tmp_path)
    assert _at(err, tmp_path) == _line_of(text, "cleanup_policy: delete")
    assert err.hint
    assert "compact" in err.hint


def test_missing_section_and_bad_yaml(tmp_path: Path) -> None:
    err = _error(PLAN_TEXT.replace("version: 1\n", ""), tmp_path)
    assert "'version' is missing" in err.message
    err = _error("version: 1\nagencies: [\n", tmp_path)
    assert "not valid YAML" in err.message
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(tmp_path / "absent.yaml")


def test_several_problems_are_all_reported() -> None:
    text = PLAN_TEXT.replace("recieve", "x").replace(
        "  JPN.NPA:\n", "  JPN.NPA:\n    colour: blue\n    size: 3\n"
    )
    with pytest.raises(PlanError) as info:
        parse_plan(text, "p.yaml")
    assert "1 more problem" in info.value.message
    assert "colour" in info.value.message
    assert "size" in info.value.message
