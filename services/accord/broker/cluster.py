"""A KRaft cluster of local nodes: one JVM per node, each combined broker+controller.

Every node is a voter of a static quorum (``controller.quorum.voters``), so three
nodes tolerate one failure in both the metadata quorum and, with RF=3 and
min.insync.replicas=2, the data. Node ``n`` lives in ``data_dir/node-n``.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from accord.broker.config import MODES, Mode, NodePorts
from accord.broker.node import LocalBroker, Membership, new_cluster_id
from accord.broker.state import (
    STATE_FILE,
    ClusterState,
    NodeState,
    free_ports,
    read_state,
    write_private,
)
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.observability.logs import get_logger

_log = get_logger(__name__)


class LocalCluster:
    """``nodes`` local Kafka nodes sharing one cluster id and quorum; see LocalBroker."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        nodes: int = 3,
        mode: Mode = "plain",
        host: str = "127.0.0.1",
        admin_user: str = "admin",
        admin_password: str | None = None,
        scram_users: Mapping[str, str] | None = None,
        extra_properties: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> None:
        if mode not in MODES:
            raise BrokerError(f"unknown broker mode {mode!r}", hint="use 'plain' or 'scram'")
        if nodes < 1:
            raise BrokerError("a cluster needs at least one node")
        self.data_dir = Path(data_dir).resolve()
        self.ready_seconds: float | None = None
        old = read_state(self.data_dir / STATE_FILE, ClusterState)
        if old is not None and (old.nodes, old.mode) != (nodes, mode):
            raise BrokerError(
                f"{self.data_dir} holds a {old.nodes}-node {old.mode!r} cluster",
                hint="use another --data-dir, or delete this one",
            )
        self._state = old or ClusterState(nodes=nodes, mode=mode, cluster_id=new_cluster_id())
        ids = range(1, nodes + 1)
        # Ports of every node are needed up front: each node lists all voters.
        known = {i: read_state(self._node_dir(i) / STATE_FILE, NodeState) for i in ids}
        # Fresh ports for every node are picked together, so no two collide.
        per_node = 3 if mode == "scram" else 2
        fresh = iter(free_ports(host, per_node * sum(1 for s in known.values() if s is None)))
        ports = {
            i: (
                NodePorts(s.client_port, s.controller_port, s.internal_port)
                if s is not None
                else NodePorts(
                    next(fresh),
                    next(fresh),
                    next(fresh) if mode == "scram" else None,
                )
            )
            for i, s in known.items()
        }
        broker_password = next(
            (s.broker_password for s in known.values() if s is not None),
            secrets.token_urlsafe(18) if mode == "scram" else None,
        )
        admin_password = admin_password or next(
            (s.admin_password for s in known.values() if s is not None), None
        )
        if mode == "scram" and admin_password is None:
            admin_password = secrets.token_urlsafe(18)
        voters = [(i, ports[i].controller) for i in ids]
        self._nodes = {
            i: LocalBroker(
                self._node_dir(i),
                mode=mode,
                host=host,
                admin_user=admin_user,
                admin_password=admin_password,
                scram_users=scram_users,
                extra_properties=extra_properties,
                node_id=i,
                detach=detach,
                membership=Membership(
                    cluster_id=self._state.cluster_id,
                    ports=ports[i],
                    voters=voters,
                    broker_password=broker_password,
                ),
            )
            for i in ids
        }

    def _node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    @property
    def mode(self) -> Mode:
        return self._state.mode

    @property
    def nodes(self) -> list[LocalBroker]:
        return list(self._nodes.values())

    def node(self, node_id: int) -> LocalBroker:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise BrokerError(f"no node {node_id}; nodes are {sorted(self._nodes)}") from None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(n.bootstrap_servers for n in self.nodes)

    @property
    def is_running(self) -> bool:
        return any(n.is_running for n in self.nodes)

    def connection(
        self, username: str | None = None, password: str | None = None
    ) -> KafkaConnection:
        base = self.nodes[0].connection(username, password)
        return base.model_copy(update={"bootstrap_servers": self.bootstrap_servers})

    def start(self, timeout: float = 180.0) -> None:
        """Spawn every node, then wait until metadata lists all of them."""
        write_private(self.data_dir / STATE_FILE, self._state.model_dump_json(indent=2) + "\n")
        began = time.monotonic()
        try:
            # Formatting is a short JVM run per node: do them side by side.
            with ThreadPoolExecutor(max_workers=len(self._nodes)) as pool:
                list(pool.map(lambda n: n.prepare(), self.nodes))
            # All at once: a lone voter cannot elect a leader, so nodes wait for each other.
            for n in self.nodes:
                n.launch()
            for n in self.nodes:
                left = max(1.0, timeout - (time.monotonic() - began))
                n.wait_ready(left, brokers=len(self._nodes))
        except BaseException:
            self.kill_all()
            raise
        self.ready_seconds = time.monotonic() - began
        _log.info(
            "broker.cluster_ready", nodes=len(self._nodes), seconds=round(self.ready_seconds, 2)
        )

    def stop(self, timeout: float = 30.0) -> dict[int, int | None]:
        """SIGTERM every node at once (so none waits on a quorum that is leaving), then wait."""
        for n in self.nodes:
            if n.pid is not None:
                # Signal all first, reap below: stopping one by one would leave the
                # last nodes without a quorum for their controlled shutdown.
                os.kill(n.pid, signal.SIGTERM)
        return {n.node_id: n.stop(timeout) for n in self.nodes}

    def kill_all(self) -> None:
        for n in self.nodes:
            n.kill()

    def kill(self, node_id: int) -> int | None:
        return self.node(node_id).kill()

    def stop_node(self, node_id: int, timeout: float = 20.0) -> int | None:
        return self.node(node_id).stop(timeout)

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Stop (if running) and start one node; it rejoins with its data and ports."""
        node = self.node(node_id)
        node.stop()
        node.launch()
        node.wait_ready(timeout, brokers=len(self._nodes))

    def __repr__(self) -> str:
        return (
            f"LocalCluster(nodes={len(self._nodes)}, mode={self.mode!r}, "
            f"bootstrap={self.bootstrap_servers!r})"
        )
