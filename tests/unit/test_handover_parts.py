"""Handover pieces without a network: signing, secrets, URL policy, backoff, the outbox."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from accord.errors import ConfigError
from accord.handover import (
    Outbox,
    backoff_s,
    check_url,
    load_endpoint,
    new_secret,
    parse_secret,
    signed_headers,
    webhook_id,
)
from accord.handover.dispatcher import request_body
from accord.handover.ledger import Ledger
from accord.receiver.inbox import Delivery, Inbox


def delivery(n: int, sender: str = "AUS.AFP") -> Delivery:
    payload = json.dumps({"header": {"n": n}, "label": {"c": "R"}, "body": {"t": f"r{n}"}})
    return Delivery(
        message_id=f"00000000-0000-4000-8000-{n:012d}",
        type="accord.information_report.v1",
        sender=sender,
        scope="bilateral",
        area="counter-terrorism",
        sequence=n,
        issued_at=datetime.now(UTC),
        topic="t.x",
        partition=0,
        offset=n,
        payload_sha256=f"{n:064x}",
        payload=payload.encode(),
        raw=b"raw-%d" % n,
    )


def test_signature_verifies_with_the_standard_webhooks_reference() -> None:
    secret = new_secret()
    body = b'{"type":"accord.message.v1","data":{}}'
    now = int(time.time())
    headers = signed_headers(parse_secret(secret), "msg_abc", now, body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize("secret", ["abc", "whsec_***", "whsec_" + "QUJD", ""])
def test_weak_or_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ConfigError):
        parse_secret(secret)


@pytest.mark.parametrize(
    "url",
    [
        "https://agency.example/in",
        "http://127.0.0.1:8080/in",
        "http://[::1]/in",
        "http://localhost/in",
    ],
)
def test_urls_allowed(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://agency.example/in",
        "ftp://127.0.0.1/in",
        "https://user:pw@agency.example/in",
        "127.0.0.1:80",
    ],
)
def test_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        check_url(url)


def test_an_endpoint_needs_its_secret_variable() -> None:
    with pytest.raises(ConfigError, match="signing secret"):
        load_endpoint("https://agency.example/in", None, env={})
    with pytest.raises(ConfigError, match="not set"):
        load_endpoint("https://agency.example/in", "HOOK_SECRET", env={})
    endpoint = load_endpoint(
        "https://agency.example/in", "HOOK_SECRET", env={"HOOK_SECRET": new_secret()}
    )
    assert len(endpoint.key) == 32
    assert "key=" not in repr(endpoint)  # the secret never reaches a log line


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    for attempts in range(1, 30):
        ceiling = min(60.0, 0.5 * 2 ** (attempts - 1))
        delay = backoff_s(attempts, initial_s=0.5, max_s=60.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling
    delays = {backoff_s(10, initial_s=0.5, max_s=60.0, rng=rng) for _ in range(20)}
    assert len(delays) == 20  # no two nodes come back in lockstep


def test_webhook_id_is_stable_per_sender_and_message() -> None:
    assert webhook_id("AUS.AFP", "m1") == webhook_id("AUS.AFP", "m1")
    assert webhook_id("AUS.AFP", "m1") != webhook_id("JPN.NPA", "m1")
    assert webhook_id("AUS.AFP", "m1").startswith("msg_")


def test_outbox_rows_land_in_the_same_transaction_as_the_messages(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(path, outbox=True)
    inbox.land([delivery(1), delivery(2)], {("t.x", 0): 3})
    inbox.land([delivery(2), delivery(3)], {("t.x", 0): 4})  # 2 is a duplicate
    # A landing that fails half-way leaves neither messages nor handover rows.
    with pytest.raises(sqlite3.Error):
        inbox.land([delivery(4)], {("t.x", 0): object()})  # type: ignore[dict-item]
    inbox.close()
    outbox = Outbox(path)
    rows = list(outbox.rows())
    assert [r.message_id[-1] for r in rows] == ["1", "2", "3"]
    assert {r.state for r in rows} == {"pending"}
    assert outbox.counts() == {"pending": 3, "delivered": 0, "dead": 0}
    outbox.close()


def test_an_inbox_without_handover_has_no_outbox(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite")
    inbox.land([delivery(1)], {})
    inbox.close()
    from accord.handover import has_outbox, read_states

    assert not has_outbox(tmp_path / "inbox.sqlite")
    assert read_states(tmp_path / "inbox.sqlite") == {}


def test_the_request_carries_the_raw_envelope_and_the_verified_parts(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(path, outbox=True)
    inbox.land([delivery(5)], {})
    inbox.close()
    outbox = Outbox(path)
    [row] = outbox.rows()
    raw, payload, topic, digest = outbox.message(row.sender, row.message_id) or (b"", b"", "", "")
    outbox.close()
    doc = json.loads(request_body(row, raw, payload, topic, digest, 1_700_000_000))
    data = doc["data"]
    assert doc["type"] == "accord.message.v1"
    assert data["envelope"] == "cmF3LTU="  # base64 of b"raw-5", byte for byte
    assert (data["header"], data["label"], data["body"]) == ({"n": 5}, {"c": "R"}, {"t": "r5"})
    assert (data["sender"], data["payload_sha256"]) == ("AUS.AFP", f"{5:064x}")


def test_the_ledger_only_vouches_for_the_same_content(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.record("AUS.AFP", "m1", "msg_1", "aa")
    assert ledger.taken("AUS.AFP", "m1", "aa")
    assert not ledger.taken("AUS.AFP", "m1", "bb")
    assert not ledger.taken("JPN.NPA", "m1", "aa")
    ledger.close()


def _accord(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    from click.testing import CliRunner

    from accord.cli.main import _register, cli

    _register()
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "env", "first_line"),
    [
        (
            ["--webhook", "http://127.0.0.1:9/in"],
            {},
            "error [config-invalid]: a webhook needs a signing secret",
        ),
        (
            ["--webhook", "http://127.0.0.1:9/in", "--webhook-secret-env", "HOOK"],
            {"HOOK": ""},
            "error [config-invalid]: $HOOK is not set",
        ),
        (
            ["--webhook", "http://agency.example/in", "--webhook-secret-env", "HOOK"],
            {"HOOK": "whsec_" + "QUJD" * 8},
            "error [config-invalid]: plain http to agency.example would send messages in clear",
        ),
        (
            ["--webhook", "https://agency.example/in", "--webhook-secret-env", "HOOK"],
            {"HOOK": "nope"},
            "error [config-invalid]: the webhook secret does not start with whsec_",
        ),
    ],
)
def test_receive_refuses_an_unsafe_or_unsigned_webhook(
    args: list[str],
    env: dict[str, str],
    first_line: str,
) -> None:
    code, out = _accord("receive", "--agency", "JPN.NPA", *args, env=env)
    assert code == 2
    assert out.splitlines()[0] == first_line
    assert out.splitlines()[1].startswith("hint: ")
    assert "Traceback" not in out


def test_handover_commands_without_an_outbox_say_how_to_start_one(tmp_path: Path) -> None:
    Inbox(tmp_path / "inbox.sqlite").close()  # a node that does not hand over
    for command in (["list"], ["retry", "--dead"]):
        code, out = _accord(
            "handover", *command, "--agency", "JPN.NPA", "--data-dir", str(tmp_path)
        )
        assert code == 2
        assert out.startswith("error [config-invalid]: no handover outbox in ")
        assert "--webhook-secret-env" in out


def test_handover_retry_of_an_unknown_message_is_one_clear_line(tmp_path: Path) -> None:
    Inbox(tmp_path / "inbox.sqlite", outbox=True).close()
    code, out = _accord(
        "handover", "retry", "--agency", "JPN.NPA", "--data-dir", str(tmp_path), "no-such-id"
    )
    assert code == 2
    assert out.splitlines() == [
        "error [handover-not-found]: no handover row for message no-such-id",
        "hint: see `accord handover list`",
    ]


def test_quarantine_against_an_absent_broker_is_one_clear_line() -> None:
    from accord.plan import DEFAULT_PLAN_PATH

    code, out = _accord(
        "quarantine",
        "list",
        "--agency",
        "JPN.NPA",
        "--plan",
        str(DEFAULT_PLAN_PATH),
        "--bootstrap",
        "127.0.0.1:1",
    )
    assert code == 2
    assert "error [broker-error]: could not reach the broker to read " in out
    assert "hint: check that the broker is up" in out
    assert "Traceback" not in out


def test_the_api_inbox_listing_shows_each_messages_handover_state(tmp_path: Path) -> None:
    from accord.api.views import InboxView

    with_outbox, without = tmp_path / "a" / "inbox.sqlite", tmp_path / "b" / "inbox.sqlite"
    for path, outbox in ((with_outbox, True), (without, False)):
        inbox = Inbox(path, outbox=outbox)
        inbox.land([delivery(1), delivery(2)], {("t.x", 0): 3})
        inbox.close()
    view = InboxView(with_outbox)
    assert [r.fields["handover"] for r in view.page(0, 10)] == ["pending", "pending"]
    assert [r.fields["handover"] for r in view.page(1, 10)] == ["pending"]
    view.close()
    view = InboxView(without)
    assert [r.fields["handover"] for r in view.page(0, 10)] == [None, None]
    view.close()
