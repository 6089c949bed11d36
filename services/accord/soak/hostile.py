"""Scenario 5: hostile records injected raw onto the exchange topics.

Every generated record carries the reason the receiver must give it, by
construction; the check is per record: the quarantine topic's ``accord-reason``
header for that record's source offset must equal it. Valid messages are
interleaved on the same partition and must all be delivered, and none may be
altered. The receiver runs as its own process (``accord receive``) so its peak
RSS can be read from /proc.

Beyond damaged and mis-signed records, an agency with a valid key (JPN.NPA)
attacks another's messages: it retracts them (right after them, or right
before, so both usually land in one poll) and squats their ids (its message
must land under its own name, the genuine one too). Costly shapes (1 MiB of
``[``, of ``{},``, of object members) probe the work done before the signature:
each shape's worst time to refuse, measured on the receiver's own code path
(``assess``) in this process, is reported against a valid message's median.
A poisoned trust record (a certificate with an unknown key algorithm) goes on
the trust topic first, then a rotated certificate of the sender: the messages
signed with the rotated key at the end land only if the node's trust feed lived.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from accord.areas import Area
from accord.config import KafkaConnection, inbox_path
from accord.envelope import MAX_BYTES as MAX_RECORD_BYTES
from accord.envelope import Header
from accord.envelope.jws import payload_bytes, sign_payload
from accord.errors import ReasonCode
from accord.kafka import new_consumer, new_producer
from accord.labels import Label
from accord.models import InformationReport, MessageBody, Retract
from accord.node.process import peak_rss_mib, start_receiver_process, stop_process
from accord.parties import Country, Scope
from accord.plan import Plan, dump_plan
from accord.publisher import Publisher, routing_headers
from accord.receiver.assess import assess
from accord.receiver.inbox import read_keys
from accord.receiver.inbox import read_message_ids as inbox_ids
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
from accord.trust import Signer, TrustStore
from accord.trust.pki import PkiDirectory, create_root, issue_certificate, provision

NAME = "hostile"
AGENCY = "JPN.NPA"
NOT_ENTITLED_SENDER = "JPN.MOFA"  # in the bilateral scope, but may not publish counter-terrorism
OUTSIDER = "USA.STATE"  # not a member of the bilateral scope at all
ATTACKER = AGENCY
"""A valid key entitled to the sender's own topic (counter-terrorism): its attacks then
share the target's partition, so their order against the target is the one sent."""
LE = Area.LAW_ENFORCEMENT
_TIMED_PER_SHAPE = 20
"""Instances of each shape timed on the receiver's code path (bounds the soak's own cost)."""
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Hostile:
    kind: str
    value: bytes
    topic: str
    expected: ReasonCode | None
    """The reason it must be quarantined with; None: it must land, as its sender's own."""
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def may_land(self) -> bool:
        """A retract sent before its target is refused only when both arrive in one
        poll; after a poll boundary it lands, harmlessly (it can only ever change its
        own sender's message), which the status check shows."""
        return self.expected is None or self.kind == "retract-before-target"


_ATTACK_EVERY = 10
"""About one attack (an extra record, beside the counted hostile ones) per this many."""


@dataclass(frozen=True)
class Keys:
    trust: TrustStore
    """What the receiving node trusts at start (its PKI directory's store)."""
    valid: Signer
    revoked: Signer
    expired: Signer
    unknown: Signer
    not_entitled: Signer
    outsider: Signer
    attacker: Signer
    rotated: Signer
    """The sender's next key, known to the node only through the trust topic."""


def prepare_pki(directory: Path, plan: Plan) -> Keys:
    """A PKI of the scenario's own: it revokes and adds certificates."""
    pki = provision(directory, plan.agencies).directory
    revoked = pki.signer(SENDER)
    pki.issue(SENDER, rotate=True)  # the sender moves on to a new key...
    pki.revoke(SENDER, kid=revoked.kid)  # ...and its old one is revoked
    expired = _expired_signer(pki, SENDER)
    # A key certified by a root nobody trusts: its kid is in no trust store.
    stray_root_key, stray_root = create_root(Country.AUS, valid_days=30)
    stray_key, stray_cert = issue_certificate(SENDER, root_key=stray_root_key, root_cert=stray_root)
    rotated = _expired_signer(pki, SENDER, file=False, expired=False)
    pki.write_bundle()
    return Keys(
        trust=pki.trust_store(),
        valid=pki.signer(SENDER),
        revoked=revoked,
        expired=expired,
        unknown=Signer.from_key(stray_key, stray_cert),
        not_entitled=pki.signer(NOT_ENTITLED_SENDER),
        outsider=pki.signer(OUTSIDER),
        attacker=pki.signer(ATTACKER),
        rotated=rotated,
    )


