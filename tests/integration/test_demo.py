"""``accord demo`` end to end: its own SCRAM broker, every node, the outcome table.

The demo is run once for the module (it starts and stops its own broker, so it
never touches the session brokers' principals or ACLs); each test checks one claim
the demo prints. Expected counts are recomputed here from the plan with
``may_receive``, independently of the demo's own ``entitled_receivers`` bookkeeping.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from accord.areas import Area
from accord.demo import scenario as sc
from accord.demo.report import render
from accord.demo.run import DemoResult, prepare_directory, problems, run_demo
from accord.errors import ConfigError, ReasonCode
from accord.parties import Scope
from accord.plan import load_plan

pytestmark = pytest.mark.kafka

PLAN = load_plan(None)


@pytest.fixture(scope="module")
async def result(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    progress: list[str] = []
    # log_to_file=False: the demo would otherwise re-point the whole process's
    # logging at its file, under pytest's own capture.
    res = await run_demo(
        tmp_path_factory.mktemp("demo") / "demo", say=progress.append, log_to_file=False
    )
    assert any("broker up" in line and "SCRAM" in line for line in progress), progress
    return res


def test_outcome_is_as_expected(result: DemoResult) -> None:
    assert result.problems == []
    assert result.ok
    lines = render(result)
    assert any(line.startswith("USA received nothing bilateral") for line in lines)
    assert lines[-1].startswith("outcome: as expected")
    assert 30 <= len(result.sent) <= 40
    assert {s.scope for s in result.sent} == set(Scope)


def test_every_entitled_agency_delivered_what_the_plan_says(result: DemoResult) -> None:
    for agency, outcome in result.agencies.items():
        wanted = {s.message_id for s in result.sent if PLAN.may_receive(agency, s.scope, s.area)}
        assert outcome.inbox_ids == wanted, agency
        assert outcome.delivered == len(wanted), agency
        assert outcome.gaps == 0, agency
    # Spot values from the plan: defence ministries read the most areas.
    assert result.agencies["JPN.MOD"].delivered == result.agencies["AUS.DEFENCE"].delivered
    assert result.agencies["USA.STATE"].delivered < result.agencies["USA.DOD"].delivered


def test_usa_inboxes_hold_only_trilateral_messages(result: DemoResult) -> None:
    original = next(s for s in result.sent if s.key == sc.RELEASED)
    assert original.scope is Scope.BILATERAL
    for agency in ("USA.STATE", "USA.DOD"):
        outcome = result.agencies[agency]
        assert set(outcome.inbox_scopes) == {"trilateral"}, agency
        assert sum(outcome.inbox_scopes.values()) == outcome.delivered > 0
        # The release arrived; the bilateral original it was made from did not.
        assert result.released.message_id in outcome.inbox_ids
        assert original.message_id not in outcome.inbox_ids


def test_tampered_and_mislabelled_records_are_quarantined_with_exact_codes(
    result: DemoResult,
) -> None:
    tampered_at = set(PLAN.entitled_receivers(Scope.TRILATERAL, Area.MARITIME_AVIATION_SECURITY))
    mislabelled_at = set(PLAN.entitled_receivers(Scope.TRILATERAL, Area.STRATEGIC_ASSESSMENTS))
    for agency, outcome in result.agencies.items():
        want: dict[str, int] = {}
        if agency in tampered_at:
            want["bad-signature"] = 1
        if agency in mislabelled_at:
            want["releasability-violation"] = 1
        assert outcome.rejected == want, agency
        assert outcome.quarantined == want, agency  # read back from the quarantine topic
    assert result.agencies["USA.DOD"].rejected == {"bad-signature": 1, "releasability-violation": 1}
    assert result.agencies["USA.STATE"].rejected == {"releasability-violation": 1}
    assert result.agencies["AUS.AFP"].rejected == {}
    codes = {r.name: r.expected for r in result.injected}
    assert codes == {
        "tampered": ReasonCode.BAD_SIGNATURE,
        "mislabelled": ReasonCode.RELEASABILITY_VIOLATION,
        "duplicate": None,
    }


def test_duplicate_copy_is_counted_not_delivered_twice(result: DemoResult) -> None:
    copied = next(s for s in result.sent if s.key == sc.DUPLICATED)
    for agency, outcome in result.agencies.items():
        entitled = PLAN.may_receive(agency, copied.scope, copied.area)
        assert outcome.duplicates == (1 if entitled else 0), agency


def test_supersede_and_retract_change_the_status_where_held(result: DemoResult) -> None:
    by_key = {s.key: s for s in result.sent}
    first = by_key[sc.SUPERSEDED].message_id
    withdrawn = by_key[sc.RETRACTED].message_id
    holders_first = [o for o in result.agencies.values() if first in o.statuses]
    holders_withdrawn = [o for o in result.agencies.values() if withdrawn in o.statuses]
    assert holders_first
    assert holders_withdrawn
    assert {o.statuses[first] for o in holders_first} == {"superseded"}
    assert {o.statuses[withdrawn] for o in holders_withdrawn} == {"retracted"}


def test_monitor_saw_every_message_acknowledged(result: DemoResult) -> None:
    m = result.monitor
    assert m.outstanding == []
    assert m.forged == 0
    assert m.messages == len(result.sent)
    # One delivered receipt per delivery; a sender entitled to its own area reads
    # (and acknowledges) its own message too, though the monitor does not require it.
    expected_acks = sum(len(PLAN.entitled_receivers(s.scope, s.area)) for s in result.sent)
    assert m.acknowledgements == expected_acks
    assert m.acknowledgements == sum(o.delivered for o in result.agencies.values())


def test_a_difference_is_reported(result: DemoResult) -> None:
    """The checks are not vacuous: a bilateral message at the USA and a lost one show up."""
    bad = copy.deepcopy(result)
    usa = bad.agencies["USA.STATE"]
    usa.inbox_scopes["bilateral"] = 1
    lost = next(iter(bad.agencies["JPN.NPA"].inbox_ids))
    bad.agencies["JPN.NPA"].inbox_ids.discard(lost)
    bad.agencies["AUS.ABF"].rejected = {}
    found = problems(bad)
    assert any(p.startswith("USA.STATE: holds bilateral") for p in found), found
    assert any(p.startswith("JPN.NPA: did not receive") for p in found), found
    assert any(p.startswith("AUS.ABF: rejected none, expected bad-signature") for p in found)


def test_prepare_refuses_a_directory_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not the demo's")
    with pytest.raises(ConfigError):
        prepare_directory(tmp_path)
    assert (tmp_path / "precious.txt").exists()
    demo_dir = tmp_path / "again"
    prepare_directory(demo_dir)
    (demo_dir / "leftover").write_text("x")
    prepare_directory(demo_dir)  # its own marker: wiped and recreated
    assert not (demo_dir / "leftover").exists()


def test_bodies_are_encrypted_and_the_run_measures_signed_against_encrypted(
    result: DemoResult,
) -> None:
    """The deployed plan requires encryption: every published record is envelope v2
    (unencoded JSON payload, body as ciphertext), and the demo prints one line of
    signed-only vs signed+encrypted figures it measured itself."""
    assert result.encryption == {"bilateral": "required", "trilateral": "required"}
    assert all(json.loads(s.envelope)["payload"].startswith("{") for s in result.sent)
    lines = render(result)
    n = len(result.sent)
    assert any(f": {n} of {n} published bodies encrypted" in line for line in lines), lines
    (line,) = [x for x in lines if x.startswith("signed-only vs signed+encrypted: ")]
    assert re.fullmatch(
        r"signed-only vs signed\+encrypted: \d+ vs \d+ msgs/s \(\d+\.\d\dx, target >= 0\.7: "
        r"(met|NOT met)\); CPU per message, one process \d+ vs \d+ µs; "
        r"bytes per record \d+ vs \d+",
        line,
    ), line
