"""``accord receive`` with (b)'s landing probe: the deployed run's receiving node.

    python -m accord.bench.probed_node OUT.json -- --log-level WARNING --log-json receive ...

Runs the real ``accord`` command line unchanged, with one addition: every
``Inbox.land`` that lands messages records, as it returns (the inbox transaction
has committed), each landed message's ``issued_at`` and that instant. The pairs are
written to ``OUT.json`` as the process exits (SIGTERM lets the node finish and
exit normally). So the deployed figures end at the same point as (b)'s
``LandProbe``: after the inbox commit, not as the landing transaction begins.
"""

from __future__ import annotations

import atexit
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def install(out: Path) -> None:
    from accord.receiver.inbox import Delivery, Inbox, Landing, StatusChange

    landings: list[tuple[float, float]] = []
    land = Inbox.land

    def timed(
        self: Inbox,
        deliveries: Iterable[Delivery],
        offsets: dict[tuple[str, int], int],
        status_changes: Iterable[StatusChange] = (),
        **options: Any,
    ) -> Landing:
        batch = list(deliveries)
        landing = land(self, batch, offsets, status_changes, **options)
        if landing.landed:
            now = datetime.now(UTC).timestamp()
            fresh = set(landing.landed)
            landings.extend(
                (d.issued_at.timestamp(), now) for d in batch if (d.sender, d.message_id) in fresh
            )
        return landing

    setattr(Inbox, "land", timed)  # noqa: B010 - replaced in this process only, on purpose
    atexit.register(lambda: out.write_text(json.dumps(landings), encoding="ascii"))


def read_landings(path: Path) -> list[tuple[datetime, datetime]]:
    """(issued_at, landed_at) pairs the probed node wrote."""
    pairs = json.loads(path.read_text(encoding="ascii"))
    return [(datetime.fromtimestamp(i, UTC), datetime.fromtimestamp(r, UTC)) for i, r in pairs]


def main(argv: list[str]) -> None:
    out, separator, *accord_args = argv
    if separator != "--":
        raise SystemExit("usage: python -m accord.bench.probed_node OUT.json -- ACCORD_ARGS")
    install(Path(out))
    from accord.cli.main import main as accord_main

    sys.argv = ["accord", *accord_args]
    accord_main()


if __name__ == "__main__":
    main(sys.argv[1:])
