"""The plan model and its query API, against the repository's deploy/plan.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.areas import Area
from accord.errors import PlanError
from accord.parties import Country, Scope, country_of
from accord.plan import AgencyPlan, Plan, load_plan
from accord.topics import RECEIPTS_TOPIC, TRUST_TOPIC, exchange_topic, quarantine_topic

PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(PLAN_FILE)


def test_deploy_plan_loads(plan: Plan) -> None:
    assert set(plan.agencies) == {
        "JPN.MOFA",
        "JPN.MOD",
        "JPN.NPA",
        "JPN.JCG",
        "AUS.DFAT",
        "AUS.DEFENCE",
        "AUS.AFP",
        "AUS.ABF",
        "USA.STATE",
        "USA.DOD",
    }
    assert isinstance(plan.agency("AUS.AFP"), AgencyPlan)
    assert plan.agency("AUS.AFP").id == "AUS.AFP"


def test_unknown_agency_is_a_plan_error(plan: Plan) -> None:
    with pytest.raises(PlanError, match=r"JPN\.NOPE"):
        plan.agency("JPN.NOPE")


def test_may_publish(plan: Plan) -> None:
    assert plan.may_publish("JPN.NPA", Scope.BILATERAL, Area.LAW_ENFORCEMENT)
    assert not plan.may_publish("USA.STATE", Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS)
    assert plan.may_publish("USA.STATE", Scope.TRILATERAL, Area.STRATEGIC_ASSESSMENTS)
    # law-enforcement is bilateral only
    assert not plan.may_publish("JPN.NPA", Scope.TRILATERAL, Area.LAW_ENFORCEMENT)
    assert not plan.may_publish("AUS.AFP", Scope.BILATERAL, Area.COUNTER_PROLIFERATION)
    assert not plan.may_publish("JPN.NOPE", Scope.BILATERAL, Area.DIALOGUE)


def test_receive_topics(plan: Plan) -> None:
    usa = plan.receive_topics("USA.STATE")
    assert usa
    assert all(t.startswith("accord.trilateral.") for t in usa)
    afp = plan.receive_topics("AUS.AFP")
    assert exchange_topic(Scope.BILATERAL, Area.LAW_ENFORCEMENT) in afp
    assert exchange_topic(Scope.TRILATERAL, Area.COUNTER_TERRORISM) in afp
    assert not any("counter-proliferation" in t for t in afp)


def test_entitled_receivers(plan: Plan) -> None:
    assert plan.entitled_receivers(Scope.BILATERAL, Area.LAW_ENFORCEMENT) == [
        "AUS.ABF",
        "AUS.AFP",
        "JPN.JCG",
        "JPN.NPA",
    ]
    tri = plan.entitled_receivers(Scope.TRILATERAL, Area.STRATEGIC_ASSESSMENTS)
    assert "USA.STATE" in tri
    assert "USA.DOD" in tri
    assert not any(
        a.startswith("USA.")
        for a in plan.entitled_receivers(Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS)
    )


def test_entitled_receivers_are_exactly_the_agencies_that_may_receive(plan: Plan) -> None:
    # entitled_receivers looks the scope up once rather than asking may_receive per
    # agency (issue 16): the two must agree for every scope and area, including
    # areas a scope does not carry and a scope the plan leaves out.
    narrowed = plan.model_copy(update={"scopes": {Scope.BILATERAL: plan.scopes[Scope.BILATERAL]}})
    for p in (plan, narrowed):
        for scope in Scope:
            for area in Area:
                expected = sorted(a for a in p.agencies if p.may_receive(a, scope, area))
                assert p.entitled_receivers(scope, area) == expected, (scope, area)
    assert narrowed.entitled_receivers(Scope.TRILATERAL, Area.COUNTER_TERRORISM) == []
    assert plan.entitled_receivers(Scope.TRILATERAL, Area.COUNTER_TERRORISM) != []


def test_topics(plan: Plan) -> None:
    specs = {t.name: t for t in plan.topics()}
    assert len(specs) == len(plan.topics()), "topic names are unique"
    assert specs[TRUST_TOPIC].configs["cleanup.policy"] == "compact"
    assert "retention.ms" not in specs[TRUST_TOPIC].configs
    assert RECEIPTS_TOPIC in specs
    for agency in plan.agencies:
        assert quarantine_topic(agency) in specs
    ct = specs[exchange_topic(Scope.BILATERAL, Area.COUNTER_TERRORISM)]
    assert ct.partitions == 3
    assert ct.configs["cleanup.policy"] == "delete"
    assert int(ct.configs["min.insync.replicas"]) <= ct.replication_factor
    assert int(ct.configs["retention.ms"]) > 0
    # law-enforcement is not carried trilaterally, so no such topic
    assert exchange_topic(Scope.TRILATERAL, Area.LAW_ENFORCEMENT) not in specs


def test_group_id(plan: Plan) -> None:
    assert plan.group_id("JPN.MOFA") == "accord.node.jpn.mofa"
    with pytest.raises(PlanError):
        plan.group_id("JPN.NOPE")


def test_plan_built_in_code_gets_semantic_checks(plan: Plan) -> None:
    data = plan.model_dump(by_alias=True)
    data["agencies"]["USA.STATE"]["receive"].append(Area.LAW_ENFORCEMENT)
    with pytest.raises(ValueError, match="law-enforcement"):
        Plan.model_validate(data)


def test_country_of_is_cached_but_a_malformed_id_always_raises() -> None:
    assert country_of("JPN.MOFA") is Country.JPN
    assert country_of("JPN.MOFA") is Country.JPN  # from the cache
    for _ in range(2):  # a refusal is not cached as an answer
        with pytest.raises(ValueError, match=r"COUNTRY\.AGENCY"):
            country_of("jpn.mofa")
