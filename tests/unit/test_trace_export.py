"""With an OpenTelemetry SDK configured, a handover is exported as a span in the
message's trace, and the request's ``traceparent`` names that very span.

Run in a child interpreter: a tracer provider is set once per process, and the
rest of the suite runs without one (the default: nothing recorded or exported).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SCRIPT = r"""
import asyncio, json, sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from opentelemetry import trace as otel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
otel.set_tracer_provider(provider)

from accord.handover import Dispatcher, Endpoint, HandoverPolicy, new_secret, parse_secret
from accord.receiver.inbox import Delivery, Inbox

PARENT, directory = sys.argv[1], Path(sys.argv[2])


async def main() -> dict[str, object]:
    seen: list[str] = []

    async def inbound(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent", ""))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/in", inbound)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    payload = json.dumps({"header": {"correlation_id": "c0ffee00-0000-4000-8000-000000000000"},
                          "label": {}, "body": {}}).encode()
    d = Delivery(message_id="00000000-0000-4000-8000-000000000001",
                 type="accord.information_report.v1", sender="AUS.AFP", scope="bilateral",
                 area="counter-terrorism", sequence=1, issued_at=datetime.now(UTC),
                 topic="t.x", partition=0, offset=0, payload_sha256="0" * 64,
                 payload=payload, raw=b"envelope")
    path = directory / "inbox.sqlite"
    inbox = Inbox(path, outbox=True)
    inbox.land([d], {}, traces={(d.sender, d.message_id): PARENT})
    policy = HandoverPolicy(timeout_s=2.0, poll_s=0.1)
    dispatcher = Dispatcher(Endpoint(f"http://127.0.0.1:{port}/in",
                                     parse_secret(new_secret()), policy), path,
                            agency="JPN.NPA")
    await dispatcher.start()
    for _ in range(300):  # a bound, not a figure
        if seen and exporter.get_finished_spans():
            break
        await asyncio.sleep(0.05)
    await dispatcher.stop()
    await runner.cleanup()
    inbox.close()
    return {"header": seen[0] if seen else None, "spans": [
        {"name": s.name, "trace_id": f"{s.context.trace_id:032x}",
         "span_id": f"{s.context.span_id:016x}",
         "correlation_id": s.attributes.get("accord.correlation_id")}
        for s in exporter.get_finished_spans()]}


print(json.dumps(asyncio.run(main())))
"""


def test_a_configured_sdk_exports_the_handover_span_the_request_names(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, PARENT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    (exported,) = result["spans"]
    assert exported["name"] == "accord.handover"
    assert exported["trace_id"] == PARENT.split("-")[1]
    assert exported["correlation_id"] == "c0ffee00-0000-4000-8000-000000000000"
    assert result["header"] == f"00-{exported['trace_id']}-{exported['span_id']}-01"
