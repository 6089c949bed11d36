"""ACL rendering from the plan: what the broker will enforce."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.access import AclRule, access_matrix, allows, render_acls, wanted_principals
from accord.plan import Plan, load_plan
from accord.topics import RECEIPTS_TOPIC, TRUST_TOPIC, keys_topic, quarantine_topic

PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(PLAN_FILE)


@pytest.fixture(scope="module")
def rules(plan: Plan) -> set[AclRule]:
    return render_acls(plan)


def _topics_of(rules: set[AclRule], principal: str, op: str) -> set[str]:
    return {
        r.name
        for r in rules
        if r.principal == principal and r.resource == "TOPIC" and r.operation == op
    }


@pytest.mark.parametrize("agency", ["USA.STATE", "USA.DOD"])
def test_usa_gets_nothing_bilateral(rules: set[AclRule], agency: str) -> None:
    mine = {r.name for r in rules if r.principal == f"User:{agency}"}
    assert mine, "USA agencies do get trilateral access"
    assert not any(name.startswith("accord.bilateral.") for name in mine)


def test_afp_only_entitled_areas(plan: Plan, rules: set[AclRule]) -> None:
    reads = _topics_of(rules, "User:AUS.AFP", "READ")
    writes = _topics_of(rules, "User:AUS.AFP", "WRITE")
    assert "accord.bilateral.law-enforcement" in reads
    assert "accord.trilateral.counter-terrorism" in reads
    assert not any("counter-proliferation" in t or "strategic" in t for t in reads | writes)
    # reads are exactly the plan's receive topics, plus trust, every key topic and its
    # own quarantine
    assert reads == {
        *plan.receive_topics("AUS.AFP"),
        TRUST_TOPIC,
        *plan.keys_topics(),
        quarantine_topic("AUS.AFP"),
    }
    assert writes == {
        *plan.publish_topics("AUS.AFP"),
        RECEIPTS_TOPIC,
        quarantine_topic("AUS.AFP"),
        keys_topic("AUS.AFP"),
    }


def test_quarantine_write_only_own(plan: Plan, rules: set[AclRule]) -> None:
    for agency in plan.agencies:
        q_writes = {
            t
            for t in _topics_of(rules, f"User:{agency}", "WRITE")
            if t.startswith("accord.quarantine.")
        }
        assert q_writes == {quarantine_topic(agency)}


def test_key_topic_write_only_own_read_all(plan: Plan, rules: set[AclRule]) -> None:
    for agency in plan.agencies:
        k_writes = {
            t for t in _topics_of(rules, f"User:{agency}", "WRITE") if t.startswith("accord.keys.")
        }
        k_reads = {
            t for t in _topics_of(rules, f"User:{agency}", "READ") if t.startswith("accord.keys.")
        }
        assert k_writes == {keys_topic(agency)}
        assert k_reads == set(plan.keys_topics())
    m = f"User:{plan.monitor.principal}"
    assert not any(t.startswith("accord.keys.") for t in _topics_of(rules, m, "READ"))


def test_every_read_and_write_topic_is_describable(rules: set[AclRule]) -> None:
    for r in rules:
        if r.resource == "TOPIC" and r.operation in ("READ", "WRITE"):
            assert AclRule(r.principal, "TOPIC", "LITERAL", r.name, "DESCRIBE") in rules


def test_groups_are_own_prefix_only(plan: Plan, rules: set[AclRule]) -> None:
    groups = {
        (r.pattern, r.name)
        for r in rules
        if r.principal == "User:JPN.MOFA" and r.resource == "GROUP"
    }
    assert groups == {("LITERAL", "accord.node.jpn.mofa"), ("PREFIXED", "accord.node.jpn.mofa.")}
    # the trailing dot keeps one agency's prefix from covering another's group
    assert not any(
        r.matches("GROUP", "accord.node.jpn.mofax") for r in rules if r.principal == "User:JPN.MOFA"
    )
    assert all(
        r.operation == "READ"
        for r in rules
        if r.resource == "GROUP" and r.principal != f"User:{plan.monitor.principal}"
    )


def test_monitor_reads_receipts_only(plan: Plan, rules: set[AclRule]) -> None:
    m = f"User:{plan.monitor.principal}"
    assert _topics_of(rules, m, "READ") == {RECEIPTS_TOPIC, TRUST_TOPIC}
    assert _topics_of(rules, m, "WRITE") == set()


def test_no_one_reads_receipts_but_the_monitor_and_no_one_writes_trust(
    plan: Plan, rules: set[AclRule]
) -> None:
    for agency in plan.agencies:
        assert not allows(rules, f"User:{agency}", "READ", RECEIPTS_TOPIC)
        assert not allows(rules, f"User:{agency}", "WRITE", TRUST_TOPIC)


def test_matrix_matches_rules(plan: Plan) -> None:
    m = access_matrix(plan)
    assert list(m) == wanted_principals(plan)
    assert m["USA.STATE"]["accord.bilateral.dialogue"] == "-"
    assert m["USA.STATE"]["accord.trilateral.dialogue"] == "RW"
    assert m["USA.STATE"]["accord.trilateral.peace-operations"] == "R"
    assert m["AUS.AFP"]["accord.bilateral.counter-proliferation"] == "-"
    assert m["AUS.AFP"][quarantine_topic("AUS.AFP")] == "RW"
    assert m["AUS.AFP"][quarantine_topic("JPN.NPA")] == "-"
    assert m["AUS.AFP"][keys_topic("AUS.AFP")] == "RW"
    assert m["AUS.AFP"][keys_topic("JPN.NPA")] == "R"
    assert m["accord.monitor"][RECEIPTS_TOPIC] == "R"
    assert all(set(row) == {t.name for t in plan.topics()} for row in m.values())


def test_prefixed_rule_matching() -> None:
    r = AclRule("User:X", "GROUP", "PREFIXED", "accord.node.x.", "READ")
    assert r.matches("GROUP", "accord.node.x.replay")
    assert not r.matches("GROUP", "accord.node.x")
    assert not r.matches("TOPIC", "accord.node.x.replay")
    assert str(r) == "User:X READ group:accord.node.x.*"
