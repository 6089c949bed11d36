"""How long an agency system waits for a publish through its node's API, and until the
message has landed in the other agency's inbox. Starts its own broker and two nodes
(the accord pytest plugin's parts), publishes N messages one after the other over
HTTP, and prints the figures.

    .venv/bin/python examples/clients/measure_publish.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from accord.broker import LocalBroker
from accord.plan import load_plan
from accord.testing import AccordExchange


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = LocalBroker(Path(tmp) / "kafka", mode="plain")
        broker.start()
        exchange = AccordExchange.create(load_plan(None), broker.connection(), Path(tmp) / "ex")
        try:
            dfat, mofa = exchange.start_node("AUS.DFAT"), exchange.start_node("JPN.MOFA")
            publish, land = [], []
            for i in range(n):
                started = time.perf_counter()
                sent = dfat.post("/v1/messages", {
                    "type": "accord.information-report.v1", "scope": "bilateral",
                    "area": "counter-proliferation",
                    "body": {"title": f"Measured {i}", "priority": "routine",
                             "details": "x" * 700, "region": "South-East Asia"}})
                publish.append(time.perf_counter() - started)
                mofa.wait_for_message(sent.json["message_id"])
                land.append(time.perf_counter() - started)
            for name, xs in (("publish (HTTP 201, broker acked)", publish),
                             ("published to landed at the other node", land)):
                ms = sorted(x * 1000 for x in xs)
                print(f"{name}: n={n} median {statistics.median(ms):.1f} ms, "
                      f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms")
        finally:
            exchange.close()
            broker.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
