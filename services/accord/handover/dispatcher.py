"""The dispatcher: hands outbox rows to the agency system, at least once.

A task of its own beside the receiver's loop, so a slow or failing endpoint never
slows receiving: at most ``policy.concurrency`` requests in flight, each bounded
by ``policy.timeout_s``. A failure (connection refused, timeout, any non-2xx
status, a redirect, which is never followed) is retried with exponential backoff
and jitter; a row still failing ``policy.dead_after_s`` after it was enqueued is
parked as ``dead``. Order is not guaranteed across retries: the agency system
orders by the signed header (issued_at, per-sender sequence) and dedupes on
``webhook-id``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import random
import time
from pathlib import Path

import aiohttp

from accord.handover.endpoint import Endpoint
from accord.handover.ledger import Ledger, ledger_path
from accord.handover.outbox import Outbox, Row
from accord.handover.signing import signed_headers
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.observability.trace import TRACEPARENT, TraceContext, parse_traceparent, span

log = get_logger(__name__)

EVENT_TYPE = "accord.message.v1"


def backoff_s(
    attempts: int, *, initial_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Delay before the next try after ``attempts`` failures: exponential, capped,
    with "equal jitter" (half fixed, half random) so a fleet of nodes that lost the
    same endpoint does not come back in lockstep, and never retries at once."""
    ceiling = min(max_s, initial_s * 2.0 ** max(attempts - 1, 0))
    jitter = rng.uniform(0, ceiling / 2) if rng else random.uniform(0, ceiling / 2)  # noqa: S311
    return ceiling / 2 + jitter


