"""The node as the agency's gateway: receiver, publisher and HTTP API in one process.

As X-Road's security server: the agency's systems speak plain HTTP to their own
node on loopback (or over mutual TLS), and the node alone holds the signing key,
verifies, logs and speaks Kafka. ``Gateway`` owns the parts and runs them in one
asyncio loop; uvicorn's ``Server.serve()`` is one more task in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn

from accord.api.auth import ClientTokens
from accord.api.idempotency import IdempotencyStore
from accord.api.problems import ApiProblem
from accord.api.views import InboxView, QuarantineView
from accord.envelope import Header, Rejected, Verified
from accord.errors import ConfigError, ReasonCode, Refused
from accord.handover import Endpoint
from accord.node import NodeContext
from accord.observability.logs import get_logger
from accord.publisher import Publisher, PublishResult
from accord.receiver import Handler, Receiver

log = get_logger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Where and how the API listens, and who may call it."""

    host: str = "127.0.0.1"
    port: int = 8443
    tokens: ClientTokens | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    client_ca: Path | None = None
    """With it, every client must present a certificate this CA issued (mutual TLS)."""

    def check(self) -> None:
        """Fail closed: no credentials at all, or plain HTTP beyond loopback, is refused."""
        if self.tokens is None and self.client_ca is None:
            raise ConfigError(
                "the API would serve without credentials",
                hint="give --api-tokens FILE (see `accord api token`) "
                "and/or --client-ca for mutual TLS",
            )
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ConfigError(
                "--tls-cert and --tls-key go together",
                hint="give both, or neither for plain HTTP on loopback",
            )
        if self.client_ca is not None and self.tls_certfile is None:
            raise ConfigError(
                "mutual TLS needs the node's own certificate",
                hint="give --tls-cert and --tls-key with --client-ca",
            )
        if self.host not in LOOPBACK and self.tls_certfile is None:
            raise ConfigError(
                f"plain HTTP on {self.host} would leave loopback",
                hint="listen on 127.0.0.1, or give --tls-cert/--tls-key",
            )

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_certfile else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


class Notifier:
    """Wakes long-polls when the receiver lands something. Used as a receiver handler."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    async def __call__(self, _verified: Verified) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def arm(self) -> asyncio.Future[None]:
        """A future that completes at the next landing; arm BEFORE looking, so none is missed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        return waiter

    def disarm(self, waiter: asyncio.Future[None]) -> None:
        self._waiters.discard(waiter)


def _both(first: Handler, second: Handler | None) -> Handler:
    if second is None:
        return first

    async def handle(v: Verified) -> None:
        await first(v)
        await second(v)

    return handle