def _expired_signer(
    pki: PkiDirectory, agency: str, *, file: bool = True, expired: bool = True
) -> Signer:
    """A certificate that expired yesterday, filed beside the agency's others (or,
    with ``expired=False, file=False``, a valid one the node's directory never shows)."""
    root_dir = pki.root_dir(Country.AUS)
    root_key = load_pem_private_key((root_dir / "ca.key.pem").read_bytes(), password=None)
    assert isinstance(root_key, Ed25519PrivateKey)
    from cryptography import x509

    root_cert = x509.load_pem_x509_certificate((root_dir / "ca.cert.pem").read_bytes())
    if expired:
        key, cert = issue_certificate(
            agency,
            root_key=root_key,
            root_cert=root_cert,
            not_before=datetime.now(UTC) - timedelta(days=3),
            valid_days=2,
        )
    else:
        key, cert = issue_certificate(agency, root_key=root_key, root_cert=root_cert)
    signer = Signer.from_key(key, cert)
    if file:
        (pki.agency_dir(agency) / f"{signer.kid}.cert.pem").write_bytes(
            cert.public_bytes(Encoding.PEM)
        )
    return signer


def poisoned_certificate(signer: Signer) -> bytes:
    """``signer``'s certificate with its key algorithm set to an unassigned OID
    (1.3.101.127): it parses, but its key cannot be loaded."""
    der = signer.certificate.public_bytes(Encoding.DER)
    ed25519_spki = bytes.fromhex("302a300506032b6570032100")
    assert der.count(ed25519_spki) == 1
    der = der.replace(ed25519_spki, bytes.fromhex("302a300506032b657f032100"))
    import base64

    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


