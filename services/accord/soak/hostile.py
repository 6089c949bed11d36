"""Scenario 5: hostile records injected raw onto the exchange topics.

Every generated record carries the reason the receiver must give it, by
construction; the check is per record: the quarantine topic's ``accord-reason``
header for that record's source offset must equal it. Valid messages are
interleaved on the same partition and must all be delivered. The receiver runs
as its own process (``accord receive``) so its peak RSS can be read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from accord.areas import Area
from accord.config import KafkaConnection
from accord.envelope import Header
from accord.envelope.jws import payload_bytes, sign_payload
from accord.errors import ReasonCode
from accord.kafka import new_consumer, new_producer
from accord.labels import Label
from accord.models import InformationReport
from accord.node.process import peak_rss_mib, start_receiver_process, stop_process
from accord.parties import Country, Scope
from accord.plan import Plan, dump_plan
from accord.publisher import Publisher, routing_headers
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.receiver.service import MAX_RECORD_BYTES
from accord.soak.common import (
    BI,
    CT,
    SENDER,
    check_inboxes,
    label_for,
    report,
    wait_for,
)
from accord.soak.exchange import fresh_plan
from accord.soak.report import ScenarioResult
from accord.trust import Signer
from accord.trust.pki import PkiDirectory, create_root, issue_certificate, provision

NAME = "hostile"
AGENCY = "JPN.NPA"
NOT_ENTITLED_SENDER = "JPN.MOFA"  # in the bilateral scope, but may not publish counter-terrorism
OUTSIDER = "USA.STATE"  # not a member of the bilateral scope at all
LE = Area.LAW_ENFORCEMENT
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Hostile:
    kind: str
    value: bytes
    topic: str
    expected: ReasonCode
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Keys:
    valid: Signer
    revoked: Signer
    expired: Signer
    unknown: Signer
    not_entitled: Signer
    outsider: Signer


def prepare_pki(directory: Path, plan: Plan) -> Keys:
    """A PKI of the scenario's own: it revokes and adds certificates."""
    pki = provision(directory, plan.agencies).directory
    revoked = pki.signer(SENDER)
    pki.issue(SENDER, rotate=True)  # the sender moves on to a new key...
    pki.revoke(SENDER, kid=revoked.kid)  # ...and its old one is revoked
    expired = _expired_signer(pki, SENDER)
    # A key certified by a root nobody trusts: its kid is in no trust store.
    stray_root_key, stray_root = create_root(Country.AUS, valid_days=30)
    stray_key, stray_cert = issue_certificate(SENDER, root_key=stray_root_key,
                                              root_cert=stray_root)
    pki.write_bundle()
    return Keys(
        valid=pki.signer(SENDER), revoked=revoked, expired=expired,
        unknown=Signer.from_key(stray_key, stray_cert),
        not_entitled=pki.signer(NOT_ENTITLED_SENDER), outsider=pki.signer(OUTSIDER),
    )


def _expired_signer(pki: PkiDirectory, agency: str) -> Signer:
    """A certificate that expired yesterday, filed beside the agency's others."""
    root_dir = pki.root_dir(Country.AUS)
    root_key = load_pem_private_key((root_dir / "ca.key.pem").read_bytes(), password=None)
    assert isinstance(root_key, Ed25519PrivateKey)
    from cryptography import x509

    root_cert = x509.load_pem_x509_certificate((root_dir / "ca.cert.pem").read_bytes())
    key, cert = issue_certificate(
        agency, root_key=root_key, root_cert=root_cert,
        not_before=datetime.now(UTC) - timedelta(days=3), valid_days=2,
    )
    signer = Signer.from_key(key, cert)
    (pki.agency_dir(agency) / f"{signer.kid}.cert.pem").write_bytes(
        cert.public_bytes(Encoding.PEM)
    )
    return signer


