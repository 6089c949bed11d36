"""Real nodes for integration tests: a plan applied to a real broker, nodes as processes.

``AccordExchange`` puts a plan in a namespace of its own on a broker (topics
created, a PKI provisioned, one API client token made) and starts
``accord node`` processes for agencies of the plan. ``NodeProcess`` is one of
them: its API's URL and token, and a small stdlib HTTP helper so a test needs
no client library. Nothing here is a fake: the node signs, Kafka carries, the
other node verifies and lands.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.api.auth import add_client
from accord.broker.tls import LocalCa
from accord.confidentiality.files import EncryptionKeyFiles
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.kafka.clients import new_control_admin
from accord.plan import Plan, dump_plan
from accord.plan.reconcile import apply_plan
from accord.trust.pki import provision

TEST_CLIENT = "integration-tests"


def free_port() -> int:
    """A loopback port free right now (the node binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Answer:
    """An HTTP answer: status, headers, and the body parsed as JSON (None if empty)."""

    status: int
    headers: dict[str, str]
    json: Any


@dataclass
class NodeProcess:
    agency: str
    url: str
    token: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    ssl_context: ssl.SSLContext | None = None
    """For a node serving mutual TLS: trusts its CA and presents the test client's cert."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        timeout_s: float = 60.0,
    ) -> Answer:
        """One request to this node's API, as the test client unless ``token`` says else
        (``token=""`` sends none)."""
        data = None if body is None else json.dumps(body).encode()
        sent = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        bearer = self.token if token is None else token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        # self.url is the http(s)://127.0.0.1 address this module gave the node.
        req = urllib.request.Request(  # noqa: S310
            self.url + path,
            data=data,
            headers=sent,
            method=method,
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                req,
                timeout=timeout_s,
                context=self.ssl_context,
            ) as resp:
                return _answer(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return _answer(err.code, dict(err.headers), err.read())

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(
        self, path: str, body: Any, *, idempotency_key: str | None = None, **kw: Any
    ) -> Answer:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.request("POST", path, body, headers=headers, **kw)

    def wait_for_message(self, message_id: str, *, within_s: float = 60.0) -> dict[str, Any]:
        """Long-poll the inbox until ``message_id`` has landed; return its summary."""
        deadline = time.monotonic() + within_s
        cursor = ""
        while time.monotonic() < deadline:
            page = self.get(f"/v1/inbox?wait=5&limit=500{'&after=' + cursor if cursor else ''}")
            if page.status != 200:
                raise BrokerError(f"{self.agency} inbox answered {page.status}: {page.json}")
            for item in page.json["messages"]:
                if item["message_id"] == message_id:
                    return dict(item)
            cursor = page.json["next_cursor"] or ""
        raise BrokerError(
            f"{message_id} did not land at {self.agency} within {within_s:g}s",
            hint=f"see the node's log: {self.log_path}",
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (the node finishes its batch and closes), SIGKILL after ``timeout_s``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _answer(status: int, headers: dict[str, str], raw: bytes) -> Answer:
    return Answer(
        status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None
    )


@dataclass
class AccordExchange:
    """A plan on a real broker, in a namespace of its own, and the nodes started on it."""

    plan: Plan
    connection: KafkaConnection
    directory: Path
    token: str = ""
    nodes: dict[str, NodeProcess] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        plan: Plan,
        connection: KafkaConnection,
        directory: Path,
        *,
        namespace: str | None = None,
    ) -> AccordExchange:
        """Apply ``plan`` (in ``namespace``, default a fresh one) and provision its PKI,
        with encryption keys when the plan encrypts."""
        ns = namespace or f"t{uuid.uuid4().hex[:12]}"
        exchange = cls(plan.model_copy(update={"namespace": ns}), connection, directory)
        apply_plan(exchange.plan, connection)
        provision(exchange.pki_dir, exchange.plan.agencies)
        if any(sp.encryption != "off" for sp in exchange.plan.scopes.values()):
            # `accord keys issue` for every agency: its node reads every statement in
            # the directory, so each publisher can encrypt to the others at once.
            files = EncryptionKeyFiles(exchange.pki_dir)
            for agency in sorted(exchange.plan.agencies):
                if files.current_ekid(agency) is None:
                    files.issue(agency)
        dump_plan(exchange.plan, exchange.plan_file)
        exchange.token = add_client(exchange.tokens_file, TEST_CLIENT)
        return exchange

    @property
    def pki_dir(self) -> Path:
        return self.directory / "pki"

    @property
    def plan_file(self) -> Path:
        return self.directory / "plan.yaml"

    @property
    def tokens_file(self) -> Path:
        return self.directory / "api-tokens.yaml"

    def data_dir(self, agency: str) -> Path:
        return self.directory / "nodes" / agency.lower()

    def node_env(self, agency: str) -> dict[str, str]:
        """The environment ``accord node`` reads its settings from."""
        return {
            "ACCORD_BOOTSTRAP_SERVERS": self.connection.bootstrap_servers,
            "ACCORD_PLAN": str(self.plan_file),
            "ACCORD_PKI_DIR": str(self.pki_dir),
            "ACCORD_DATA_DIR": str(self.data_dir(agency)),
            "ACCORD_API_TOKENS": str(self.tokens_file),
        }

    def start_node(
        self,
        agency: str,
        *,
        options: tuple[str, ...] = (),
        mtls: bool = False,
        ready_within_s: float = 90.0,
    ) -> NodeProcess:
        """``accord node --agency AGENCY`` as a process; returns once its API says ready.

        With ``mtls`` the API serves HTTPS and demands a client certificate (a
        throw-away CA of this exchange issues both), as well as the token.
        """
        if agency in self.nodes and self.nodes[agency].process.poll() is None:
            return self.nodes[agency]
        port = free_port()
        context: ssl.SSLContext | None = None
        if mtls:
            ca = LocalCa.ensure(self.directory / "api-tls")
            server = ca.issue_broker()  # a server certificate for 127.0.0.1
            client = ca.issue_client(TEST_CLIENT)
            options = (
                *options,
                "--tls-cert",
                str(server),
                "--tls-key",
                str(server),
                "--client-ca",
                str(ca.cafile),
            )
            context = ssl.create_default_context(cafile=str(ca.cafile))
            context.load_cert_chain(str(client.certfile), str(client.keyfile))
        log_path = self.directory / f"node-{agency.lower()}.log"
        self.data_dir(agency).mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "accord",
                    "--log-json",
                    "node",
                    "--agency",
                    agency,
                    "--listen",
                    f"127.0.0.1:{port}",
                    *options,
                ],
                env={**os.environ, **self.node_env(agency)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        scheme = "https" if mtls else "http"
        node = NodeProcess(
            agency,
            f"{scheme}://127.0.0.1:{port}",
            self.token,
            self.data_dir(agency),
            log_path,
            process,
            context,
        )
        self.nodes[agency] = node
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"node {agency} exited with {process.returncode}",
                    hint=f"see its log: {log_path}",
                )
            try:
                status = node.get("/v1/status", timeout_s=5)
                if status.status == 200 and status.json["ready"]:
                    return node
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        node.stop()
        raise BrokerError(
            f"node {agency} not ready within {ready_within_s:g}s", hint=f"see its log: {log_path}"
        )

    def stop_nodes(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.nodes.clear()

    def close(self) -> None:
        """Stop the nodes and delete the namespace's topics."""
        self.stop_nodes()
        admin = new_control_admin(self.connection)
        prefix = f"{self.plan.namespace}."
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                future.result()
