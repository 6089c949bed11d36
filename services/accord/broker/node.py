"""One Kafka node: a JVM running combined broker+controller (KRaft) on loopback.

``LocalBroker`` is the façade; the work is split by concern:
accord.broker.identity (what the node is: mode, ports, cluster id, passwords, TLS
listener, kept across restarts), accord.broker.connections (client settings from
that record) and accord.broker.jvm (spawning, formatting, signalling and reaping
the JVM).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from accord.broker import connections
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
)
from accord.broker.identity import (
    Membership,
    TlsSettings,
    check_scram_text,
    initial_state,
    new_cluster_id,
    repicked_ports,
    with_tls,
)
from accord.broker.jars import KAFKA_VERSION, ensure_jars, java_executable
from accord.broker.jvm import (
    MAIN_CLASS,
    STORAGE_TOOL,
    disown,
    format_storage,
    log_tail,
    own,
    signal_child,
    signal_pid,
    spawn,
)
from accord.broker.probe import MetadataProbe, port_open
from accord.broker.state import STATE_FILE, pid_alive, write_private
from accord.broker.tls import CertFiles
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.observability.logs import get_logger

# Re-exported: callers import these from here (accord.broker, cluster, tests).
__all__ = [
    "MAIN_CLASS",
    "STORAGE_TOOL",
    "LocalBroker",
    "Membership",
    "TlsSettings",
    "log_tail",
    "new_cluster_id",
]

_log = get_logger(__name__)


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
            check_scram_text(name, password)
        self._state = initial_state(
            self.data_dir,
            node_id=node_id,
            kafka_version=kafka_version,
            mode=mode,
            host=host,
            port=port,
            admin_user=admin_user,
            admin_password=admin_password,
            membership=membership,
        )
        if tls is not None:
            self._state = with_tls(self._state, tls, tls_dir=self.tls_dir, running=self.is_running)
        self._voters = (
            list(membership.voters) if membership else [(node_id, self._state.controller_port)]
        )

    # ----------------------------------------------------------------- state

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
        return connections.tls_bootstrap(self._state)

    @property
    def tls_cafile(self) -> Path:
        """The CA certificate TLS clients must trust (made on the first TLS start)."""
        return connections.tls_cafile(self._state)

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
        return connections.client_connection(self._state, self.scram_users, username, password)

    def tls_connection(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        client_cert: CertFiles | None = None,
    ) -> KafkaConnection:
        """Client settings for the TLS listener: SSL (plain) or SASL_SSL (scram), trusting
        the broker's CA; ``client_cert`` when the listener requires one."""
        return connections.tls_connection(
            self._state, self.scram_users, username, password, client_cert=client_cert
        )

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
                _log.warning("broker.port_taken", node=self.node_id, error=str(exc))
                self._auto_ports = False
                self._repick_ports()
                self.launch()
                self.wait_ready(timeout)
                return
            raise

    def _repick_ports(self) -> None:
        self._state = repicked_ports(self._state)
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
        self._proc, self._log_handle = spawn(
            cmd, cwd=self.data_dir, log_path=self.log_path, detach=self.detach
        )
        if not self.detach:
            own(self)
        self._state = self._state.model_copy(update={"pid": self._proc.pid})
        self._save_state()
        _log.info(
            "broker.spawned",
            node=self.node_id,
            pid=self._proc.pid,
            mode=self.mode,
            bootstrap=self.bootstrap_servers,
            log=str(self.log_path),
        )

    def _format(self, java: str, classpath: str) -> None:
        users = (
            {self.admin_user: self.admin_password or "", **self.scram_users}
            if self.mode == "scram"
            else {}
        )
        format_storage(
            java,
            classpath,
            cluster_id=self._state.cluster_id,
            properties=self.properties_path,
            scram_users=users,
            cwd=self.data_dir,
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
        _log.info("broker.ready", node=self.node_id, seconds=round(self.ready_seconds, 2))

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
            code = signal_child(self._proc, sig, timeout, node_id=self.node_id)
            self._proc = None
        elif (pid := self.pid) is not None:  # started by another process (the CLI)
            signal_pid(pid, self._marker, sig, timeout)
        self._close_log()
        disown(self)
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