class Generator:
    """Valid messages and hostile records, each hostile one with its expected reason."""

    def __init__(
        self, plan: Plan, keys: Keys, rng: random.Random, publisher: Publisher | None = None
    ) -> None:
        self.plan = plan
        self.keys = keys
        self.rng = rng
        self.publisher = publisher
        self.squatted: set[str] = set()
        self.retracted: set[str] = set()
        """Ids the attacker squats or retracts, each at most once and never both: it
        may retract an id it holds itself (the batch step judges ownership over the
        whole poll, so even a squat later in the same poll counts), and that lands."""
        self.follow: tuple[Header, bytes] | None = None
        """A valid message the last hostile record was built around, to send right after."""
        self.topic = plan.exchange_topic(BI, CT)
        self.other_topic = plan.exchange_topic(BI, LE)  # also read by the receiver
        self.valid_seen: list[tuple[Header, bytes]] = []
        self._n = 0
        self._fake_sequence = 1_000_000

    def header(
        self,
        sender: str,
        *,
        scope: Scope = BI,
        area: Area = CT,
        type: str = InformationReport.TYPE,
        **kw: object,
    ) -> Header:
        self._fake_sequence += 1
        return Header.create(
            type,
            sender=sender,
            scope=scope,
            area=area,
            sequence=self._fake_sequence,
            namespace=self.plan.namespace,
            **kw,  # type: ignore[arg-type]
        )

    def signed(
        self, header: Header, label: Label, signer: Signer, n: int, body: MessageBody | None = None
    ) -> bytes:
        return sign_payload(payload_bytes(header, label, body or report(n)), header.type, [signer])

    def take_follow(self) -> tuple[Header, bytes] | None:
        follow, self.follow = self.follow, None
        return follow

    def valid(self, publisher: Publisher) -> tuple[Header, bytes]:
        self._n += 1
        header, envelope = publisher.seal(
            report(self._n), scope=BI, area=CT, label=label_for(SENDER)
        )
        self.valid_seen.append((header, envelope))
        return header, envelope

    def hostile(self) -> Hostile:
        kinds = [
            self._substitute,
            self._bitflip,
            self._truncate,
            self._nesting,
            self._utf8,
            self._wrong_types,
            self._schema,
            self._wrong_label,
            self._wrong_topic,
            self._wrong_scope,
            self._replay,
            self._unknown_kid,
            self._revoked,
            self._expired,
            self._not_entitled,
            self._lying_headers,
        ]
        if self.publisher is not None and self._free_targets():
            kinds.append(self._retract_after)  # shares the target's partition: always refused
        # Oversized and costly records are 1 MiB each: a few percent of the mix is enough.
        if self.rng.random() < 0.02:
            return self.rng.choice(
                [self._oversized, self._deep_open, self._empty_objects, self._many_members]
            )()
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
        return Hostile(
            "bit-substitute",
            raw[:i] + choice.encode() + raw[i + 1 :],
            self.topic,
            ReasonCode.BAD_SIGNATURE,
        )

    def _bitflip(self) -> Hostile:
        # Envelopes are ASCII, so setting the top bit of any byte makes invalid UTF-8.
        raw = bytearray(self._sample())
        i = self.rng.randrange(len(raw))
        raw[i] ^= 0x80
        return Hostile("bit-flip", bytes(raw), self.topic, ReasonCode.MALFORMED)

    def _truncate(self) -> Hostile:
        raw = self._sample()
        return Hostile(
            "truncated", raw[: self.rng.randrange(len(raw))], self.topic, ReasonCode.MALFORMED
        )

    def _oversized(self) -> Hostile:
        filler = b"A" * (MAX_RECORD_BYTES + self.rng.randrange(1, 4096))
        value = b'{"payload":"' + filler + b'","signatures":[]}'
        return Hostile("oversized", value, self.topic, ReasonCode.OVERSIZED)

    # -- costly shapes: 1 MiB of cheap-to-write, costly-to-parse JSON ---------

    def _costly(self, kind: str, head: bytes, unit: bytes, tail: bytes) -> Hostile:
        n = (MAX_RECORD_BYTES - len(head) - len(tail) - 64) // len(unit)
        return Hostile(kind, head + unit * n + tail, self.topic, ReasonCode.MALFORMED)

    def _deep_open(self) -> Hostile:
        return self._costly("1MiB-of-[", b"", b"[", b"")

    def _empty_objects(self) -> Hostile:
        return self._costly("1MiB-of-{}", b"[", b"{},", b"{}]")

    def _many_members(self) -> Hostile:
        return self._costly("1MiB-of-members", b"{", b'"a":0,', b'"z":0}')

    # -- an agency with a valid key against another's messages ---------------

    def _next_valid(self) -> tuple[Header, bytes]:
        assert self.publisher is not None
        self.follow = self.valid(self.publisher)
        return self.follow

    def _free_targets(self) -> list[Header]:
        """Valid messages already sent, lately, whose ids the attacker has not used yet.
        An "after" attack needs one: falling back to the next message would send the
        attack before its target, where a poll boundary lets a retraction land."""
        used = self.squatted | self.retracted
        return [h for h, _ in self.valid_seen[-5:] if str(h.message_id) not in used]

    def _retraction(self, kind: str, target: Header) -> Hostile:
        self.retracted.add(str(target.message_id))
        body = Retract(
            target_message_id=target.message_id, target_sender=ATTACKER, reason="Withdrawn."
        )
        header = self.header(ATTACKER, type=Retract.TYPE)
        raw = self.signed(header, label_for(ATTACKER), self.keys.attacker, 0, body)
        return Hostile(
            kind, raw, self.topic, ReasonCode.NOT_ORIGINATOR, tuple(routing_headers(header))
        )

    def attack(self) -> Hostile | None:
        """Now and then, an extra record that need not be refused: a squatted id (it
        lands, under its own sender) or a retract sent before its target."""
        if self.publisher is None or self.rng.randrange(_ATTACK_EVERY):
            return None
        return self.rng.choice([self._retract_before, self._squat_after, self._squat_before])()

    def _retract_after(self) -> Hostile:
        return self._retraction("retract-after-target", self.rng.choice(self._free_targets()))

    def _retract_before(self) -> Hostile:
        return self._retraction("retract-before-target", self._next_valid()[0])

    def _squatting(self, kind: str, target: Header) -> Hostile:
        self.squatted.add(str(target.message_id))
        header = self.header(ATTACKER, message_id=target.message_id)
        raw = self.signed(header, label_for(ATTACKER), self.keys.attacker, 0)
        return Hostile(kind, raw, self.topic, None, tuple(routing_headers(header)))

    def _squat_after(self) -> Hostile:
        free = self._free_targets()
        if not free:
            return self._squat_before()
        return self._squatting("squat-after-genuine", self.rng.choice(free))

    def _squat_before(self) -> Hostile:
        return self._squatting("squat-before-genuine", self._next_valid()[0])

    def _nesting(self) -> Hostile:
        depth = self.rng.randrange(5_000, 100_000)
        return Hostile(
            "deep-nesting", b"[" * depth + b"]" * depth, self.topic, ReasonCode.MALFORMED
        )

    def _utf8(self) -> Hostile:
        bad = self.rng.choice([b"\xc3\x28", b"\xed\xa0\x80", b"\xff", b"\xf8\x88\x80\x80\x80"])
        return Hostile(
            "invalid-utf8",
            b'{"payload":"' + bad + b'","signatures":[]}',
            self.topic,
            ReasonCode.MALFORMED,
        )

    def _wrong_types(self) -> Hostile:
        value = self.rng.choice(
            [
                b'{"payload":123,"signatures":[]}',
                b'{"payload":"e30","signatures":{"protected":"x"}}',
                b'{"payload":"e30","signatures":[{"protected":1,"signature":2}]}',
                b'["payload","signatures"]',
                b"null",
            ]
        )
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
        return Hostile("wrong-topic", self._sample(), self.other_topic, ReasonCode.TOPIC_MISMATCH)

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
        return Hostile(
            "replayed-id", raw, self.topic, ReasonCode.REPLAY, tuple(routing_headers(original))
        )

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
        lying = tuple(
            (k, b"USA.STATE" if k == "accord-sender" else v) for k, v in routing_headers(header)
        )
        return Hostile("lying-headers", raw, self.topic, ReasonCode.HEADER_MISMATCH, lying)


