"""Micro-benchmark: per-message CPU and bytes of confidentiality at 1, 3 and 10 recipients.

    python -m accord.confidentiality.bench [--messages 2000] [--body-bytes 1024]
                                           [--epoch-messages 1000]

Prints, per recipient count: the epoch cost (one signed CWK announcement: HPKE seal
to each recipient, its size, one recipient's open), the per-message cost (content key
derivation + AES-256-GCM, encrypt and decrypt), the per-message bytes (raw, and as
an envelope would carry it) and the amortised total with the announcement spread
over ``--epoch-messages`` messages, next to sealing with HPKE per recipient per
message (what the shared CWK avoids). CPU is process time, so other load on the
machine inflates it little; figures are one run on this machine, rerun to compare.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from accord.confidentiality.body import EncryptedBody, decrypt_body, encrypt_body
from accord.confidentiality.keys import SUITE, EncryptionKeyPair
from accord.confidentiality.recipients import Recipient
from accord.confidentiality.wrap import open_announcement, seal_cwk
from accord.trust import Signer, TrustStore
from accord.trust.pki import provision

AGENCIES = (
    "JPN.MOFA",
    "JPN.MOD",
    "JPN.NPA",
    "JPN.JCG",
    "AUS.DFAT",
    "AUS.DEFENCE",
    "AUS.AFP",
    "AUS.ABF",
    "USA.STATE",
    "USA.DOD",
)


def _cpu_us(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def _b64(n: int) -> int:
    return len(base64.urlsafe_b64encode(b"\0" * n).rstrip(b"="))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m accord.confidentiality.bench")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--body-bytes", type=int, default=1024)
    parser.add_argument(
        "--epoch-messages",
        type=int,
        default=1000,
        help="messages per CWK epoch, to amortise the announcement",
    )
    args = parser.parse_args(argv)
    pki = provision(Path(tempfile.mkdtemp(prefix="accord-bench-pki-")), AGENCIES)
    trust = pki.trust_store()
    keys = {a: EncryptionKeyPair.generate() for a in AGENCIES}
    signer = pki.signer("JPN.MOFA")
    print(
        f"body {args.body_bytes} B, {args.messages} messages, "
        f"{args.epoch_messages} messages per CWK epoch; CPU is process time per operation"
    )
    print(
        f"{'recipients':>10} {'epoch seal':>11} {'announce':>9} {'open':>8} "
        f"{'encrypt':>8} {'decrypt':>8} {'raw +B':>7} {'jws +B':>7} {'jws b64:false +B':>17} "
        f"{'per msg (amortised)':>20} {'HPKE per msg':>13}"
    )
    for count in (1, 3, 10):
        print(_row(count, signer, trust, keys, args))


def _row(
    count: int,
    signer: Signer,
    trust: TrustStore,
    keys: dict[str, EncryptionKeyPair],
    args: argparse.Namespace,
) -> str:
    header, label = b'{"header":"' + b"h" * 400 + b'"}', b'{"label":"' + b"l" * 300 + b'"}'
    body = b"x" * args.body_bytes
    recipients = [Recipient(a, keys[a].public) for a in AGENCIES[:count]]
    seal_us = _cpu_us(lambda: seal_cwk(signer, recipients), 20)
    cwk, announcement = seal_cwk(signer, recipients)
    reader = AGENCIES[count - 1]
    at = datetime.now(UTC)
    open_us = _cpu_us(
        lambda: open_announcement(announcement, trust, reader, [keys[reader]], now=at), 20
    )
    mid = uuid.uuid4()
    sealed = encrypt_body(cwk, mid, header=header, label=label, plaintext=body)
    parsed = EncryptedBody.from_bytes(sealed)
    enc_us = _cpu_us(
        lambda: encrypt_body(cwk, uuid.uuid4(), header=header, label=label, plaintext=body),
        args.messages,
    )
    dec_us = _cpu_us(
        lambda: decrypt_body(cwk, mid, header=header, label=label, body=parsed), args.messages
    )
    raw = len(sealed) - len(body)
    # The ciphertext travels as a base64url JSON string (+2 quotes) inside the JWS
    # payload; signed-only, the plaintext body is inside the payload's base64url once.
    jws = _b64(_b64(len(sealed)) + 2) - _b64(len(body))
    jws_unencoded = _b64(len(sealed)) + 2 - _b64(len(body))
    per_msg = enc_us + seal_us / args.epoch_messages
    naive = _cpu_us(lambda: [SUITE.encrypt(cwk.key, r.public.hpke_key()) for r in recipients], 20)
    amortised_bytes = len(announcement) / args.epoch_messages
    return (
        f"{count:>10} {seal_us / 1000:>9.2f}ms {len(announcement):>8}B {open_us:>6.0f}us "
        f"{enc_us:>6.1f}us {dec_us:>6.1f}us {raw:>7} {jws:>7} {jws_unencoded:>17} "
        f"{per_msg:>8.1f}us +{amortised_bytes:>5.1f}B {naive:>11.0f}us"
    )


if __name__ == "__main__":
    main()
