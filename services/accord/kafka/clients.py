"""Kafka clients, built one way from a ``KafkaConnection``.

Producers are idempotent with ``acks=all`` by default: the reliability model
(at-least-once from Kafka plus an idempotent inbox) depends on it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, KafkaTimeoutError

from accord.config import KafkaConnection
from accord.errors import BrokerError


@contextmanager
def broker_errors(what: str, *, hint: str | None = None) -> Iterator[None]:
    """Map aiokafka's errors (and an expired bound) to ``BrokerError``, once, here.

    The one boundary between the Kafka client and accord, as httpx maps
    httpcore's exceptions: code above it handles ``BrokerError`` only. The
    original error stays chained as ``__cause__``; ``str`` names its type, so logs
    say what the client reported without carrying the exception around.
    """
    try:
        yield
    except (KafkaError, TimeoutError) as exc:
        raise BrokerError(
            f"{what}: {type(exc).__name__}",
            hint=hint or "check that the brokers are up and reachable",
        ) from exc


def task_failure(task: asyncio.Future[Any]) -> str | None:
    """Why a bounded client task did not succeed, or None; never raises.

    (``Task.exception()`` raises on a cancelled task, and aiokafka's clients can
    end cancelled when the broker is gone: that must not kill a node's loop.)
    """
    if not task.done():
        return "timeout"
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return None if exc is None else type(exc).__name__


def _ssl_context(conn: KafkaConnection) -> ssl.SSLContext | None:
    if not conn.uses_tls:
        return None
    ctx = ssl.create_default_context(cafile=str(conn.ssl_cafile) if conn.ssl_cafile else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if conn.ssl_certfile and conn.ssl_keyfile:
        ctx.load_cert_chain(str(conn.ssl_certfile), str(conn.ssl_keyfile))
    return ctx


def _common(conn: KafkaConnection) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": conn.bootstrap_servers,
        "security_protocol": conn.security_protocol,
        "client_id": conn.client_id,
        "request_timeout_ms": conn.request_timeout_ms,
    }
    if conn.uses_sasl:
        kwargs["sasl_mechanism"] = conn.sasl_mechanism
        kwargs["sasl_plain_username"] = conn.username
        kwargs["sasl_plain_password"] = conn.password.get_secret_value() if conn.password else None
    ctx = _ssl_context(conn)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    return kwargs


PRODUCE_BATCH_BYTES = 256 * 1024
"""What one partition's record batch in a produce request may hold (aiokafka: 16 KiB).

aiokafka keeps one produce request in flight per broker, carrying at most one
batch per partition: at 16 KiB that is five signed 1 KiB messages (3.2 KB records)
per round trip on a sender's partition, and the publisher queues behind it. At
256 KiB, 80. As deployed, ``python -m accord.bench.produce_batch`` (3 rounds each,
interleaved): publisher 381-424 vs 510-516 µs per message, broker 67-123 vs
227-249, 1 460-1 499 vs 1 318-1 364 msgs/s (docs/bench.md). Not larger: with 1 MB
batches the broker spent more in two rounds of three (a G1 heap of 512 MiB, as the
local broker's, allocates buffers of half a region or more as humongous objects).
A record larger than this still goes, in a batch of its own (up to the topic's
``max.message.bytes``)."""


def new_producer(conn: KafkaConnection, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent, ``acks=all`` producer unless the caller overrides it."""
    kwargs = _common(conn)
    kwargs.update(
        enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=PRODUCE_BATCH_BYTES
    )
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


async def start_producer(producer: AIOKafkaProducer, *, timeout_s: float) -> None:
    """Start a producer within ``timeout_s``, else close it and raise ``BrokerError``.

    An idempotent producer's ``start()`` waits, without bound, until the cluster
    grants it a producer id; with the controller quorum lost (a majority of nodes
    down) that never happens, and a node would hang at start without a word.
    Errors ``start()`` raises itself (no broker reachable) propagate unchanged.
    """
    starting = asyncio.ensure_future(producer.start())
    done, _ = await asyncio.wait({starting}, timeout=timeout_s)
    if done:
        starting.result()  # raises what start() raised
        return
    starting.cancel()
    await close_producer(producer, timeout_s=5)
    raise BrokerError(
        f"the Kafka producer did not start within {timeout_s:g}s: "
        "no broker granted it a producer id",
        hint="check that the brokers are up and that a majority of the controllers "
        "is running (an idempotent producer needs an id from the cluster)",
    )


async def close_producer(producer: AIOKafkaProducer, *, timeout_s: float) -> int:
    """Flush for at most ``timeout_s``, then close; return how many batches were given up.

    aiokafka's ``stop()`` waits for every queued batch to be acknowledged, with no
    bound: with the brokers gone it never returns, and the node's shutdown hangs
    with it. Whatever is unacknowledged after the timeout is failed instead (its
    senders see ``KafkaTimeoutError``; a publish past its deadline has already
    raised ``PublishError``), so a stop always ends. This reaches into aiokafka's
    accumulator: its public API has no bounded close.
    """
    flushing = asyncio.ensure_future(producer.flush())
    done, _ = await asyncio.wait({flushing}, timeout=timeout_s)
    abandoned = 0
    if not done:
        flushing.cancel()
        accumulator = producer._message_accumulator
        abandoned = sum(len(b) for b in accumulator._batches.values())
        abandoned += len(accumulator._pending_batches)
        accumulator.fail_all(
            KafkaTimeoutError(f"not acknowledged within {timeout_s:g}s of closing")
        )
    # The sender can still be stuck in a request to a dead broker: bound that too.
    stopping = asyncio.ensure_future(producer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=timeout_s)
    if not done:
        stopping.cancel()
        sender_task = producer._sender.sender_task
        if sender_task is not None:
            sender_task.cancel()
    return abandoned


async def close_consumer(consumer: AIOKafkaConsumer, *, timeout_s: float) -> str | None:
    """Close a consumer within ``timeout_s``; return why it did not close cleanly, or None.

    A consumer wedged on a dead coordinator can hang in ``stop()`` and ignore
    cancellation (``wait_for`` would then hang with it), so ``stop()`` runs in a
    task of its own and is left behind after the timeout. Never raises: a node
    that is closing or rebuilding a consumer must go on whatever the old one does.
    """
    closing = asyncio.ensure_future(consumer.stop())
    await asyncio.wait({closing}, timeout=timeout_s)
    return task_failure(closing)


def new_consumer(
    conn: KafkaConnection, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer that never auto-commits: offsets are committed after durable writes."""
    kwargs = _common(conn)
    kwargs.update(
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


def set_fetch_wait(consumer: AIOKafkaConsumer, *, min_bytes: int, max_wait_ms: int) -> bool:
    """Change what a started consumer's next fetches ask the broker to wait for.

    aiokafka takes ``fetch_min_bytes`` and ``fetch_max_wait_ms`` once, at
    construction, and its fetcher reads them each time it builds a request; its
    public API has no setter, so they are changed there. Returns False, changing
    nothing, when the consumer has no such fetcher (not started, a test double, an
    aiokafka that keeps them elsewhere): the consumer then keeps the bounds it was
    built with, which are correct, only costlier when idle.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if not (hasattr(fetcher, "_fetch_min_bytes") and hasattr(fetcher, "_fetch_max_wait_ms")):
        return False
    fetcher._fetch_min_bytes = min_bytes  # type: ignore[union-attr]
    fetcher._fetch_max_wait_ms = max_wait_ms  # type: ignore[union-attr]
    return True


def new_admin(conn: KafkaConnection, **overrides: Any) -> AIOKafkaAdminClient:
    kwargs = _common(conn)
    kwargs.update(overrides)
    return AIOKafkaAdminClient(**kwargs)


def new_control_admin(conn: KafkaConnection, **overrides: Any) -> Any:
    """A confluent-kafka ``AdminClient`` for the control plane (plan apply).

    aiokafka's admin has no SCRAM-credential or full ACL API; librdkafka's has
    both. Built from the same ``KafkaConnection`` so there is still one factory.
    Returns ``confluent_kafka.admin.AdminClient`` (typed Any: the library ships no
    type information).
    """
    from confluent_kafka.admin import AdminClient

    config: dict[str, Any] = {
        "bootstrap.servers": conn.bootstrap_servers,
        "security.protocol": conn.security_protocol,
        "client.id": conn.client_id,
        "socket.timeout.ms": conn.request_timeout_ms,
        # librdkafka logs through the stdlib, into the one log setup, instead of
        # writing to the terminal directly.
        "logger": logging.getLogger("accord.kafka.librdkafka"),
    }
    if conn.uses_sasl:
        config["sasl.mechanism"] = conn.sasl_mechanism
        config["sasl.username"] = conn.username or ""
        config["sasl.password"] = conn.password.get_secret_value() if conn.password else ""
    if conn.uses_tls:
        if conn.ssl_cafile:
            config["ssl.ca.location"] = str(conn.ssl_cafile)
        if conn.ssl_certfile and conn.ssl_keyfile:
            config["ssl.certificate.location"] = str(conn.ssl_certfile)
            config["ssl.key.location"] = str(conn.ssl_keyfile)
    config.update(overrides)
    return AdminClient(config)
