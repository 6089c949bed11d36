"""The node's HTTP API on a real broker: two agency nodes as processes, talking over Kafka."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from jwcrypto import jwk, jws

from accord.kafka import close_producer, new_producer, start_producer
from accord.testing import AccordExchange, NodeProcess
from accord.trust.pki import PkiDirectory
from conftest import report

PROBLEM = "application/problem+json"


def test_a_message_published_through_one_node_lands_in_the_others_inbox(
    dfat: NodeProcess, mofa: NodeProcess, accord_exchange: AccordExchange
) -> None:
    sent = dfat.post("/v1/messages", report())
    assert sent.status == 201, sent.json
    assert sent.json["topic"].endswith(".bilateral.counter-proliferation")

    landed = mofa.wait_for_message(sent.json["message_id"])
    assert landed["sender"] == "AUS.DFAT"
    assert landed["status"] == "current"

    full = mofa.get(f"/v1/inbox/{sent.json['message_id']}")
    assert full.status == 200
    assert full.json["body"]["title"] == "Port call by a vessel of interest"
    assert full.json["label"]["originator"] == "AUS.DFAT"
    # The raw envelope re-verifies with an independent JOSE library and DFAT's key.
    token = jws.JWS()
    token.deserialize(base64.b64decode(full.json["envelope_base64"]).decode())
    cert = PkiDirectory(accord_exchange.pki_dir).signer("AUS.DFAT").certificate
    token.verify(jwk.JWK.from_pyca(cert.public_key()), alg="EdDSA")
    assert json.loads(token.payload)["header"]["message_id"] == sent.json["message_id"]


def test_a_retried_publish_with_the_same_idempotency_key_publishes_once(
    dfat: NodeProcess, mofa: NodeProcess
) -> None:
    key = str(uuid.uuid4())
    first = dfat.post("/v1/messages", report("Retried"), idempotency_key=key)
    again = dfat.post("/v1/messages", report("Retried"), idempotency_key=key)
    assert first.status == again.status == 201
    assert again.json == first.json
    assert again.headers.get("idempotent-replayed") == "true"

    mofa.wait_for_message(first.json["message_id"])
    # A later message from DFAT lands after it; between them, nothing else titled so.
    marker = dfat.post("/v1/messages", report("Marker after retry"))
    mofa.wait_for_message(marker.json["message_id"])
    titles = [
        mofa.get(f"/v1/inbox/{m['message_id']}").json["body"]["title"]
        for m in mofa.get("/v1/inbox?limit=500").json["messages"]
        if m["sender"] == "AUS.DFAT"
    ]
    assert titles.count("Retried") == 1


def test_an_idempotency_key_reused_for_another_message_is_refused(dfat: NodeProcess) -> None:
    key = str(uuid.uuid4())
    assert dfat.post("/v1/messages", report("One"), idempotency_key=key).status == 201
    other = dfat.post("/v1/messages", report("Another"), idempotency_key=key)
    assert other.status == 422
    assert other.headers["content-type"] == PROBLEM
    assert other.json["code"] == "idempotency-key-reused"


def test_release_supersede_and_retract_through_the_api(
    dfat: NodeProcess, mofa: NodeProcess
) -> None:
    original = dfat.post("/v1/messages", report("To be released")).json["message_id"]
    released = dfat.post(f"/v1/messages/{original}/release", None)
    assert released.status == 201, released.json
    assert ".trilateral.counter-proliferation" in released.json["topic"]

    superseding = dfat.post(
        f"/v1/messages/{original}/supersede",
        {
            "reason": "Corrected the port name.",
            "replacement_summary": "Same call, at the neighbouring port.",
        },
    )
    assert superseding.status == 201, superseding.json
    mofa.wait_for_message(superseding.json["message_id"])
    assert mofa.get(f"/v1/inbox/{original}").json["status"] == "superseded"

    retracting = dfat.post(
        f"/v1/messages/{original}/retract", {"reason": "Reporting withdrawn by the originator."}
    )
    assert retracting.status == 201, retracting.json
    mofa.wait_for_message(retracting.json["message_id"])
    assert mofa.get(f"/v1/inbox/{original}").json["status"] == "retracted"

    # Only the originator may: MOFA never published it.
    foreign = mofa.post(f"/v1/messages/{original}/retract", {"reason": "Not mine."})
    assert foreign.status == 403
    assert foreign.json["code"] == "not-originator"


@pytest.mark.parametrize(
    ("request_body", "status", "code"),
    [
        (report(area="law-enforcement"), 403, "not-entitled"),
        ({**report(), "body": {"title": "No priority"}}, 422, "schema-invalid"),
        ({**report(), "label": {"classification": "COSMIC"}}, 422, "unknown-label-value"),
        ({**report(), "type": "accord.receipt.v1"}, 422, "schema-invalid"),
        ({**report(), "extra": 1}, 422, "schema-invalid"),
    ],
    ids=["not-entitled", "body", "label", "receipt-type", "extra-field"],
)
def test_refusals_are_problem_details_with_accords_reason_codes(
    dfat: NodeProcess, request_body: dict[str, object], status: int, code: str
) -> None:
    answer = dfat.post("/v1/messages", request_body)
    assert (answer.status, answer.json["code"]) == (status, code)
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json["type"] == f"urn:accord:problem:{code}"
    assert answer.json["status"] == status
    assert answer.json["detail"]


def test_malformed_json_unknown_ids_and_bad_cursors_are_problems(dfat: NodeProcess) -> None:
    raw = dfat.request("POST", "/v1/messages", headers={"Content-Type": "application/json"})
    assert raw.status == 422  # no body at all
    missing = dfat.get(f"/v1/inbox/{uuid.uuid4()}")
    assert (missing.status, missing.json["code"]) == (404, "not-found")
    cursor = dfat.get("/v1/inbox?after=not-a-cursor")
    assert (cursor.status, cursor.json["code"]) == (400, "bad-cursor")
    assert dfat.get("/v1/nowhere").json["code"] == "not-found"


@pytest.mark.parametrize(
    "path",
    ["/v1/status", "/v1/inbox", "/v1/quarantine", "/v1/openapi.json", f"/v1/inbox/{uuid.uuid4()}"],
)
@pytest.mark.parametrize("token", ["", "acc_not-a-token-this-node-knows"], ids=["none", "wrong"])
def test_nothing_is_served_without_credentials(dfat: NodeProcess, path: str, token: str) -> None:
    answer = dfat.get(path, token=token)
    assert answer.status == 401
    assert answer.json["code"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_publishing_needs_credentials_too(dfat: NodeProcess) -> None:
    answer = dfat.post("/v1/messages", report(), token="")
    assert answer.status == 401


def test_a_long_poll_returns_as_soon_as_a_message_lands(
    dfat: NodeProcess, mofa: NodeProcess
) -> None:
    tail = mofa.get("/v1/inbox?limit=500")
    cursor = tail.json["next_cursor"]
    while tail.json["messages"]:  # reach the end of the inbox
        tail = mofa.get(f"/v1/inbox?limit=500&after={cursor}")
        cursor = tail.json["next_cursor"] or cursor
    got: list[object] = []
    poll = threading.Thread(
        target=lambda: got.append(mofa.get(f"/v1/inbox?wait=30&after={cursor}"))
    )
    poll.start()
    sent = dfat.post("/v1/messages", report("Long-polled"))
    poll.join()
    page = got[0]
    assert page.status == 200  # type: ignore[attr-defined]
    ids = [m["message_id"] for m in page.json["messages"]]  # type: ignore[attr-defined]
    assert sent.json["message_id"] in ids


async def test_a_refused_record_is_listed_in_quarantine_with_its_reason(
    mofa: NodeProcess, accord_exchange: AccordExchange
) -> None:
    topic = accord_exchange.plan.receive_topics("JPN.MOFA")[0]
    marker = f"not an envelope {uuid.uuid4()}".encode()
    producer = new_producer(accord_exchange.connection)
    await start_producer(producer, timeout_s=30)
    try:
        await (await producer.send(topic, value=marker, key=b"AUS.DFAT"))
    finally:
        await close_producer(producer, timeout_s=10)

    found: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while not found and time.monotonic() < deadline:  # until the node has refused it
        page = mofa.get("/v1/quarantine?limit=500")
        found = [
            r for r in page.json["records"] if base64.b64decode(r["envelope_base64"]) == marker
        ]
        await asyncio.sleep(0.2)
    assert found, "the malformed record never reached the quarantine listing"
    assert found[0]["reason"] == "malformed"
    assert found[0]["source_topic"] == topic
    assert found[0]["claimed_sender"] == "AUS.DFAT"
    assert mofa.get(f"/v1/quarantine?after={found[0]['cursor']}").status == 200
    # A way back (issue 13): replay verifies it again with today's trust; it still fails.
    again = mofa.post(f"/v1/quarantine/0:{found[0]['offset']}/replay", {})
    assert again.status == 200, again.json
    assert (again.json["outcome"], again.json["reason"]) == ("still-refused", "malformed")
    assert again.json["hint"]
    nowhere = mofa.post("/v1/quarantine/0:999999999/replay", {})
    assert (nowhere.status, nowhere.json["code"]) == (404, "not-found")
    assert mofa.post("/v1/quarantine/0:0/replay", {}, token="").status == 401


def test_status_says_who_and_what(mofa: NodeProcess) -> None:
    status = mofa.get("/v1/status").json
    assert status["agency"] == "JPN.MOFA"
    assert status["ready"]
    assert status["healthy"]
    assert any(t.endswith(".bilateral.counter-proliferation") for t in status["receive_topics"])


def test_the_node_refuses_to_serve_an_api_without_credentials(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord",
            "node",
            "--agency",
            "AUS.DFAT",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error [config-invalid]: the API would serve without")
    assert "Traceback" not in result.stderr


def test_api_token_stores_only_the_digest(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "accord", "api", "token", "case-system", "--file", str(tokens)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = result.stdout.strip()
    assert token.startswith("acc_")
    assert token not in tokens.read_text()
    assert "case-system: sha256:" in tokens.read_text()
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"


def test_with_mutual_tls_a_client_without_a_certificate_is_refused(
    accord_exchange: AccordExchange,
) -> None:
    import ssl
    import urllib.error
    import urllib.request

    node = accord_exchange.start_node("JPN.NPA", mtls=True)
    try:
        assert node.url.startswith("https://")
        assert node.get("/v1/status").json["agency"] == "JPN.NPA"  # certificate and token
        no_cert = ssl.create_default_context(
            cafile=str(accord_exchange.directory / "api-tls" / "ca.crt")
        )
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(node.url + "/v1/status", context=no_cert, timeout=10)
    finally:
        node.stop()


def test_an_idempotency_key_is_honoured_across_a_node_restart(
    accord_exchange: AccordExchange, mofa: NodeProcess
) -> None:
    key = str(uuid.uuid4())
    defence = accord_exchange.start_node("AUS.DEFENCE")
    first = defence.post("/v1/messages", report("Before the restart"), idempotency_key=key)
    assert first.status == 201
    defence.stop()

    restarted = accord_exchange.start_node("AUS.DEFENCE")
    try:
        again = restarted.post("/v1/messages", report("Before the restart"), idempotency_key=key)
        assert again.json == first.json
        assert again.headers.get("idempotent-replayed") == "true"
        mofa.wait_for_message(first.json["message_id"])
    finally:
        restarted.stop()
