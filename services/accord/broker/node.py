"""One Kafka node: a JVM running combined broker+controller (KRaft) on loopback."""

from __future__ import annotations

import atexit
import base64
import ctypes
import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from accord.broker import tls as tls_files
from accord.broker.config import (
    JVM_OPTIONS,
    LOG4J2_PROPERTIES,
    MODES,
    BrokerNodeSettings,
    Mode,
    NodePorts,
    TlsListener,
    properties_text,
    render_properties,
    tls_protocol,
)
from accord.broker.jars import KAFKA_VERSION, ensure_jars, java_executable
from accord.broker.probe import MetadataProbe, port_open
from accord.broker.state import (
    STATE_FILE,
    NodeState,
    free_ports,
    pid_alive,
    read_state,
    write_private,
)
from accord.broker.tls import CertFiles
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.observability.logs import get_logger

_log = get_logger(__name__)

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
_TAIL_LINES = 25


@dataclass(frozen=True)
class TlsSettings:
    """Add a TLS listener (SSL in plain mode, SASL_SSL in scram mode) next to CLIENT.

    Certificates come from a throw-away CA the launcher makes in ``<data_dir>/tls``
    (accord.broker.tls); ``LocalBroker.tls_cafile`` is what clients must trust.
    ``client_auth=True`` makes the listener demand a client certificate signed by
    that CA (``ssl.client.auth=required``); issue one with ``issue_client_cert``.
    """

    client_auth: bool = False
    port: int = 0
    """The TLS listener's port; 0 picks a free one (kept across restarts)."""


@dataclass(frozen=True)
class Membership:
    """How a node fits in a LocalCluster: decided by the cluster, shared by all nodes."""

    cluster_id: str
    ports: NodePorts
    voters: Sequence[tuple[int, int]]
    broker_password: str | None


