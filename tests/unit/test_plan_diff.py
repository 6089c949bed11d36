"""What apply would change, from plan + broker state (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from accord.access import AclRule, render_acls, wanted_principals
from accord.errors import PlanError
from accord.plan import Plan, load_plan
from accord.plan.reconcile import BrokerState, compute_diff, load_secrets, secret_env_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(ROOT / "deploy" / "plan.yaml")


def _converged(plan: Plan) -> BrokerState:
    return BrokerState(
        topics=frozenset(t.name for t in plan.topics()) | {"__consumer_offsets", "other"},
        brokers=1,
        users=frozenset(wanted_principals(plan)),
        acls=frozenset(render_acls(plan)),
    )


def test_empty_broker_gets_everything(plan: Plan) -> None:
    d = compute_diff(plan, BrokerState(frozenset(), 1, frozenset(), frozenset()))
    assert [t.name for t in d.topics_to_create] == [t.name for t in plan.topics()]
    assert d.principals_to_create == tuple(wanted_principals(plan))
    assert set(d.acls_to_add) == render_acls(plan)
    assert not d.acls_to_remove
    assert not d.principals_to_delete
    assert not d.changes_nothing


def test_converged_broker_changes_nothing(plan: Plan) -> None:
    d = compute_diff(plan, _converged(plan))
    assert d.changes_nothing
    assert len(d.topics_present) == len(plan.topics())
    assert any(line.startswith("= topic") for line in d.lines())


def test_removed_agency_is_revoked(plan: Plan) -> None:
    gone = "AUS.GONE"
    stale = {AclRule(f"User:{gone}", "TOPIC", "LITERAL", "accord.bilateral.dialogue", "READ")}
    state = _converged(plan)
    assert state.users is not None
    state = BrokerState(state.topics, 1, state.users | {gone, "admin"}, state.acls | stale)
    d = compute_diff(plan, state)
    assert d.principals_to_delete == (gone,)  # admin is not managed: never touched
    assert set(d.acls_to_remove) == stale
    assert "- principal User:AUS.GONE" in d.lines()


def test_extra_acl_on_planned_agency_is_removed(plan: Plan) -> None:
    extra = AclRule("User:USA.STATE", "TOPIC", "LITERAL", "accord.bilateral.dialogue", "READ")
    state = _converged(plan)
    d = compute_diff(plan, BrokerState(state.topics, 1, state.users, state.acls | {extra}))
    assert d.acls_to_remove == (extra,)
    assert not d.principals_to_delete


def test_plain_broker_manages_topics_only(plan: Plan) -> None:
    d = compute_diff(plan, BrokerState(frozenset({"accord.trust"}), 1))
    assert not d.access
    assert not d.acls_to_add
    assert not d.principals_to_create
    assert "accord.trust" in d.topics_present
    assert any("access not managed" in line for line in d.lines())


def test_replication_factor_beyond_cluster_is_refused(plan: Plan) -> None:
    data = plan.model_dump(by_alias=True)
    data["topics"]["defaults"].update(replication_factor=3, min_insync_replicas=2)
    big = Plan.model_validate(data)
    with pytest.raises(PlanError, match="replication_factor 3"):
        compute_diff(big, BrokerState(frozenset(), 1))


def test_secrets_file_and_env(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("JPN.MOFA: from-file\nAUS.AFP: file-afp\n")
    env = {secret_env_name("AUS.AFP"): "from-env", "ACCORD_SECRET_USA_DOD": "dod"}
    got = load_secrets(f, ["JPN.MOFA", "AUS.AFP", "USA.DOD", "accord.monitor"], env)
    assert {k: v.get_secret_value() for k, v in got.items()} == {
        "JPN.MOFA": "from-file",
        "AUS.AFP": "from-env",
        "USA.DOD": "dod",
    }
    assert all(isinstance(v, SecretStr) for v in got.values())
    assert secret_env_name("accord.monitor") == "ACCORD_SECRET_ACCORD_MONITOR"
    assert secret_env_name("AUS.X-RAY") == "ACCORD_SECRET_AUS_X_RAY"


def test_secrets_errors_never_show_values(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("JPN.NOPE: hunter2\n")
    with pytest.raises(PlanError) as info:
        load_secrets(f, ["JPN.MOFA"], {})
    assert "JPN.NOPE" in info.value.message
    assert "hunter2" not in info.value.message
    f.write_text("JPN.MOFA: [hunter2]\n")
    with pytest.raises(PlanError) as info:
        load_secrets(f, ["JPN.MOFA"], {})
    assert "hunter2" not in info.value.message


def test_example_secrets_cover_the_plan(plan: Plan) -> None:
    got = load_secrets(ROOT / "deploy" / "secrets.example.yaml", wanted_principals(plan), {})
    assert set(got) == set(wanted_principals(plan))
