"""What refusing a hostile record costs, against verifying a valid one (issue 9 item 4).

``python -m accord.conformance.cost [--repeat N]`` prints, for each shape of record,
its size, the verdict, the fastest and the median time of ``verify`` over N runs, and
the ratio of the fastest to that of a valid (2.7 kB, co-signed) message; then what one
record costs to verify with a per-message signature and with a batch signature (SPEC
12), its root verified or already cached. Figures, not assertions: the machine decides
the absolute numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from accord.envelope import Verified, payload_bytes, sign_payload, verify
from accord.envelope.batch import RootCache
from accord.envelope.samples import SAMPLES, sample_header, sample_label
from accord.envelope.vectors import _build_pki
from accord.models import (
    Confidence,
    KeyJudgment,
    Likelihood,
    Reliability,
    Source,
    StrategicAssessment,
)
from accord.trust import TrustStore

MIB = 1 << 20
VECTORS = Path(__file__).resolve().parents[3] / "schemas" / "vectors"


def _valid_mib() -> bytes:
    """A valid strategic assessment just under 1 MiB, signed with the test keys."""
    sample = SAMPLES[StrategicAssessment.TYPE]
    header = sample_header(sample)
    body = sample.body.model_copy(
        update={
            "summary": "情" * 20000,
            "key_judgments": tuple(
                KeyJudgment(
                    statement="判" * 2000, likelihood=Likelihood.LIKELY, confidence=Confidence.HIGH
                )
                for _ in range(50)
            ),
            "sources": tuple(
                Source(description="源" * 2000, reliability=Reliability.B, credibility=2)
                for _ in range(65)
            ),
        }
    )
    payload = payload_bytes(header, sample_label(sample.sender, sample.scope), body)
    return sign_payload(payload, StrategicAssessment.TYPE, [_build_pki().signers["JPN.MOFA"]])


def _shapes(valid: bytes) -> dict[str, bytes]:
    doc = json.loads(valid)
    sig = doc["signatures"][0]
    filler = MIB - 64
    big_payload = "A" * (filler - len(valid))
    return {
        "valid message": valid,
        "valid message of ~1 MiB": _valid_mib(),
        "1 MiB of [[[[": b"[" * MIB,
        "1 MiB list of []": b"[" + b"[]," * (MIB // 3 - 1) + b"[]]",
        "1 MiB list of {}": b"[" + b"{}," * (MIB // 3 - 1) + b"{}]",
        "1 MiB object, many members": b"{"
        + b",".join(b'"%d":0' % i for i in range(MIB // 10))
        + b"}",
        "1 MiB of whitespace then {}": b" " * (MIB - 2) + b"{}",
        "1 MiB payload, bad signature": json.dumps(
            {"payload": big_payload, "signatures": [sig]}, separators=(",", ":")
        ).encode(),
        "1 MiB payload of \\u escapes": (
            b'{"payload":"'
            + b"\\u0041" * ((MIB - 2000) // 6)
            + b'","signatures":['
            + json.dumps(sig, separators=(",", ":")).encode()
            + b"]}"
        ),
    }


def _times_ms(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(fastest, median) of ``repeat`` runs: on a shared machine the fastest run is
    the cost of the work itself, the median adds whatever else was running."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    store = TrustStore.from_bundle(VECTORS / manifest["bundle"], roots=manifest["roots"])
    vector = next(v for v in manifest["vectors"] if v["id"] == "valid/cosigned")
    valid = (VECTORS / vector["file"]).read_bytes()
    now = datetime.fromisoformat(vector["now"])
    base = None
    print(
        f"{'shape':30} {'bytes':>8} {'verdict':>14} {'min ms':>8} {'median ms':>9} {'x valid':>7}"
    )
    for name, raw in _shapes(valid).items():
        verdict = verify(raw, store, topic=vector["topic"], now=now)
        fastest, median = _times_ms(
            functools.partial(verify, raw, store, topic=vector["topic"], now=now), args.repeat
        )
        base = base or fastest
        label = "accept" if isinstance(verdict, Verified) else verdict.reason.value
        print(
            f"{name:30} {len(raw):>8} {label:>14} {fastest:>8.3f} {median:>9.3f} "
            f"{fastest / base:>7.1f}"
        )
    # Batch signatures (SPEC 12): one signature per batch. A receiver's RootCache
    # skips ENV-23's verify for a root it has seen; the inclusion proof still runs.
    print()
    print(f"{'one signature':30} {'bytes':>8} {'root cache':>14} {'min ms':>8} {'median ms':>9}")
    single = (VECTORS / "valid" / f"{StrategicAssessment.TYPE}.jws.json").read_bytes()
    batched = (VECTORS / "valid" / "batch-5-of-7.jws.json").read_bytes()
    roots = RootCache()
    verify(batched, store, topic=vector["topic"], now=now, roots=roots)
    for name, raw, cache in (
        ("per-message signature", single, None),
        ("batched, root not yet seen", batched, None),
        ("batched, root verified before", batched, roots),
    ):
        assert isinstance(verify(raw, store, topic=vector["topic"], now=now, roots=cache), Verified)
        fastest, median = _times_ms(
            functools.partial(verify, raw, store, topic=vector["topic"], now=now, roots=cache),
            args.repeat,
        )
        hit = "-" if cache is None else "hit"
        print(f"{name:30} {len(raw):>8} {hit:>14} {fastest:>8.3f} {median:>9.3f}")


if __name__ == "__main__":
    main()