def request_body(
    row: Row, raw: bytes, payload: bytes, topic: str, digest: str, timestamp: int
) -> bytes:
    """The JSON the agency system receives: the raw envelope (to re-verify and keep)
    and the verified header, label and body (to use at once)."""
    verified = json.loads(payload)
    doc = {
        "type": EVENT_TYPE,
        "timestamp": timestamp,
        "data": {
            "message_id": row.message_id,
            "sender": row.sender,
            "topic": topic,
            "payload_sha256": digest,
            "header": verified["header"],
            "label": verified["label"],
            "body": verified["body"],
            "envelope": base64.b64encode(raw).decode("ascii"),
        },
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


class Dispatcher:
    def __init__(
        self,
        endpoint: Endpoint,
        inbox_path: Path,
        *,
        agency: str,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._policy = endpoint.policy
        self._outbox = Outbox(inbox_path)
        self._ledger = Ledger(ledger_path(inbox_path))
        self._agency = agency
        self.metrics = metrics or NodeMetrics()
        self._pending = self.metrics.handover_pending.labels(agency)
        self._delivered = self.metrics.handover_delivered.labels(agency)
        self._dead = self.metrics.handover_dead.labels(agency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._log = log.bind(agency=agency)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._policy.timeout_s),
            connector=aiohttp.TCPConnector(limit=self._policy.concurrency),
            # Proxies from the environment would carry messages elsewhere.
            trust_env=False,
        )
        self._task = asyncio.create_task(self._run(), name=f"handover-{self._agency}")

    async def stop(self) -> None:
        """Stop taking rows; requests in flight get their timeout to finish (a row
        cut short stays pending and is sent again by the next start)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=self._policy.timeout_s + 1)
            for task in self._inflight.values():
                task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._outbox.close()
        self._ledger.close()

    def notify(self) -> None:
        """New rows were landed: look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            try:
                self._dispatch_due()
            except Exception as exc:  # e.g. the inbox locked for too long: try again
                self._log.error(
                    "handover.loop_failed", error=type(exc).__name__, detail=str(exc)[:200]
                )
            wait = self._policy.poll_s
            nxt = (
                self._outbox.next_due() if len(self._inflight) < self._policy.concurrency else None
            )
            if nxt is not None:
                wait = min(wait, max(nxt - time.time(), 0.01))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _dispatch_due(self) -> None:
        self._pending.set(self._outbox.pending_count())
        free = self._policy.concurrency - len(self._inflight)
        if free <= 0:
            return
        for row in self._outbox.due(time.time(), free, set(self._inflight)):
            task = asyncio.create_task(self._attempt(row))
            self._inflight[row.key] = task
            task.add_done_callback(functools.partial(self._done, row.key))

    def _done(self, key: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._inflight.pop(key, None)
        self._wake.set()

    async def _attempt(self, row: Row) -> None:
        try:
            await self._try(row)
        except Exception as exc:  # e.g. the inbox locked too long: the row stays due
            self._log.error(
                "handover.attempt_failed",
                message_id=row.message_id,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            # Held in flight a little, so a lasting fault cannot spin the loop.
            await asyncio.sleep(self._policy.poll_s)

    async def _try(self, row: Row) -> None:
        found = self._outbox.message(row.sender, row.message_id)
        # Trace: a child of the receiver's trace of this message, on the request's
        # ``traceparent`` header and on every event below.
        with span("accord.handover", self._trace(row, found), message_id=row.message_id) as trace:
            await self._try_traced(row, found, trace)

    def _trace(self, row: Row, found: tuple[bytes, bytes, str, str] | None) -> TraceContext:
        stored = parse_traceparent(self._outbox.traceparent(row.key))
        trace = TraceContext.new() if stored is None else stored.child()
        if found is None:
            return trace
        correlation = json.loads(found[1])["header"].get("correlation_id")
        return trace.with_correlation(None if correlation is None else str(correlation))

    async def _try_traced(
        self, row: Row, found: tuple[bytes, bytes, str, str] | None, trace: TraceContext
    ) -> None:
        if found is None:  # cannot happen with the landing transaction; never loop on it
            self._outbox.dead(row.key, "message missing from the inbox")
            self._dead.inc()
            return
        raw, payload, topic, digest = found
        if not row.force and self._ledger.taken(row.sender, row.message_id, digest):
            # A rebuilt inbox: the agency system acknowledged this message before.
            self._outbox.delivered(row.key, time.time(), note="taken before (ledger)")
            self._log.info(
                "handover.skipped",
                message_id=row.message_id,
                webhook_id=row.webhook_id,
                why="ledger",
            )
            return
        timestamp = int(time.time())
        body = request_body(row, raw, payload, topic, digest, timestamp)
        headers = signed_headers(self._endpoint.key, row.webhook_id, timestamp, body)
        headers[TRACEPARENT] = trace.traceparent  # outside the signature, as on Kafka
        started = time.monotonic()
        error = await self._post(body, headers)
        elapsed = time.monotonic() - started
        self.metrics.handover_attempt.labels(
            self._agency, "ok" if error is None else "failed"
        ).observe(elapsed)
        now = time.time()
        if error is None:
            self._ledger.record(row.sender, row.message_id, row.webhook_id, digest, now)
            self._outbox.delivered(row.key, now)
            self._delivered.inc()
            self._log.info(
                "handover.handed_over",
                message_id=row.message_id,
                webhook_id=row.webhook_id,
                attempts=row.attempts + 1,
                ms=round(elapsed * 1000, 1),
            )
            return
        if (
            now - row.enqueued_at >= self._policy.dead_after_s
            and row.attempts + 1 >= self._policy.min_attempts
        ):
            self._outbox.dead(row.key, error)
            self._dead.inc()
            self._log.error(
                "handover.dead",
                message_id=row.message_id,
                webhook_id=row.webhook_id,
                attempts=row.attempts + 1,
                error=error,
            )
            return
        delay = backoff_s(
            row.attempts + 1,
            initial_s=self._policy.backoff_initial_s,
            max_s=self._policy.backoff_max_s,
        )
        self._outbox.failed(row.key, error, now + delay)
        self._log.warning(
            "handover.failed",
            message_id=row.message_id,
            webhook_id=row.webhook_id,
            attempts=row.attempts + 1,
            error=error,
            retry_in_s=round(delay, 2),
        )

    async def _post(self, body: bytes, headers: dict[str, str]) -> str | None:
        """None on a 2xx, else why not (one short line, no secrets, no body)."""
        session = self._session
        assert session is not None
        try:
            async with session.post(
                self._endpoint.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            return f"timeout after {self._policy.timeout_s:g}s"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {str(exc)[:120]}"
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"http {status}: redirect not followed"
        return f"http {status}"
