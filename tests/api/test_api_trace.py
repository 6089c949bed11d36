"""Trace and correlation through the node API: two agency nodes as processes on a
real broker. A caller's ``traceparent`` is continued; ``correlation_id`` is signed
into the header and logged by the receiving node in the same trace."""

from __future__ import annotations

import base64
import json
import time
import uuid

from jwcrypto import jws

from accord.testing import NodeProcess
from conftest import report

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = PARENT.split("-")[1]


def _delivered(node: NodeProcess, message_id: str) -> dict[str, object] | None:
    for line in node.log_path.read_text(errors="replace").splitlines():
        if message_id in line and line.startswith("{"):
            event = json.loads(line)
            # A node at INFO logs one line per landed batch; a batch of one names its
            # message and carries its trace.
            if (
                event.get("event") == "receiver.batch_landed"
                and event.get("message_id") == message_id
            ):
                return dict(event)
    return None


def test_a_callers_traceparent_and_correlation_id_reach_the_receiving_nodes_log(
    dfat: NodeProcess,
    mofa: NodeProcess,
) -> None:
    cid = str(uuid.uuid4())
    sent = dfat.request(
        "POST",
        "/v1/messages",
        {**report("Traced"), "correlation_id": cid},
        headers={"traceparent": PARENT},
    )
    assert sent.status == 201, sent.json
    assert sent.json["trace_id"] == TRACE_ID
    message_id = sent.json["message_id"]
    mofa.wait_for_message(message_id)

    full = mofa.get(f"/v1/inbox/{message_id}")
    token = jws.JWS()
    token.deserialize(base64.b64decode(full.json["envelope_base64"]).decode())
    assert json.loads(token.objects["payload"])["header"]["correlation_id"] == cid

    deadline = time.monotonic() + 30  # the log line is written just after the landing
    event = _delivered(mofa, message_id)
    while event is None and time.monotonic() < deadline:
        time.sleep(0.2)
        event = _delivered(mofa, message_id)
    assert event is not None
    assert event["trace_id"] == TRACE_ID
    assert event["correlation_id"] == cid


def test_a_malformed_caller_traceparent_is_ignored(dfat: NodeProcess) -> None:
    sent = dfat.request(
        "POST", "/v1/messages", report("Untraced"), headers={"traceparent": PARENT.upper()}
    )
    assert sent.status == 201, sent.json
    assert sent.json["trace_id"] not in (None, TRACE_ID)