def schedule(gen: Generator, order: Iterable[bool]) -> Iterator[Hostile | tuple[Header, bytes]]:
    """The records in the order they go out: for each of ``order`` (see ``mix``) a
    valid message (header, envelope), or a hostile record, then the valid message it
    was built around (if any), then now and then an attack and its target likewise.

    Lazy, and sent in this order by ``run``: the generator's view of what has been
    sent (``valid_seen``) is then what the broker has been given."""
    assert gen.publisher is not None
    for is_valid in order:
        if is_valid:
            yield gen.valid(gen.publisher)
            continue
        yield from _with_follow(gen, gen.hostile())
        # Only now: an attack built around the next message replaces ``follow``.
        attack = gen.attack()
        if attack is not None:
            yield from _with_follow(gen, attack)


def _with_follow(gen: Generator, record: Hostile) -> Iterator[Hostile | tuple[Header, bytes]]:
    yield record
    follow = gen.take_follow()  # the valid message it was built around
    if follow is not None:
        yield follow


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


async def run(
    connection: KafkaConnection,
    workdir: Path,
    *,
    hostile: int = 10_000,
    valid_every: int = 5,
    seed: int | None = None,
    settle_s: float = 300.0,
) -> ScenarioResult:
    result = ScenarioResult(NAME)
    rng = random.Random(seed)  # noqa: S311 - reproducible fault points, not secrets
    plan = fresh_plan()
    keys = prepare_pki(workdir / "pki", plan)
    from accord.plan.reconcile import apply_plan

    apply_plan(plan, connection)
    plan_file = dump_plan(plan, workdir / "plan.yaml")
    data_dir = workdir / "node"
    inbox = inbox_path(data_dir)
    node = start_receiver_process(
        agency=AGENCY,
        connection=connection,
        plan_file=plan_file,
        pki_dir=workdir / "pki",
        data_dir=data_dir,
        log=workdir / "receiver.log",
    )
    # Raw injection: no checks, and large enough requests for the oversized records,
    # which gzip shrinks below the broker's limit while they stay 1 MiB when read.
    producer = new_producer(
        connection, compression_type="gzip", max_request_size=4 * MAX_RECORD_BYTES, linger_ms=20
    )
    publisher = Publisher(
        agency=SENDER,
        connection=connection,
        plan=plan,
        signer=keys.valid,
        state_path=workdir / "publisher.sqlite",
    )
    gen = Generator(plan, keys, rng, publisher)
    timer = Timer(plan, keys.trust)
    expected: dict[tuple[str, int, int], Hostile] = {}
    valid_ids: list[str] = []
    peak = 0.0
    await producer.start()
    try:
        # First, on the trust topic: a poisoned certificate, then the sender's rotated
        # one. The messages signed with the rotated key go last (below).
        await producer.send_and_wait(
            plan.trust_topic, poisoned_certificate(keys.attacker), key=b"cert:poisoned"
        )
        await producer.send_and_wait(
            plan.trust_topic,
            keys.rotated.certificate.public_bytes(Encoding.PEM),
            key=f"cert:{keys.rotated.kid}".encode(),
        )
        pending: list[tuple[asyncio.Future[object], Hostile | None]] = []

        async def send_valid(header: Header, envelope: bytes) -> None:
            timer.valid(envelope, gen.topic)
            fut = await producer.send(
                gen.topic, envelope, key=SENDER.encode(), headers=routing_headers(header)
            )
            valid_ids.append(str(header.message_id))
            pending.append((fut, None))

        async def send_hostile(h: Hostile) -> None:
            timer.hostile(h)
            fut = await producer.send(
                h.topic, h.value, key=SENDER.encode(), headers=list(h.headers)
            )
            pending.append((fut, h))

        for outgoing in schedule(gen, mix(hostile, valid_every, rng)):
            if isinstance(outgoing, Hostile):
                await send_hostile(outgoing)
            else:
                await send_valid(*outgoing)
            if len(pending) >= 500:
                await _drain(pending, expected)
                peak = max(peak, peak_rss_mib(node.pid) or 0.0)
        for _ in range(5):  # signed with the key only the trust topic announced
            header = gen.header(SENDER)
            await send_valid(header, gen.signed(header, label_for(SENDER), keys.rotated, 0))
        await _drain(pending, expected)
        attacks = {w: h for w, h in expected.items() if h.may_land}
        for where in attacks:
            del expected[where]
        result.sent = len(valid_ids) + len(expected) + len(attacks)
        result.acknowledged = result.sent
        result.figures["hostile"] = len(expected)
        result.figures["attacks"] = len(attacks)
        result.figures["valid"] = len(valid_ids)

        def progress() -> bool:
            nonlocal peak
            peak = max(peak, peak_rss_mib(node.pid) or 0.0)
            return len(inbox_ids(inbox)) >= len(valid_ids) or node.poll() is not None

        await wait_for(progress, settle_s, every=0.5)
        quarantined = await _read_quarantine(
            connection, plan.quarantine_topic(AGENCY), expect=len(expected), within_s=settle_s
        )
        peak = max(peak, peak_rss_mib(node.pid) or 0.0)
        result.figures["receiver_alive"] = float(node.poll() is None)
    finally:
        stop_process(node)
        await producer.stop()
        await publisher.stop()

    rows = read_keys(inbox)
    check_inboxes(result, valid_ids, {AGENCY: [m for s, m, _ in rows if s == SENDER]})
    result.peak_rss_mib = peak
    reasons: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    seen: set[tuple[str, int, int]] = set()
    landed_late = len(attacks)
    for where, reason in quarantined:
        attack = attacks.get(where)
        if attack is not None:
            if attack.expected is None or reason != attack.expected.value:
                wrong[f"{attack.kind}: quarantined ({reason})"] += 1
            elif where in seen:
                wrong["quarantined twice"] += 1
            else:
                landed_late -= 1
            seen.add(where)
            continue
        reasons[reason] += 1
        record = expected.get(where)
        if record is None:
            wrong[f"valid message quarantined ({reason})"] += 1
        elif where in seen:
            wrong["quarantined twice"] += 1
        elif reason != (want := str(record.expected)):  # never None outside ``attacks``
            wrong[f"{record.kind}: {reason} instead of {want}"] += 1
        seen.add(where)
    for where, item in expected.items():
        if where not in seen:
            wrong[f"{item.kind}: not quarantined"] += 1
    # No valid message may be altered by anyone: the sender never retracts here.
    altered = sum(1 for s, _, status in rows if s == SENDER and status != "current")
    if altered:
        wrong["valid message altered by another agency"] += altered
    squatters = sum(1 for s, _, _ in rows if s == ATTACKER)
    result.figures["squatters_landed"] = squatters
    # Squats, and retracts before their target split from it by a poll boundary.
    result.figures["attacks_landed_harmlessly"] = landed_late
    result.quarantined = dict(reasons)
    result.misclassified = sum(wrong.values())
    result.notes.extend(f"{n} x {what}" for what, n in wrong.most_common(10))
    kinds = Counter(h.kind for h in (*expected.values(), *attacks.values()))
    result.notes.append("kinds: " + ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())))
    result.notes.extend(timer.table(kinds, (*expected.values(), *attacks.values())))
    return result


