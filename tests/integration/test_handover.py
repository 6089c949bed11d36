"""Handover to a real agency endpoint (aiohttp on 127.0.0.1), over a real broker.

The endpoint verifies every request with the Standard Webhooks reference
implementation. It fails, times out, redirects, and is down while the node
restarts: every message is still handed over, and a message taken twice always
carries the same webhook-id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _agency_endpoint import AgencyEndpoint
from _exchange import label_for, report, until
from click.testing import CliRunner

from accord.areas import Area
from accord.cli.main import _register, cli
from accord.exchange import LocalExchange
from accord.handover import (
    Dispatcher,
    Endpoint,
    HandoverPolicy,
    Outbox,
    has_outbox,
    new_secret,
    parse_secret,
)
from accord.handover.ledger import LEDGER_FILE
from accord.observability.metrics import NodeMetrics
from accord.parties import Scope
from accord.receiver.inbox import Delivery, Inbox

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM
FAST = HandoverPolicy(
    concurrency=2, timeout_s=0.5, backoff_initial_s=0.1, backoff_max_s=0.4, poll_s=0.2
)

_register()


def accord(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def counts(inbox_path: Path) -> dict[str, int]:
    if not has_outbox(inbox_path):  # a node still starting
        return {}
    outbox = Outbox(inbox_path, read_only=True)
    try:
        return outbox.counts()
    finally:
        outbox.close()


def delivery(n: int) -> Delivery:
    from datetime import UTC, datetime

    payload = json.dumps({"header": {"n": n}, "label": {}, "body": {"n": n}}).encode()
    return Delivery(
        message_id=f"00000000-0000-4000-8000-{n:012d}",
        type="accord.information_report.v1",
        sender="AUS.AFP",
        scope="bilateral",
        area="counter-terrorism",
        sequence=n,
        issued_at=datetime.now(UTC),
        topic="t.x",
        partition=0,
        offset=n,
        payload_sha256=f"{n:064x}",
        payload=payload,
        raw=b"envelope-%d" % n,
    )


async def _publish(ex: LocalExchange, n: int) -> list[str]:
    pub = await ex.publisher("AUS.AFP")
    return [
        (await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))).message_id
        for i in range(n)
    ]


@pytest.mark.kafka
async def test_every_message_is_handed_over_through_failures_and_a_restart(
    exchange: LocalExchange,
) -> None:
    secret = new_secret()
    # 500, then a reply slower than the node's timeout (taken, yet sent again), then
    # a redirect (never followed), then healthy.
    endpoint = AgencyEndpoint(secret, ["500", "slow", "redirect"], slow_s=1.5)
    await endpoint.start()
    target = Endpoint(endpoint.url, parse_secret(secret), FAST)
    inbox_path = exchange.inbox_path("JPN.NPA")
    try:
        before = await exchange.start_receiver("JPN.NPA", handover=target)
        first = await _publish(exchange, 6)
        assert await endpoint.wait_for(set(first))

        # The agency system goes down; the node restarts while it is down.
        await endpoint.stop()
        await exchange.stop_receiver("JPN.NPA")
        second = await _publish(exchange, 4)
        receiver = await exchange.start_receiver("JPN.NPA", handover=target)
        assert await exchange.settle({"JPN.NPA": 4}, within_s=30)

        def failing_while_down() -> bool:
            outbox = Outbox(inbox_path, read_only=True)
            try:
                return any(r.attempts >= 2 and r.last_error for r in outbox.rows("pending"))
            finally:
                outbox.close()

        assert await until(failing_while_down)
        # Receipts still mean "landed in the node": receiving went on meanwhile.
        assert receiver.inbox.count() == 10
        await endpoint.start()  # back, on the same port
        assert await endpoint.wait_for(set(first + second))
        assert await until(lambda: counts(inbox_path).get("delivered") == 10)
    finally:
        await endpoint.stop()

    assert endpoint.bad_signatures == 0
    assert endpoint.redirect_followed == 0
    assert endpoint.answers[:3] == ["500", "slow", "redirect"]
    assert endpoint.message_ids() == set(first + second)
    # Duplicates happen (the slow reply), and only ever under the same webhook-id.
    ids_of: dict[str, set[str]] = {}
    for hook_id, data in endpoint.taken:
        ids_of.setdefault(data["message_id"], set()).add(hook_id)
    assert all(len(hook_ids) == 1 for hook_ids in ids_of.values())
    assert len({next(iter(h)) for h in ids_of.values()}) == 10
    assert max(endpoint.copies().values()) >= 2  # the slow reply was sent again
    # The envelope arrives raw, so the agency system can verify and keep it.
    assert all(
        data["envelope"] and data["header"]["sender"] == "AUS.AFP" for _, data in endpoint.taken
    )
    # Counted once per message, across the restart.
    assert (
        sum(
            r.metrics.registry.get_sample_value(
                "accord_handover_delivered_total", {"agency": "JPN.NPA"}
            )
            or 0
            for r in (before, receiver)
        )
        == 10
    )
    # Visible in `accord inbox`, beside the message's own status.
    listing = accord("inbox", "--agency", "JPN.NPA", "--data-dir", str(inbox_path.parent), "--json")
    assert [json.loads(line)["handover"] for line in listing.splitlines()] == ["delivered"] * 10


async def test_a_message_is_parked_dead_after_its_window_and_retry_revives_it(
    tmp_path: Path,
) -> None:
    secret = new_secret()
    endpoint = AgencyEndpoint(secret, ["500"] * 1000)
    await endpoint.start()
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(path, outbox=True)
    inbox.land([delivery(1)], {})
    metrics = NodeMetrics()
    policy = HandoverPolicy(
        timeout_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.1, dead_after_s=0.5, poll_s=0.1
    )
    dispatcher = Dispatcher(
        Endpoint(endpoint.url, parse_secret(secret), policy),
        path,
        agency="JPN.NPA",
        metrics=metrics,
    )
    await dispatcher.start()
    try:
        assert await until(lambda: counts(path)["dead"] == 1)
        assert (
            metrics.registry.get_sample_value("accord_handover_dead_total", {"agency": "JPN.NPA"})
            == 1
        )
        listing = accord("handover", "list", "--agency", "JPN.NPA", "--data-dir", str(tmp_path))
        assert "dead" in listing
        assert "http 500" in listing
        endpoint.script.clear()  # the agency system is fixed
        assert accord(
            "handover", "retry", "--agency", "JPN.NPA", "--data-dir", str(tmp_path), "--dead"
        ).startswith("1 handover(s) due again")
        assert await until(lambda: counts(path)["delivered"] == 1)
    finally:
        await dispatcher.stop()
        await endpoint.stop()
        inbox.close()
    assert endpoint.message_ids() == {delivery(1).message_id}
    assert endpoint.answers.count("500") >= 2


async def test_a_rebuilt_inbox_does_not_hand_over_again_unless_asked(tmp_path: Path) -> None:
    secret = new_secret()
    endpoint = AgencyEndpoint(secret)
    await endpoint.start()
    target = Endpoint(endpoint.url, parse_secret(secret), FAST)
    path = tmp_path / "inbox.sqlite"

    async def run_node(until_check: Callable[[], bool]) -> None:
        inbox = Inbox(path, outbox=True)
        inbox.land([delivery(1), delivery(2)], {})
        dispatcher = Dispatcher(target, path, agency="JPN.NPA")
        await dispatcher.start()
        try:
            assert await until(until_check)
        finally:
            await dispatcher.stop()
            inbox.close()

    try:
        await run_node(lambda: counts(path)["delivered"] == 2)
        assert len(endpoint.taken) == 2
        for name in ("inbox.sqlite", "inbox.sqlite-wal", "inbox.sqlite-shm"):
            (tmp_path / name).unlink(missing_ok=True)  # rebuilt: the ledger stays
        assert (tmp_path / LEDGER_FILE).exists()
        await run_node(lambda: counts(path)["delivered"] == 2)
        assert len(endpoint.taken) == 2  # nothing sent again
        listing = accord("handover", "list", "--agency", "JPN.NPA", "--data-dir", str(tmp_path))
        assert listing.count("taken before (ledger)") == 2

        # Unless asked: --force sends it again, under the same webhook-id.
        mid = delivery(1).message_id
        accord(
            "handover", "retry", "--agency", "JPN.NPA", "--data-dir", str(tmp_path), "--force", mid
        )
        await run_node(lambda: len(endpoint.taken) == 3)
    finally:
        await endpoint.stop()
    assert endpoint.copies()[mid] == 2
    assert len({h for h, d in endpoint.taken if d["message_id"] == mid}) == 1


@pytest.mark.kafka
async def test_accord_receive_hands_over_once_its_endpoint_comes_up(
    exchange: LocalExchange,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real command: `accord receive --webhook URL --webhook-secret-env VAR`."""
    from accord.node.process import start_receiver_process, stop_process
    from accord.plan import dump_plan

    secret = new_secret()
    monkeypatch.setenv("AGENCY_WEBHOOK_SECRET", secret)
    endpoint = AgencyEndpoint(secret)
    await endpoint.start()
    await endpoint.stop()  # the port is known; the agency system is down
    data_dir = tmp_path / "jpn.npa"
    node = start_receiver_process(
        agency="JPN.NPA",
        connection=exchange.connection,
        plan_file=dump_plan(exchange.plan, tmp_path / "plan.yaml"),
        pki_dir=exchange.pki.bundle_path.parent,
        data_dir=data_dir,
        log=tmp_path / "node.log",
        options=("--webhook", endpoint.url, "--webhook-secret-env", "AGENCY_WEBHOOK_SECRET"),
    )
    try:
        ids = await _publish(exchange, 3)
        inbox_path = data_dir / "inbox.sqlite"
        assert await until(lambda: counts(inbox_path).get("pending") == 3)
        await endpoint.start()
        assert await endpoint.wait_for(set(ids))
        assert await until(lambda: counts(inbox_path).get("delivered") == 3)
    finally:
        stop_process(node)
        await endpoint.stop()
    assert node.returncode == 0
    assert endpoint.bad_signatures == 0
    assert endpoint.message_ids() == set(ids)
    log = (tmp_path / "node.log").read_text()
    assert secret not in log  # the secret is never logged
    assert secret.removeprefix("whsec_") not in log
