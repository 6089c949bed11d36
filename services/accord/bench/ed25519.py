"""(c) bare Ed25519 sign and verify loops over a 1 KiB message: the ceiling."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.bench.figures import Rate


def bare_ed25519(count: int, size: int = 1024) -> tuple[Rate, Rate]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    data = os.urandom(size)
    start = time.perf_counter()
    for _ in range(count):
        signature = key.sign(data)
    sign = Rate("ed25519-sign", count, time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        public.verify(signature, data)
    verify = Rate("ed25519-verify", count, time.perf_counter() - start)
    return sign, verify