class Generator:
    """Valid messages and hostile records, each hostile one with its expected reason."""

    def __init__(self, plan: Plan, keys: Keys, rng: random.Random) -> None:
        self.plan = plan
        self.keys = keys
        self.rng = rng
        self.topic = plan.exchange_topic(BI, CT)
        self.other_topic = plan.exchange_topic(BI, LE)  # also read by the receiver
        self.valid_seen: list[tuple[Header, bytes]] = []
        self._n = 0
        self._fake_sequence = 1_000_000

    def header(self, sender: str, *, scope: Scope = BI, area: Area = CT, **kw: object) -> Header:
        self._fake_sequence += 1
        return Header.create(InformationReport.TYPE, sender=sender, scope=scope, area=area,
                             sequence=self._fake_sequence, namespace=self.plan.namespace,
                             **kw)  # type: ignore[arg-type]

    def signed(self, header: Header, label: Label, signer: Signer, n: int) -> bytes:
        return sign_payload(payload_bytes(header, label, report(n)), header.type, [signer])

    def valid(self, publisher: Publisher) -> tuple[Header, bytes]:
        self._n += 1
        header, envelope = publisher.seal(report(self._n), scope=BI, area=CT,
                                          label=label_for(SENDER))
        self.valid_seen.append((header, envelope))
        return header, envelope

    def hostile(self) -> Hostile:
        kinds = [
            self._substitute, self._bitflip, self._truncate, self._nesting, self._utf8,
            self._wrong_types, self._schema, self._wrong_label, self._wrong_topic,
            self._wrong_scope, self._replay, self._unknown_kid, self._revoked,
            self._expired, self._not_entitled, self._lying_headers,
        ]
        # Oversized records are 1 MiB each: a few percent of the mix is enough.
        if self.rng.random() < 0.02:
            return self._oversized()
        return self.rng.choice(kinds)()

    # -- byte-level damage ---------------------------------------------------

    def _sample(self) -> bytes:
        if self.valid_seen:
            return self.rng.choice(self.valid_seen)[1]
        header = self.header(SENDER)
        return self.signed(header, label_for(SENDER), self.keys.valid, 0)

    def _substitute(self) -> Hostile:
        # One base64url character of the signed payload replaced by another: still
        # well-formed, but the signature covers the transmitted text.
        raw = self._sample()
        start = raw.index(b'"payload":"') + len(b'"payload":"')
        end = raw.index(b'"', start)
        # Not the last character: changing it may only set its unused low bits, which
        # is non-canonical base64url (malformed, SPEC ENV-06), not a bad signature.
        i = self.rng.randrange(start, end - 1)
        choice = self.rng.choice([c for c in _B64 if ord(c) != raw[i]])
        return Hostile("bit-substitute", raw[:i] + choice.encode() + raw[i + 1:], self.topic,
                       ReasonCode.BAD_SIGNATURE)

    def _bitflip(self) -> Hostile:
        # Envelopes are ASCII, so setting the top bit of any byte makes invalid UTF-8.
        raw = bytearray(self._sample())
        i = self.rng.randrange(len(raw))
        raw[i] ^= 0x80
        return Hostile("bit-flip", bytes(raw), self.topic, ReasonCode.MALFORMED)

    def _truncate(self) -> Hostile:
        raw = self._sample()
        return Hostile("truncated", raw[: self.rng.randrange(len(raw))], self.topic,
                       ReasonCode.MALFORMED)

    def _oversized(self) -> Hostile:
        filler = b"A" * (MAX_RECORD_BYTES + self.rng.randrange(1, 4096))
        value = b'{"payload":"' + filler + b'","signatures":[]}'
        return Hostile("oversized", value, self.topic, ReasonCode.OVERSIZED)

    def _nesting(self) -> Hostile:
        depth = self.rng.randrange(5_000, 100_000)
        return Hostile("deep-nesting", b"[" * depth + b"]" * depth, self.topic,
                       ReasonCode.MALFORMED)

    def _utf8(self) -> Hostile:
        bad = self.rng.choice([b"\xc3\x28", b"\xed\xa0\x80", b"\xff", b"\xf8\x88\x80\x80\x80"])
        return Hostile("invalid-utf8", b'{"payload":"' + bad + b'","signatures":[]}',
                       self.topic, ReasonCode.MALFORMED)

    def _wrong_types(self) -> Hostile:
        value = self.rng.choice([
            b'{"payload":123,"signatures":[]}',
            b'{"payload":"e30","signatures":{"protected":"x"}}',
            b'{"payload":"e30","signatures":[{"protected":1,"signature":2}]}',
            b'["payload","signatures"]',
            b"null",
        ])
        return Hostile("wrong-types", value, self.topic, ReasonCode.MALFORMED)

    # -- validly signed, wrong inside ---------------------------------------

    def _schema(self) -> Hostile:
        # Signed by the real sender, but the header's sequence is a string.
        header = self.header(SENDER)
        payload = payload_bytes(header, label_for(SENDER), report(0))
        doc = json.loads(payload)
        doc["header"]["sequence"] = str(doc["header"]["sequence"])
        raw = sign_payload(json.dumps(doc).encode(), header.type, [self.keys.valid])
        return Hostile("wrong-type-signed", raw, self.topic, ReasonCode.SCHEMA_INVALID)

    def _wrong_label(self) -> Hostile:
        # A bilateral message whose label also releases it to the USA.
        label = label_for(SENDER, Scope.TRILATERAL)
        raw = self.signed(self.header(SENDER), label, self.keys.valid, 0)
        return Hostile("wrong-label", raw, self.topic, ReasonCode.RELEASABILITY_VIOLATION)

    def _wrong_topic(self) -> Hostile:
        # A valid message replayed onto another topic this receiver reads.
        return Hostile("wrong-topic", self._sample(), self.other_topic,
                       ReasonCode.TOPIC_MISMATCH)

    def _wrong_scope(self) -> Hostile:
        # The USA signing into the Japan-Australia scope.
        raw = self.signed(self.header(OUTSIDER), label_for(OUTSIDER), self.keys.outsider, 0)
        return Hostile("wrong-scope", raw, self.topic, ReasonCode.SCOPE_VIOLATION)

    def _replay(self) -> Hostile:
        # A delivered message's id, validly signed by its sender, over other content.
        if not self.valid_seen:
            return self._substitute()
        original, _ = self.rng.choice(self.valid_seen)
        raw = self.signed(original, label_for(SENDER), self.keys.valid, -1)
        return Hostile("replayed-id", raw, self.topic, ReasonCode.REPLAY,
                       tuple(routing_headers(original)))

    def _unknown_kid(self) -> Hostile:
        raw = self.signed(self.header(SENDER), label_for(SENDER), self.keys.unknown, 0)
        return Hostile("unknown-kid", raw, self.topic, ReasonCode.UNKNOWN_KEY)

    def _revoked(self) -> Hostile:
        raw = self.signed(self.header(SENDER), label_for(SENDER), self.keys.revoked, 0)
        return Hostile("revoked-cert", raw, self.topic, ReasonCode.REVOKED)

    def _expired(self) -> Hostile:
        raw = self.signed(self.header(SENDER), label_for(SENDER), self.keys.expired, 0)
        return Hostile("expired-cert", raw, self.topic, ReasonCode.EXPIRED_CERT)

    def _not_entitled(self) -> Hostile:
        sender = NOT_ENTITLED_SENDER
        raw = self.signed(self.header(sender), label_for(sender), self.keys.not_entitled, 0)
        return Hostile("not-entitled", raw, self.topic, ReasonCode.NOT_ENTITLED)

    def _lying_headers(self) -> Hostile:
        if not self.valid_seen:
            return self._truncate()
        header, raw = self.rng.choice(self.valid_seen)
        lying = tuple((k, b"USA.STATE" if k == "accord-sender" else v)
                      for k, v in routing_headers(header))
        return Hostile("lying-headers", raw, self.topic, ReasonCode.HEADER_MISMATCH, lying)


