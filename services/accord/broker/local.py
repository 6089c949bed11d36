"""Find the broker or cluster that a data dir holds, from its state file."""

from __future__ import annotations

import json
from pathlib import Path

from accord.broker.cluster import LocalCluster
from accord.broker.node import LocalBroker
from accord.broker.state import STATE_FILE
from accord.errors import BrokerError


def open_local(data_dir: Path | str, *, detach: bool = True) -> LocalBroker | LocalCluster:
    """The LocalBroker or LocalCluster recorded in ``data_dir`` (as left by a start).

    ``detach=True`` (the default) means this process does not own the JVMs: they are
    not killed when it exits, which is what ``accord broker stop/status`` need.
    """
    path = Path(data_dir) / STATE_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise BrokerError(
            f"no broker state in {data_dir}", hint="start one with `accord broker start`"
        ) from None
    except (OSError, ValueError) as exc:
        raise BrokerError(f"unreadable broker state {path}: {exc}") from None
    if "nodes" in raw:
        return LocalCluster(data_dir, nodes=int(raw["nodes"]), mode=raw["mode"], detach=detach)
    return LocalBroker(
        data_dir, mode=raw["mode"], node_id=int(raw.get("node_id", 1)), detach=detach
    )
