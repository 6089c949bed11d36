"""What a launcher remembers in its data dir, so a later process can find and stop it.

``state.json`` (mode 0600: it holds the generated passwords of a throw-away broker)
records the ports, mode, cluster id and pid. The CLI's ``start`` writes it and
exits; ``stop``/``status`` read it. Ports are kept so a restart keeps its address.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from accord.broker.config import Mode
from accord.errors import BrokerError

STATE_FILE = "state.json"

_M = TypeVar("_M", bound=BaseModel)


class NodeState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    node_id: int
    mode: Mode
    host: str
    client_port: int
    controller_port: int
    internal_port: int | None = None
    cluster_id: str
    kafka_version: str
    admin_user: str
    admin_password: str | None = None
    broker_password: str | None = None
    tls_port: int | None = None
    """The TLS listener's port, when the broker has one (accord.broker.config.TlsListener)."""
    tls_client_auth: bool = False
    tls_cafile: str | None = None
    """The throw-away CA's certificate: what TLS clients must trust (ACCORD_SSL_CAFILE)."""
    pid: int | None = None


class ClusterState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nodes: int
    mode: Mode
    cluster_id: str


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (it may hold broker secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def read_state(path: Path, model: type[_M]) -> _M | None:
    if not path.is_file():
        return None
    try:
        return model.model_validate_json(path.read_text())
    except ValueError as exc:
        raise BrokerError(
            f"unreadable broker state {path}: {exc}",
            hint="stop any broker using that data dir, then delete the directory",
        ) from None


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free right now on ``host``, for listeners to bind soon.

    All sockets stay open until every port is picked: picked one at a time, the
    kernel may hand out the same port twice (a port closed is free again), and two
    listeners of a cluster would then collide.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()



def pid_alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line holds ``marker`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text()
        if ") Z " in status:  # a zombie is not running
            return False
    return marker.encode() in cmdline
