"""The API's parts that need no broker: tokens, settings, cursors, the generated documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.api import ApiSettings, ClientTokens, add_client, token_digest
from accord.api.app import openapi_document
from accord.api.asyncapi import asyncapi_document, render
from accord.api.problems import ApiProblem
from accord.api.views import decode_cursor, encode_cursor
from accord.errors import ConfigError
from accord.parties import Scope
from accord.plan import load_plan


def test_a_token_file_names_clients_by_the_digest_of_their_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    first = add_client(path, "case-system")
    second = add_client(path, "analysis")
    tokens = ClientTokens.load(path)
    assert tokens.client_for(first) == "case-system"
    assert tokens.client_for(second) == "analysis"
    assert tokens.client_for(first + "x") is None
    assert tokens.client_for("") is None
    assert first not in path.read_text()
    assert token_digest(first) in path.read_text()


@pytest.mark.parametrize(
    "text",
    [
        "clients: {case-system: acc_pasted-a-token-by-mistake}",
        "clients: {'bad name': 'sha256:" + "0" * 64 + "'}",
        "nothing: here",
        "[not, a, mapping",
    ],
)
def test_a_token_file_that_is_not_digests_is_refused_without_echoing_it(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        ClientTokens.load(path)
    assert "acc_pasted" not in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        (ApiSettings(), "without credentials"),
        (ApiSettings(host="0.0.0.0", tokens=ClientTokens({})), "would leave loopback"),
        (ApiSettings(client_ca=Path("ca.pem")), "needs the node's own certificate"),
        (ApiSettings(tokens=ClientTokens({}), tls_certfile=Path("c.pem")), "go together"),
    ],
)
def test_the_api_fails_closed_on_settings_that_would_expose_it(
    settings: ApiSettings, why: str
) -> None:
    with pytest.raises(ConfigError, match=why):
        settings.check()


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor("i", encode_cursor("i", 42)) == 42
    assert decode_cursor("i", None) == -1
    for bad in (encode_cursor("q", 1), "%%%", "aTpub3Q", "x" * 41):
        with pytest.raises(ApiProblem) as refused:
            decode_cursor("i", bad)
        assert refused.value.code == "bad-cursor"


def test_every_operation_needs_credentials_and_answers_errors_as_problems() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    operations = [op for path in doc["paths"].values() for op in path.values()]
    assert len(operations) == 9  # publish, release, supersede, retract, inbox, one message,
    # quarantine, quarantine replay, status
    for op in operations:
        assert op["security"] == [{"HTTPBearer": []}]
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert list(answer["content"]) == ["application/problem+json"]


def test_the_asyncapi_document_has_a_channel_per_topic_with_the_plans_entitlements() -> None:
    plan = load_plan(None)
    doc = asyncapi_document(plan)
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(addresses) == {t.name for t in plan.topics()}
    channel = addresses[plan.exchange_topic(Scope.BILATERAL, plan.scope_areas(Scope.BILATERAL)[0])]
    area = plan.scope_areas(Scope.BILATERAL)[0]
    assert channel["x-accord-publishers"] == sorted(
        a for a in plan.agencies if plan.may_publish(a, Scope.BILATERAL, area)
    )
    assert channel["x-accord-receivers"] == plan.entitled_receivers(Scope.BILATERAL, area)
    envelope = doc["components"]["messages"]["envelope"]
    assert envelope["payload"]["schema"] == {"$ref": "../v1/accord.jws.v1.schema.json"}
    assert envelope["bindings"]["kafka"]["key"]["type"] == "string"
    assert render(doc) == render(asyncapi_document(plan))  # deterministic, so drift-checkable


def test_answered_idempotency_keys_are_pruned_but_unanswered_sealed_ones_kept(
    tmp_path: Path,
) -> None:
    from datetime import timedelta

    from accord.api.idempotency import IdempotencyStore

    store = IdempotencyStore(tmp_path / "api.sqlite")
    store.begin("c", "answered", "d1")
    store.done("c", "answered", 201, b"{}")
    store.begin("c", "sealed", "d2")
    store.sealed("c", "sealed", "{}", b"envelope")
    assert store.prune(timedelta(seconds=-1)) == 1
    assert store.get("c", "answered") is None
    kept = store.get("c", "sealed")
    assert kept is not None
    assert kept.envelope == b"envelope"
    store.close()