def mix(total_hostile: int, valid_every: int, rng: random.Random) -> Iterator[bool]:
    """True for a valid message, False for a hostile record; about 1 valid in ``valid_every``."""
    sent = 0
    while sent < total_hostile:
        if rng.randrange(valid_every) == 0:
            yield True
        else:
            sent += 1
            yield False
    yield True  # end on a valid one, so the last hostile record is followed by traffic


async def run(connection: KafkaConnection, workdir: Path, *, hostile: int = 10_000,
              valid_every: int = 5, seed: int | None = None,
              settle_s: float = 300.0) -> ScenarioResult:
    result = ScenarioResult(NAME)
    rng = random.Random(seed)  # noqa: S311 - reproducible fault points, not secrets
    plan = fresh_plan()
    keys = prepare_pki(workdir / "pki", plan)
    from accord.plan.reconcile import apply_plan

    apply_plan(plan, connection)
    plan_file = dump_plan(plan, workdir / "plan.yaml")
    data_dir = workdir / "node"
    inbox = data_dir / "inbox.sqlite"
    node = start_receiver_process(
        agency=AGENCY, connection=connection, plan_file=plan_file,
        pki_dir=workdir / "pki", data_dir=data_dir, log=workdir / "receiver.log",
    )
    # Raw injection: no checks, and large enough requests for the oversized records,
    # which gzip shrinks below the broker's limit while they stay 1 MiB when read.
    producer = new_producer(connection, compression_type="gzip",
                            max_request_size=4 * MAX_RECORD_BYTES, linger_ms=20)
    publisher = Publisher(agency=SENDER, connection=connection, plan=plan, signer=keys.valid,
                          state_path=workdir / "publisher.sqlite")
    gen = Generator(plan, keys, rng)
    expected: dict[tuple[str, int, int], Hostile] = {}
    valid_ids: list[str] = []
    peak = 0.0
    await producer.start()
    try:
        pending: list[tuple[asyncio.Future[object], Hostile | None]] = []
        for is_valid in mix(hostile, valid_every, rng):
            if is_valid:
                header, envelope = gen.valid(publisher)
                fut = await producer.send(gen.topic, envelope, key=SENDER.encode(),
                                          headers=routing_headers(header))
                valid_ids.append(str(header.message_id))
                pending.append((fut, None))
            else:
                h = gen.hostile()
                fut = await producer.send(h.topic, h.value, key=SENDER.encode(),
                                          headers=list(h.headers))
                pending.append((fut, h))
            if len(pending) >= 500:
                await _drain(pending, expected)
                peak = max(peak, peak_rss_mib(node.pid) or 0.0)
        await _drain(pending, expected)
        result.sent = len(valid_ids) + len(expected)
        result.acknowledged = result.sent
        result.figures["hostile"] = len(expected)
        result.figures["valid"] = len(valid_ids)

        def progress() -> bool:
            nonlocal peak
            peak = max(peak, peak_rss_mib(node.pid) or 0.0)
            return len(inbox_ids(inbox)) >= len(valid_ids) or node.poll() is not None

        await wait_for(progress, settle_s, every=0.5)
        quarantined = await _read_quarantine(connection, plan.quarantine_topic(AGENCY),
                                             expect=len(expected), within_s=settle_s)
        peak = max(peak, peak_rss_mib(node.pid) or 0.0)
        result.figures["receiver_alive"] = float(node.poll() is None)
    finally:
        stop_process(node)
        await producer.stop()
        await publisher.stop()

    check_inboxes(result, valid_ids, {AGENCY: inbox_ids(inbox)})
    result.peak_rss_mib = peak
    reasons: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    seen: set[tuple[str, int, int]] = set()
    for where, reason in quarantined:
        reasons[reason] += 1
        record = expected.get(where)
        if record is None:
            wrong["valid message quarantined"] += 1
        elif where in seen:
            wrong["quarantined twice"] += 1
        elif reason != record.expected.value:
            wrong[f"{record.kind}: {reason} instead of {record.expected.value}"] += 1
        seen.add(where)
    for where, item in expected.items():
        if where not in seen:
            wrong[f"{item.kind}: not quarantined"] += 1
    result.quarantined = dict(reasons)
    result.misclassified = sum(wrong.values())
    result.notes.extend(f"{n} x {what}" for what, n in wrong.most_common(10))
    kinds = Counter(h.kind for h in expected.values())
    result.notes.append("kinds: " + ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())))
    return result


