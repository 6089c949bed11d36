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
    print()
    print(_envelopes(pki.signer("AUS.AFP"), trust, keys, args))


def _envelopes(
    signer: Signer,
    trust: TrustStore,
    keys: dict[str, EncryptionKeyPair],
    args: argparse.Namespace,
) -> str:
    """Envelope v1 (signed) against v2 (signed + encrypted) for the same message, ten
    recipients: bytes per record, and CPU per message of seal and of verify (+ open)."""
    from accord.bench.pipeline import AREA, SCOPE, bench_body, bench_label
    from accord.confidentiality.keyring import Keyring
    from accord.envelope import Header, Verified, seal, verify
    from accord.envelope.jws import Sealed
    from accord.envelope.v2 import open_sealed, seal_encrypted, verify_sealed

    body = bench_body(1, args.body_bytes)
    label = bench_label()
    recipients = [Recipient(a, keys[a].public) for a in AGENCIES]
    cwk, announcement = seal_cwk(signer, recipients)
    keyring = Keyring("JPN.MOFA", [keys["JPN.MOFA"]])
    keyring.open(announcement, trust, now=datetime.now(UTC))

    def header() -> Header:
        return Header.create(body.TYPE, sender=signer.agency, scope=SCOPE, area=AREA, sequence=1)

    def v1() -> bytes:
        return seal(header(), label, body, signer)

    def v2() -> bytes:
        return seal_encrypted(header(), label, body, signer, cwk)

    plain, secret = v1(), v2()
    n = max(1, args.messages // 4)
    seal1, seal2 = _cpu_us(v1, n), _cpu_us(v2, n)

    def read1() -> object:
        verdict = verify(plain, trust)
        assert isinstance(verdict, Verified)
        return verdict

    def read2() -> object:
        verdict = verify_sealed(secret, trust)
        assert isinstance(verdict, Sealed)
        return open_sealed(verdict, keyring)

    read_1, read_2 = _cpu_us(read1, n), _cpu_us(read2, n)
    return "\n".join(
        (
            f"envelope, body {len(body.model_dump_json())} B JSON, 10 recipients, "
            f"{n} messages; CPU per message, one process",
            f"{'':>18} {'record B':>9} {'seal':>8} {'verify(+open)':>14} {'seal+read msgs/s':>17}",
            f"{'v1 signed':>18} {len(plain):>9} {seal1:>6.0f}us {read_1:>12.0f}us "
            f"{1e6 / (seal1 + read_1):>17.0f}",
            f"{'v2 signed+enc':>18} {len(secret):>9} {seal2:>6.0f}us {read_2:>12.0f}us "
            f"{1e6 / (seal2 + read_2):>17.0f}",
            f"v2 - v1: {len(secret) - len(plain):+d} B per record; v2/v1 throughput "
            f"{(seal1 + read_1) / (seal2 + read_2):.2f}x; announcement {len(announcement)} B "
            "once per epoch",
        )
    )


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
