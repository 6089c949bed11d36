"""Envelope micro-benchmark: ``seal``, ``verify`` and ``build_receipt`` in a tight loop.

No broker, no event loop: the CPU cost of the envelope code alone, next to the bare
Ed25519 ceiling (``accord.bench.ed25519``), so that b/c regressions can be pinned on
the envelope layer or ruled out. The message is the pipeline's: AUS.AFP, bilateral
counter-terrorism, an InformationReport with a 1 KiB JSON body; receipts are signed
by JPN.MOFA, as the pipeline's receiver does.

    python -m accord.bench.envelope --count 5000 --repeat 3

Each rate's p50/p99 is the per-call latency. :func:`envelope_rates` is the hook for
``accord bench``: it returns ``Rate`` objects named ``envelope-seal``,
``envelope-verify`` and ``receipt-build``.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from accord.areas import Area
from accord.bench.ed25519 import bare_ed25519
from accord.bench.figures import Rate, median, percentile
from accord.bench.pipeline import LEGAL_BASIS
from accord.envelope import Header, Verified, seal, verify
from accord.labels import Label, scope_label
from accord.models import InformationReport, Priority, Subject
from accord.parties import Scope
from accord.receipts.build import acknowledgement, build_receipt
from accord.topics import DEFAULT_NAMESPACE
from accord.trust import Signer, TrustStore
from accord.trust.pki import provision

T = TypeVar("T")

SENDER = "AUS.AFP"
RECEIVER = "JPN.MOFA"
SCOPE = Scope.BILATERAL
AREA = Area.COUNTER_TERRORISM


def _label(now: datetime) -> Label:
    return scope_label(SENDER, SCOPE, now=now, legal_basis=LEGAL_BASIS)


def _body(size: int, now: datetime) -> InformationReport:
    """A report whose JSON body is ``size`` bytes."""
    base = InformationReport(
        title="Bench 000000",
        priority=Priority.PRIORITY,
        details="x",
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=now,
    )
    pad = max(1, size - len(base.model_dump_json()) + 1)
    return InformationReport.model_validate(base.model_dump() | {"details": "x" * pad})


def _timed(name: str, items: Sequence[T], call: Callable[[T], object]) -> Rate:
    laps: list[float] = []
    clock = time.perf_counter
    start = clock()
    for item in items:
        t0 = clock()
        call(item)
        laps.append(clock() - t0)
    seconds = clock() - start
    return Rate(name, len(items), seconds, percentile(laps, 50) * 1000, percentile(laps, 99) * 1000)


def envelope_rates(
    count: int = 5000,
    *,
    size: int = 1024,
    sender: Signer,
    receiver: Signer,
    trust: TrustStore,
) -> tuple[Rate, Rate, Rate]:
    """(seal, verify, receipt) rates over ``count`` distinct messages each."""
    now = datetime.now(UTC)
    label, body = _label(now), _body(size, now)
    headers = [
        Header.create(
            InformationReport.TYPE, sender=SENDER, scope=SCOPE, area=AREA, sequence=n, issued_at=now
        )
        for n in range(count)
    ]
    sealed: list[bytes] = []

    def do_seal(header: Header) -> None:
        sealed.append(seal(header, label, body, sender))

    seal_rate = _timed("envelope-seal", headers, do_seal)
    topic = headers[0].topic
    verified: list[Verified] = []

    def do_verify(raw: bytes) -> None:
        verdict = verify(raw, trust, topic=topic)
        if not isinstance(verdict, Verified):
            raise RuntimeError(f"bench envelope refused: {verdict}")
        verified.append(verdict)

    verify_rate = _timed("envelope-verify", sealed, do_verify)
    delivered = [(v.header, hashlib.sha256(v.payload).hexdigest()) for v in verified]
    sequence = iter(range(count))

    def do_receipt(item: tuple[Header, str]) -> None:
        # One receipt per message: the worst case (a batch of one).
        header, digest = item
        build_receipt(
            [acknowledgement(header, digest)],
            scope=header.scope,
            area=header.area,
            namespace=DEFAULT_NAMESPACE,
            signer=receiver,
            sequence=next(sequence),
        )

    receipt_rate = _timed("receipt-build", delivered, do_receipt)
    return seal_rate, verify_rate, receipt_rate


def run(count: int, repeat: int, size: int, directory: Path) -> dict[str, list[Rate]]:
    """Every rate of ``repeat`` rounds (envelope rates then bare Ed25519), by name."""
    pki = provision(directory, [SENDER, RECEIVER])
    sender, receiver, trust = pki.signer(SENDER), pki.signer(RECEIVER), pki.trust_store()
    envelope_rates(200, size=size, sender=sender, receiver=receiver, trust=trust)  # warm-up
    rates: dict[str, list[Rate]] = {}
    for _ in range(repeat):
        for rate in (
            *envelope_rates(count, size=size, sender=sender, receiver=receiver, trust=trust),
            *bare_ed25519(count, size=size),
        ):
            rates.setdefault(rate.name, []).append(rate)
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        rates = run(args.count, args.repeat, args.size, Path(tmp))
    print(f"{'rate':<18}{'median/s':>10}{'p50 ms':>9}{'p99 ms':>9}  runs/s")
    for name, runs in rates.items():
        per_s = [r.per_second for r in runs]
        p50, p99 = (
            f"{median([x for x in xs if x is not None]):>9.3f}" if None not in xs else f"{'-':>9}"
            for xs in ([r.p50_ms for r in runs], [r.p99_ms for r in runs])
        )
        print(
            f"{name:<18}{median(per_s):>10.0f}{p50}{p99}  " + ", ".join(f"{v:.0f}" for v in per_s)
        )


if __name__ == "__main__":
    main()