async def _drain(pending: list[tuple[asyncio.Future[object], Hostile | None]],
                 expected: dict[tuple[str, int, int], Hostile]) -> None:
    for fut, h in pending:
        meta = await fut
        if h is not None:
            expected[(meta.topic, meta.partition, meta.offset)] = h  # type: ignore[attr-defined]
    pending.clear()


async def _read_quarantine(connection: KafkaConnection, topic: str, *, expect: int,
                           within_s: float) -> list[tuple[tuple[str, int, int], str]]:
    """(source topic, partition, offset) and reason of every quarantined record."""
    consumer = new_consumer(connection, topic, group_id=None)
    await consumer.start()
    out: list[tuple[tuple[str, int, int], str]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    idle_since = loop.time()
    try:
        # Read past ``expect`` until the topic is idle for a while, so an extra
        # (a valid message wrongly quarantined, a record quarantined twice) shows.
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            if batch:
                idle_since = loop.time()
            for records in batch.values():
                for r in records:
                    h = {k: v.decode() for k, v in (r.headers or ())}
                    where = (h["accord-source-topic"], int(h["accord-source-partition"]),
                             int(h["accord-source-offset"]))
                    out.append((where, h["accord-reason"]))
            if len(out) >= expect and loop.time() - idle_since > 3.0:
                break
    finally:
        await consumer.stop()
    return out