class Timer:
    """Time to decide a record on the receiver's own code path (``assess``: size,
    parse, signature, chain, label, entitlement), in this process, per shape."""

    def __init__(self, plan: Plan, trust: TrustStore) -> None:
        self._plan = plan
        self._trust = trust
        self._valid: list[float] = []
        self._worst: dict[str, float] = {}
        self._timed: Counter[str] = Counter()

    def _time(self, value: bytes, topic: str, headers: tuple[tuple[str, bytes], ...]) -> float:
        started = time.perf_counter()
        assess(
            value,
            topic=topic,
            kafka_headers=headers,
            trust=self._trust,
            plan=self._plan,
            country=Country.JPN,
            now=datetime.now(UTC),
            max_bytes=MAX_RECORD_BYTES,
        )
        return time.perf_counter() - started

    def valid(self, envelope: bytes, topic: str) -> None:
        if len(self._valid) < 10 * _TIMED_PER_SHAPE:
            self._valid.append(self._time(envelope, topic, ()))

    def hostile(self, h: Hostile) -> None:
        if self._timed[h.kind] >= _TIMED_PER_SHAPE:
            return
        self._timed[h.kind] += 1
        took = self._time(h.value, h.topic, h.headers)
        self._worst[h.kind] = max(self._worst.get(h.kind, 0.0), took)

    def table(self, counts: Counter[str], items: Iterable[Hostile]) -> list[str]:
        """Per shape: count, expected reason, worst time to decide vs a valid message."""
        if not self._valid:
            return []
        valid = statistics.median(self._valid)
        reasons = {
            h.kind: (h.expected.value if h.expected else "lands as its sender's") for h in items
        }
        lines = [
            f"time to decide, worst of up to {_TIMED_PER_SHAPE} per shape, against a "
            f"valid message's median {valid * 1000:.2f} ms:",
            f"  {'shape':<26} {'count':>6}  {'expected':<24} {'worst ms':>9} {'x valid':>8}",
        ]
        for kind in sorted(counts):
            worst = self._worst.get(kind, 0.0)
            lines.append(
                f"  {kind:<26} {counts[kind]:>6}  {reasons[kind]:<24} "
                f"{worst * 1000:>9.2f} {worst / valid:>8.1f}"
            )
        return lines


async def _drain(
    pending: list[tuple[asyncio.Future[object], Hostile | None]],
    expected: dict[tuple[str, int, int], Hostile],
) -> None:
    for fut, h in pending:
        meta = await fut
        if h is not None:
            expected[(meta.topic, meta.partition, meta.offset)] = h  # type: ignore[attr-defined]
    pending.clear()


async def _read_quarantine(
    connection: KafkaConnection, topic: str, *, expect: int, within_s: float
) -> list[tuple[tuple[str, int, int], str]]:
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
                    where = (
                        h["accord-source-topic"],
                        int(h["accord-source-partition"]),
                        int(h["accord-source-offset"]),
                    )
                    out.append((where, h["accord-reason"]))
            if len(out) >= expect and loop.time() - idle_since > 3.0:
                break
    finally:
        await consumer.stop()
    return out