def new_cluster_id() -> str:
    """A Kafka ``Uuid`` string: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these too
            return text


def log_tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Brokers this process started and must not outlive it (unless detached).
_owned: weakref.WeakSet[LocalBroker] = weakref.WeakSet()


@atexit.register
def _reap() -> None:
    for broker in list(_owned):
        broker.kill()


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGKILL the JVM if this process dies (even by SIGKILL).

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only used
    from the main thread; elsewhere atexit and the test fixtures' finalizers remain.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


class LocalBroker:
    """A real Kafka broker in a child JVM, on loopback ports, with its state in ``data_dir``.

    ``mode="plain"``: PLAINTEXT, no authorizer. ``mode="scram"``: SASL_PLAINTEXT with
    SCRAM-SHA-512 and the StandardAuthorizer (see accord.broker.config). ``port=0``
    picks a free port. A data dir that already holds a broker keeps its ports, mode,
    cluster id and generated passwords, so ``restart`` (or a new LocalBroker on the
    same dir) comes back at the same address with the same data.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        mode: Mode = "plain",
        host: str = "127.0.0.1",
        port: int = 0,
        admin_user: str = "admin",
        admin_password: str | None = None,
        scram_users: Mapping[str, str] | None = None,
        tls: TlsSettings | None = None,
        extra_properties: Mapping[str, str] | None = None,
        node_id: int = 1,
        detach: bool = False,
        kafka_version: str = KAFKA_VERSION,
        membership: Membership | None = None,
    ) -> None:
        if mode not in MODES:
            raise BrokerError(f"unknown broker mode {mode!r}", hint="use 'plain' or 'scram'")
        if tls is not None and membership is not None:
            # Each node would need its own certificate and the cluster one CA: not built yet.
            raise BrokerError(
                "TLS listeners are supported on a single node only",
                hint="use LocalBroker (--nodes 1) with TLS",
            )
        self.data_dir = Path(data_dir).resolve()
        self.node_id = node_id
        self.detach = detach
        self.kafka_version = kafka_version
        self.scram_users = dict(scram_users or {})
        self.extra_properties = dict(extra_properties or {})
        self.ready_seconds: float | None = None
        """Seconds from spawn to serving metadata, for the last start."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._auto_ports = port == 0 and membership is None
        for name, password in [(admin_user, admin_password or ""), *self.scram_users.items()]:
            _check_scram_text(name, password)
        self._state = self._initial_state(mode, host, port, admin_user, admin_password, membership)
        if tls is not None:
            self._state = self._with_tls(tls)
        self._voters = (
            list(membership.voters) if membership else [(node_id, self._state.controller_port)]
        )

    # ----------------------------------------------------------------- state

    def _initial_state(
        self,
        mode: Mode,
        host: str,
        port: int,
        admin_user: str,
        admin_password: str | None,
        membership: Membership | None,
    ) -> NodeState:
        old = read_state(self.state_path, NodeState)
        if old is not None:
            if old.mode != mode:
                raise BrokerError(
                    f"{self.data_dir} holds a {old.mode!r} broker, not {mode!r}",
                    hint="use another --data-dir, or delete this one",
                )
            if admin_password is not None and old.admin_password not in (None, admin_password):
                raise BrokerError(
                    f"{self.data_dir} was formatted with another admin password",
                    hint="SCRAM users are created at format time; use a fresh data dir",
                )
            if port and port != old.client_port:
                raise BrokerError(
                    f"{self.data_dir} serves on port {old.client_port}, not {port}",
                    hint="omit --port, or use a fresh data dir",
                )
            if membership is not None:  # the cluster's record wins
                old = old.model_copy(update={"cluster_id": membership.cluster_id})
            return old
        scram = mode == "scram"
        if membership is not None:
            ports = membership.ports
            cluster_id = membership.cluster_id
            broker_password = membership.broker_password
        else:
            picked = free_ports(host, 3)  # together, so distinct
            ports = NodePorts(
                client=port or picked[0],
                controller=picked[1],
                internal=picked[2] if scram else None,
            )
            cluster_id = new_cluster_id()
            broker_password = secrets.token_urlsafe(18) if scram else None
        return NodeState(
            node_id=self.node_id,
            mode=mode,
            host=host,
            client_port=ports.client,
            controller_port=ports.controller,
            internal_port=ports.internal,
            cluster_id=cluster_id,
            kafka_version=self.kafka_version,
            admin_user=admin_user,
            admin_password=(admin_password or secrets.token_urlsafe(18)) if scram else None,
            broker_password=broker_password,
        )

    def _with_tls(self, tls: TlsSettings) -> NodeState:
        """Record the TLS listener. A data dir that has one keeps its port unless told."""
        s = self._state
        taken = {s.client_port, s.controller_port, s.internal_port}
        port = tls.port or s.tls_port or next(
            p for p in free_ports(s.host, 4) if p not in taken  # not one of ours, unbound yet
        )
        if tls.port and s.tls_port and tls.port != s.tls_port and self.is_running:
            raise BrokerError(
                f"the running broker serves TLS on port {s.tls_port}",
                hint="stop it first, or omit the TLS port",
            )
        return s.model_copy(
            update={
                "tls_port": port,
                "tls_client_auth": tls.client_auth,
                "tls_cafile": str(self.tls_dir / tls_files.CA_CERT),
            }
        )

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "server.log"

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def mode(self) -> Mode:
        return self._state.mode

    @property
    def host(self) -> str:
        return self._state.host

    @property
    def ports(self) -> NodePorts:
        s = self._state
        return NodePorts(s.client_port, s.controller_port, s.internal_port)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self._state.host}:{self._state.client_port}"

    @property
    def admin_user(self) -> str:
        return self._state.admin_user

    @property
    def admin_password(self) -> str | None:
        return self._state.admin_password

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def tls(self) -> TlsSettings | None:
        """The TLS listener's settings, or None when the broker has no TLS listener."""
        s = self._state
        if s.tls_port is None:
            return None
        return TlsSettings(client_auth=s.tls_client_auth, port=s.tls_port)

    @property
    def tls_bootstrap_servers(self) -> str:
        if self._state.tls_port is None:
            raise BrokerError("this broker has no TLS listener", hint="start it with tls=...")
        return f"{self._state.host}:{self._state.tls_port}"

    @property
    def tls_cafile(self) -> Path:
        """The CA certificate TLS clients must trust (made on the first TLS start)."""
        if self._state.tls_cafile is None:
            raise BrokerError("this broker has no TLS listener", hint="start it with tls=...")
        return Path(self._state.tls_cafile)

    @property
    def pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        pid = self._state.pid
        return pid if pid is not None and pid_alive(pid, self._marker) else None

    @property
    def is_running(self) -> bool:
        return self.pid is not None

    @property
    def _marker(self) -> str:
        # On the JVM command line, so a pid from state.json is checked to be ours.
        return f"-Daccord.broker.dir={self.data_dir}"

    def _save_state(self) -> None:
        write_private(self.state_path, self._state.model_dump_json(indent=2) + "\n")

    # ------------------------------------------------------------ connection

    def connection(
        self, username: str | None = None, password: str | None = None
    ) -> KafkaConnection:
        """Client settings for this broker; in scram mode, as the admin unless told otherwise."""
        if self.mode == "plain":
            return KafkaConnection(bootstrap_servers=self.bootstrap_servers)
        user = username or self.admin_user
        if password is None:
            password = (
                self.admin_password if user == self.admin_user else self.scram_users.get(user)
            )
        if password is None:
            raise BrokerError(f"no password known for SCRAM user {user!r}")
        return KafkaConnection.model_validate(
            {
                "bootstrap_servers": self.bootstrap_servers,
                "security_protocol": "SASL_PLAINTEXT",
                "username": user,
                "password": password,
            }
        )

    def tls_connection(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        client_cert: CertFiles | None = None,
    ) -> KafkaConnection:
        """Client settings for the TLS listener: SSL (plain) or SASL_SSL (scram), trusting
        the broker's CA; ``client_cert`` when the listener requires one."""
        base = self.connection(username, password)
        values = base.model_dump() | {
            "bootstrap_servers": self.tls_bootstrap_servers,
            "security_protocol": tls_protocol(self.mode),
            "ssl_cafile": self.tls_cafile,
        }
        if client_cert is not None:
            values |= {"ssl_certfile": client_cert.certfile, "ssl_keyfile": client_cert.keyfile}
        return KafkaConnection.model_validate(values)

    def issue_client_cert(self, name: str) -> CertFiles:
        """A client certificate (``CN=name``) from this broker's CA, for ``client_auth``."""
        self.tls_cafile  # noqa: B018 (raises a clear error when there is no TLS listener)
        return tls_files.LocalCa.ensure(self.tls_dir).issue_client(name)

    def serves_metadata(self, timeout: float = 3.0) -> bool:
        """True if the broker answers a metadata request (as the admin in scram mode)."""
        if not port_open(self.host, self._state.client_port):
            return False
        return MetadataProbe(self.connection()).brokers(timeout) > 0

    # ------------------------------------------------------------- lifecycle

    def settings(self) -> BrokerNodeSettings:
        return BrokerNodeSettings(
            node_id=self.node_id,
            host=self.host,
            mode=self.mode,
            ports=self.ports,
            log_dir=self.data_dir / "kraft",
            voters=self._voters,
            broker_password=self._state.broker_password,
            admin_user=self.admin_user,
            tls=self._tls_listener(),
            extra=self.extra_properties,
        )

    def _tls_listener(self) -> TlsListener | None:
        s = self._state
        if s.tls_port is None:
            return None
        return TlsListener(
            port=s.tls_port,
            keystore=self.tls_dir / tls_files.BROKER_KEYSTORE,
            truststore=self.tls_dir / tls_files.CA_CERT,
            client_auth=s.tls_client_auth,
        )

    def start(self, timeout: float = 90.0) -> None:
        """Format storage on first start, spawn the JVM, and wait until it serves metadata."""
        self.launch()
        try:
            self.wait_ready(timeout)
        except BrokerError as exc:
            if self._auto_ports and "Address already in use" in log_tail(self.log_path):
                # Someone took a port between our pick and the JVM's bind: pick again once.
                _log.warning("broker port taken, retrying", node=self.node_id, error=str(exc))
                self._auto_ports = False
                self._repick_ports()
                self.launch()
                self.wait_ready(timeout)
                return
            raise

    def _repick_ports(self) -> None:
        h = self.host
        s = self._state
        client, controller, internal, tls = free_ports(h, 4)
        self._state = s.model_copy(
            update={
                "client_port": client,
                "controller_port": controller,
                "internal_port": internal if s.internal_port else None,
                "tls_port": tls if s.tls_port else None,
            }
        )
        self._voters = [(self.node_id, self._state.controller_port)]

    def prepare(self) -> None:
        """Write the config files and format storage on first use; no JVM left running.

        Separate from launch() so LocalCluster can format its nodes in parallel.
        """
        libs = ensure_jars(self.kafka_version)
        java = java_executable()
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        if self._state.tls_port is not None:
            ca = tls_files.LocalCa.ensure(self.tls_dir)
            if not ca.keystore.is_file():
                ca.issue_broker(self.host)
        write_private(self.properties_path, properties_text(render_properties(self.settings())))
        (self.data_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        if not (self.data_dir / "kraft" / "meta.properties").exists():
            self._format(java, f"{libs}/*")

    def launch(self) -> None:
        """Spawn the JVM without waiting (LocalCluster starts all nodes, then waits)."""
        if self.is_running:
            return
        self.prepare()
        java = java_executable()
        classpath = f"{ensure_jars(self.kafka_version)}/*"
        log4j = self.data_dir / "log4j2.properties"
        self._save_state()  # before spawning: ports are reserved in the record
        self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 (lives with the process)
        cmd = [
            java,
            *JVM_OPTIONS,
            self._marker,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(self.properties_path),
        ]
        self._spawned_at = time.monotonic()
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches us, not the JVM; we stop it.
            start_new_session=True,
            preexec_fn=None if self.detach else _die_with_parent(),
        )
        if not self.detach:
            _owned.add(self)
        self._state = self._state.model_copy(update={"pid": self._proc.pid})
        self._save_state()
        _log.info(
            "broker spawned",
            node=self.node_id,
            pid=self._proc.pid,
            mode=self.mode,
            bootstrap=self.bootstrap_servers,
            log=str(self.log_path),
        )

    def _format(self, java: str, classpath: str) -> None:
        cmd = [
            java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", classpath, STORAGE_TOOL,
            "format", "--cluster-id", self._state.cluster_id,
            "--config", str(self.properties_path), "--ignore-formatted",
        ]  # fmt: skip
        if self.mode == "scram":
            users = {self.admin_user: self.admin_password or "", **self.scram_users}
            for name, password in users.items():
                cmd += ["--add-scram", f'SCRAM-SHA-512=[name={name},password="{password}"]']
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False, cwd=self.data_dir
        )
        if done.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage in {self.data_dir} failed:\n"
                f"{(done.stdout + done.stderr).strip()[-2000:]}",
                hint="delete the data dir if it holds a broken or foreign broker",
            )

    def wait_ready(self, timeout: float = 90.0, *, brokers: int = 1) -> None:
        """Block until the node serves metadata listing ``brokers`` brokers, else BrokerError."""
        deadline = time.monotonic() + timeout
        probe: MetadataProbe | None = None
        while True:
            if not self.is_running:
                code = self._proc.poll() if self._proc else None
                self._close_log()
                raise BrokerError(
                    f"Kafka node {self.node_id} exited during start (code {code}); "
                    f"log: {self.log_path}\n{log_tail(self.log_path)}",
                    hint=f"read {self.log_path}",
                )
            if port_open(self.host, self._state.client_port):
                probe = probe or MetadataProbe(self.connection())
                if probe.brokers(timeout=1.0) >= brokers:
                    break
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError(
                    f"Kafka node {self.node_id} did not serve metadata within {timeout:.0f}s; "
                    f"log: {self.log_path}\n{log_tail(self.log_path)}",
                    hint=f"read {self.log_path}; a slow machine may need a longer timeout",
                )
            time.sleep(0.2)
        self.ready_seconds = time.monotonic() - getattr(self, "_spawned_at", deadline - timeout)
        _log.info("broker ready", node=self.node_id, seconds=round(self.ready_seconds, 2))

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a clean, controlled shutdown), then SIGKILL after ``timeout``.

        Returns the exit code when this process spawned the JVM, else None.
        """
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash, for tests of what survives one."""
        return self._signal(signal.SIGKILL, 10.0)

    def restart(self, timeout: float = 90.0) -> None:
        """Stop, then start again on the same data dir and ports."""
        self.stop()
        self.start(timeout)

    def _signal(self, sig: signal.Signals, timeout: float) -> int | None:
        code: int | None = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(sig)
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _log.warning("broker ignored SIGTERM; killing", node=self.node_id)
                    self._proc.kill()
                    self._proc.wait(10)
            code = self._proc.returncode
            self._proc = None
        elif (pid := self.pid) is not None:  # started by another process (the CLI)
            os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while pid_alive(pid, self._marker) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid, self._marker):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid, self._marker):
                    time.sleep(0.1)
        self._close_log()
        _owned.discard(self)
        if self._state.pid is not None and self.state_path.exists():
            self._state = self._state.model_copy(update={"pid": None})
            self._save_state()
        return code

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __repr__(self) -> str:
        return (
            f"LocalBroker(node={self.node_id}, mode={self.mode!r}, "
            f"bootstrap={self.bootstrap_servers!r}, pid={self.pid})"
        )


def _check_scram_text(name: str, password: str) -> None:
    # kafka-storage --add-scram parses name=..,password="..": keep both parseable.
    bad = set('"\\,[]=') if name else set()
    if not name or bad & set(name) or any(c in password for c in '"\\'):
        raise BrokerError(
            f"SCRAM user {name!r} or its password has characters kafka-storage cannot parse",
            hint='avoid quotes, backslashes, and ",[]=" in user names',
        )
