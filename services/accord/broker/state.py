"""What a launcher remembers in its data dir, so a later process can find and stop it.

``state.json`` (mode 0600: it holds the generated passwords of a throw-away broker)
records the ports, mode, cluster id and pid. The CLI's ``start`` writes it and
exits; ``stop``/``status`` read it. Ports are kept so a restart keeps its address.
"""

from __future__ import annotations

import contextlib
import os
import random
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


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LISTENER_FLOOR = 10_000
_handed_out: set[int] = set()
"""Ports this process has already given to a listener (a node may not have bound yet)."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free right now on ``host``, for listeners to bind soon.

    Picked *below* the kernel's ephemeral range. A broker keeps its ports across a
    restart; a port from the ephemeral range can meanwhile become the local end of
    some client's outgoing connection, and the restarted broker then fails to
    bind. Below the range, the kernel
    never hands the port out by itself. Ports are also remembered for this process,
    so two nodes started together never get the same one before either binds.
    """
    low, _high = _ephemeral_range()
    floor = _LISTENER_FLOOR if low > _LISTENER_FLOOR + 1000 else 1024
    candidates = list(range(floor, low))
    random.shuffle(candidates)
    picked: list[int] = []
    for port in candidates:
        if port in _handed_out or not _bindable(host, port):
            continue
        picked.append(port)
        _handed_out.add(port)
        if len(picked) == count:
            return picked
    raise BrokerError(
        f"found only {len(picked)} of {count} free ports on {host} in {floor}-{low - 1}",
        hint="stop other local brokers, or widen the range below net.ipv4.ip_local_port_range",
    )


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