class Gateway:
    """One agency's node: receiver + publisher + HTTP API. Use as ``async with``."""

    def __init__(
        self,
        node: NodeContext,
        api: ApiSettings,
        *,
        handler: Handler | None = None,
        handover: Endpoint | None = None,
    ) -> None:
        api.check()
        self.node = node
        self.api = api
        self.notifier = Notifier()
        self.receiver = Receiver(
            agency=node.agency,
            connection=node.settings.kafka,
            plan=node.plan,
            trust=node.trust,
            signer=node.signer,
            inbox_path=node.settings.inbox_path,
            handler=_both(self.notifier, handler),
            handover=handover,
            settings=node.settings.receiver,
            keys=node.keys,
        )
        self.publisher = Publisher(
            agency=node.agency,
            connection=node.settings.kafka,
            plan=node.plan,
            signer=node.signer,
            state_path=node.settings.publisher_state_path,
            metrics=self.receiver.metrics,
            encryption=node.encryption(),
        )
        self.inbox = InboxView(node.settings.inbox_path)
        self.quarantine = QuarantineView(
            node.settings.kafka, node.plan.quarantine_topic(node.agency)
        )
        self.idempotency = IdempotencyStore(node.settings.data_dir / "api.sqlite")
        self.idempotency.prune()
        self._in_flight: set[tuple[str, str]] = set()
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def agency(self) -> str:
        return self.node.agency

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        from accord.api.app import create_app  # the app needs this module's types

        # Bound here, before anything starts, so a taken port is a clean error (uvicorn
        # would exit the process from inside its task).
        sock = _bind(self.api.host, self.api.port)
        if self.api.port == 0:
            self.api = replace(self.api, port=int(sock.getsockname()[1]))
        await self.publisher.start()
        await self.receiver.start()
        await self.quarantine.start()
        config = uvicorn.Config(
            create_app(self),
            host=self.api.host,
            port=self.api.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=5,  # long-polls end with the node
            ssl_certfile=self.api.tls_certfile,
            ssl_keyfile=self.api.tls_keyfile,
            ssl_ca_certs=str(self.api.client_ca) if self.api.client_ca else None,
            ssl_cert_reqs=ssl.CERT_REQUIRED if self.api.client_ca else ssl.CERT_NONE,
        )
        self._server = _InLoopServer(config)
        self._tasks = [
            asyncio.create_task(self.receiver.run(), name=f"receiver-{self.agency}"),
            asyncio.create_task(self._server.serve(sockets=[sock]), name=f"api-{self.agency}"),
        ]
        while not self._server.started:
            if any(t.done() for t in self._tasks):
                await self._raise_early_exit()
            await asyncio.sleep(0.02)
        log.info("api.listening", agency=self.agency, url=self.api.url)

    async def _raise_early_exit(self) -> None:
        for task in self._tasks:
            if task.done() and task.exception() is not None:
                raise ConfigError(
                    f"the node could not start: {task.exception()!r}",
                    hint="is the API port free? see the log above",
                )
        raise ConfigError(
            "the API server stopped while starting", hint="is the API port free? see the log above"
        )

    async def wait(self) -> None:
        """Until the receiver or the server ends (``request_stop`` or a crash)."""
        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    def request_stop(self) -> None:
        self.receiver.request_stop()
        if self._server is not None:
            self._server.should_exit = True

    async def stop(self) -> None:
        self.request_stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=15)
        await self.quarantine.stop()
        await self.receiver.stop()
        await self.publisher.stop()
        self.inbox.close()
        self.idempotency.close()

    # -- publishing, once per idempotency key --------------------------------

    async def publish_once(
        self,
        client: str,
        key: str | None,
        request_sha256: str,
        seal: Callable[[], tuple[Header, bytes]] | None = None,
        act: Callable[[], Awaitable[PublishResult]] | None = None,
    ) -> tuple[int, bytes, bool]:
        """Publish at most once per (client, key); return (status, JSON body, replayed).

        ``seal`` signs without sending, so the sealed envelope is stored before it is
        sent and a retry re-sends those very bytes; ``act`` (release) does both at once.
        """
        if key is None:
            return 201, _published(await self._send(seal, act)), False
        entry = self.idempotency.get(client, key)
        if entry is not None and entry.request_sha256 != request_sha256:
            raise ApiProblem(
                422,
                "idempotency-key-reused",
                "this Idempotency-Key was used for a different request",
                hint="use a fresh key for each distinct message",
            )
        if (client, key) in self._in_flight:
            raise ApiProblem(
                409,
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still in progress",
                hint="retry after it has been answered",
            )
        if entry is not None and entry.status is not None and entry.response is not None:
            return entry.status, entry.response, True
        self._in_flight.add((client, key))
        try:
            if entry is None:
                self.idempotency.begin(client, key, request_sha256)
            if entry is not None and entry.header is not None and entry.envelope is not None:
                header = Header.model_validate_json(entry.header)
                result = await self.publisher.send(header, entry.envelope)
            elif seal is not None:
                try:
                    header, envelope = seal()
                except Exception:
                    self.idempotency.forget(client, key)
                    raise
                self.idempotency.sealed(client, key, header.model_dump_json(), envelope)
                result = await self.publisher.send(header, envelope)
            else:
                assert act is not None
                try:
                    result = await act()
                except Refused:
                    self.idempotency.forget(client, key)
                    raise
            body = _published(result)
            self.idempotency.done(client, key, 201, body)
            return 201, body, False
        finally:
            self._in_flight.discard((client, key))

    async def _send(
        self,
        seal: Callable[[], tuple[Header, bytes]] | None,
        act: Callable[[], Awaitable[PublishResult]] | None,
    ) -> PublishResult:
        if seal is not None:
            return await self.publisher.send(*seal())
        assert act is not None
        return await act()

    def original(self, message_id: str) -> Verified:
        """One of this agency's own sent messages, re-verified (to supersede or retract)."""
        raw = self.publisher.sent_envelope(message_id)
        if raw is None:
            raise Refused(
                ReasonCode.NOT_ORIGINATOR,
                f"message {message_id} was not published by {self.agency} through this node",
                hint="only the originator may supersede or retract, on its node",
            )
        # read_own: an encrypted (v2) original is opened with this node's own keys
        # (the sender is always a recipient); the supersede or retract cites it.
        verdict = self.publisher.read_own(raw, self.node.trust)
        if isinstance(verdict, Rejected):
            raise Refused(verdict.reason, f"original no longer verifies: {verdict.detail}")
        return verdict


def _published(result: PublishResult) -> bytes:
    from accord.api.models import Published

    return (
        Published(
            message_id=result.message_id,
            topic=result.topic,
            partition=result.partition,
            offset=result.offset,
            sequence=result.sequence,
            trace_id=result.trace_id,
        )
        .model_dump_json()
        .encode()
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick a free port with --listen HOST:PORT",
        ) from None
    sock.set_inheritable(True)
    return sock


class _InLoopServer(uvicorn.Server):
    """uvicorn in the node's loop: the node, not uvicorn, owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
