"""Batch signatures (SPEC.md section 12): one signature per batch, every record
verifiable alone, and every way a batched element can be wrong refused by its rule."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _receive
import pytest
from _accord_pki import pki

from accord.confidentiality import ContentEncryptor, EncryptionKeyPair, Recipient
from accord.envelope import Header, Rejected, Verified, cosign, new_message_id
from accord.envelope.batch import RootCache, Unsigned, sign_batch
from accord.envelope.jws import Sealed, audit_path_length, sign_record, unsigned, verify_any
from accord.envelope.merkle import MerkleTree
from accord.envelope.samples import SAMPLES, sample_header, sample_label
from accord.envelope.v2 import unsigned_encrypted
from accord.errors import ReasonCode
from accord.labels import scope_label
from accord.models import StrategicAssessment
from accord.receiver.inbox import Inbox
from accord.receiver.step import step
from accord.trust import Signer, TrustStore

SA = SAMPLES[StrategicAssessment.TYPE]
SA_TYPE, SA_BODY = StrategicAssessment.TYPE, SA.body
SENDER = SA.sender  # JPN.MOFA
TOPIC = sample_header(SA).topic


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def now() -> datetime:
    return datetime.now(UTC)


def signer(agency: str = SENDER) -> Signer:
    return pki().signer(agency)


def items(n: int, *, v2: bool = False) -> list[Unsigned]:
    """``n`` distinct messages from the sender, as a per-message seal would sign them."""
    at = now()
    out = []
    cwk = None
    if v2:
        recipients = [
            Recipient(a, EncryptionKeyPair.generate().public) for a in ("AUS.DFAT", SENDER)
        ]
        cwk, _ = ContentEncryptor(signer()).cwk_for(recipients)
    for i in range(n):
        sample = dataclasses.replace(SA, message_id=new_message_id())
        header = sample_header(sample, sequence=i, issued_at=at)
        label = sample_label(sample.sender, sample.scope, at=at)
        if v2:
            assert cwk is not None
            out.append(unsigned_encrypted(header, label, sample.body, signer(), cwk))
        else:
            out.append(unsigned(header, label, sample.body, signer()))
    return out


def verdict_of(record: bytes, roots: RootCache | None = None) -> Verified | Sealed | Rejected:
    return verify_any(record, pki().trust_store(), topic=TOPIC, now=now(), roots=roots)


def refused(record: bytes, roots: RootCache | None = None) -> tuple[ReasonCode, str | None]:
    verdict = verdict_of(record, roots)
    assert isinstance(verdict, Rejected), verdict
    assert not verdict.detail.startswith("internal error"), verdict.detail
    return verdict.reason, verdict.rule


def edited(record: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(record)
    edit(doc)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def batch_member(record: bytes) -> dict[str, Any]:
    element: dict[str, Any] = json.loads(record)["signatures"][0]["batch"]
    return element


def root_statement(rh: dict[str, Any], rp: dict[str, Any], by: Signer | None = None) -> str:
    """A root statement with the given header and payload, signed by ``by``."""
    signed = f"{b64(json.dumps(rh, separators=(',', ':')).encode())}." + b64(
        json.dumps(rp, separators=(",", ":")).encode()
    )
    return f"{signed}.{b64((by or signer()).sign(signed.encode()))}"


def parts(record: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    rh, rp, _ = batch_member(record)["root"].split(".")
    return json.loads(b64d(rh)), json.loads(b64d(rp))


def with_root(record: bytes, root: str) -> bytes:
    return edited(record, lambda d: d["signatures"][0]["batch"].update(root=root))


# -- signing: every record of a batch verifies alone --------------------------------


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 256])
def test_each_record_of_a_batch_verifies_alone(n: int, v2: bool) -> None:
    batch = items(n, v2=v2)
    records = sign_batch(signer(), batch)
    assert len(records) == n
    trust = pki().trust_store()
    for item, record in zip(batch, records, strict=True):
        verdict = verify_any(record, trust, topic=TOPIC, now=now())
        assert isinstance(verdict, Sealed if v2 else Verified), verdict
        assert verdict.signers == (SENDER,)
        # The same payload a per-message record of the message carries.
        single = verify_any(sign_record(signer(), item), trust, topic=TOPIC, now=now())
        assert isinstance(single, Sealed if v2 else Verified), single
        assert verdict.payload == single.payload
        assert verdict.header == single.header


def test_a_batch_has_one_root_and_each_record_its_own_proof() -> None:
    records = sign_batch(signer(), items(7))
    members = [batch_member(r) for r in records]
    assert len({m["root"] for m in members}) == 1
    assert [m["index"] for m in members] == list(range(7))
    assert [len(m["path"]) for m in members] == [3, 3, 3, 3, 3, 3, 2]
    rh, rp = parts(records[0])
    assert rh == {"alg": "EdDSA", "kid": signer().kid, "typ": "accord-batch+jws"}
    assert rp["tree_size"] == 7
    assert list(rp) == ["tree_size", "root_hash"]
    # Member order as the spec writes it.
    assert records[0].startswith(b'{"payload":"')
    assert b'"signatures":[{"protected":"' in records[0]
    assert b'"batch":{"root":"' in records[0]


def test_a_batch_may_mix_v1_and_v2_records() -> None:
    records = sign_batch(signer(), [*items(2), *items(1, v2=True)])
    kinds = [type(verdict_of(r)) for r in records]
    assert kinds == [Verified, Verified, Sealed]


def test_sign_batch_refuses_an_empty_batch_and_another_signers_item() -> None:
    with pytest.raises(ValueError, match="1 to 65536"):
        sign_batch(signer(), [])
    with pytest.raises(ValueError, match="built for the signer"):
        sign_batch(signer("AUS.DFAT"), items(1))


def test_audit_path_length_is_the_length_of_the_trees_own_proof() -> None:
    for size in range(1, 70):
        tree = MerkleTree([bytes([i]) for i in range(size)])
        for index in range(size):
            assert audit_path_length(index, size) == len(tree.inclusion_proof(index))
    assert audit_path_length(0, 65536) == 16


# -- the root cache ----------------------------------------------------------------


def test_the_cache_holds_one_root_per_batch_and_only_successes() -> None:
    roots = RootCache()
    records = sign_batch(signer(), items(5))
    assert all(isinstance(verdict_of(r, roots), Verified) for r in records)
    assert len(roots) == 1
    # A forged signature on another root: refused, and not remembered.
    rh, rp = parts(records[0])
    forged = with_root(records[0], root_statement(rh, rp, by=signer("JPN.MOD")))
    assert refused(forged, roots) == (ReasonCode.BAD_SIGNATURE, "ENV-23")
    assert len(roots) == 1


def test_a_cached_root_does_not_skip_the_inclusion_proof() -> None:
    roots = RootCache()
    records = sign_batch(signer(), items(4))
    assert isinstance(verdict_of(records[0], roots), Verified)
    assert len(roots) == 1
    # Same root (cached), a forged path: still refused, by BAT-04.
    forged = edited(
        records[1], lambda d: d["signatures"][0]["batch"].update(path=[b64(b"\x07" * 32)] * 2)
    )
    assert refused(forged, roots) == (ReasonCode.BAD_SIGNATURE, "BAT-04")
    # And another record's payload under a cached root and a valid path.
    swapped = edited(records[1], lambda d: d.update(payload=json.loads(records[2])["payload"]))
    assert refused(swapped, roots) == (ReasonCode.BAD_SIGNATURE, "BAT-04")


def test_a_path_that_joins_a_verified_one_and_then_leaves_it_is_refused() -> None:
    """The receiver's proof memo stops hashing where a path joins one already shown to
    reach the root, but only if the rest of the path is that path's: a record whose
    lowest step joins and whose top element is forged is still refused."""
    roots = RootCache()
    records = sign_batch(signer(), items(4))
    for record in (records[0], records[2], records[3]):
        assert isinstance(verdict_of(record, roots), Verified)
    assert len(roots.proofs) > 0

    def forge_top(d: dict[str, Any]) -> None:
        path = d["signatures"][0]["batch"]["path"]
        path[-1] = b64(b"\x07" * 32)

    assert refused(edited(records[1], forge_top), roots) == (ReasonCode.BAD_SIGNATURE, "BAT-04")
    assert isinstance(verdict_of(records[1], roots), Verified)


def test_the_cache_is_keyed_by_root_and_kid() -> None:
    roots = RootCache()
    record = sign_batch(signer(), items(1))[0]
    root = batch_member(record)["root"]
    roots.add(root, signer("AUS.DFAT").kid)  # "verified" under another key: no use here
    # The root's real signature still verifies (and is then cached under the right kid).
    assert isinstance(verdict_of(record, roots), Verified)
    assert (root, signer().kid) in roots
    # A root whose signature never verified is refused even though its text is cached
    # under another kid.
    rh, rp = parts(record)
    bad = root_statement(rh, rp, by=signer("AUS.DFAT"))
    roots.add(bad, signer("AUS.DFAT").kid)
    assert refused(with_root(record, bad), roots) == (ReasonCode.BAD_SIGNATURE, "ENV-23")


def test_the_cache_is_bounded() -> None:
    roots = RootCache(capacity=2)
    roots.add("a", "k")
    roots.add("b", "k")
    assert ("a", "k") in roots  # now the most recently used
    roots.add("c", "k")
    assert ("b", "k") not in roots
    assert ("a", "k") in roots
    assert len(roots) == 2
    with pytest.raises(ValueError):
        RootCache(capacity=0)


# -- refusals, each by its rule ------------------------------------------------------


@pytest.fixture(scope="module")
def four() -> list[bytes]:
    return sign_batch(signer(), items(4))


def test_a_tampered_payload_in_a_batch(four: list[bytes]) -> None:
    def tamper(doc: dict[str, Any]) -> None:
        payload = json.loads(b64d(doc["payload"]))
        payload["body"]["summary"] = "something the sender never said"
        doc["payload"] = b64(json.dumps(payload, separators=(",", ":")).encode())

    assert refused(edited(four[0], tamper)) == (ReasonCode.BAD_SIGNATURE, "BAT-04")


def test_a_wrong_index(four: list[bytes]) -> None:
    # Every leaf of a tree of 4 has a path of 2: the length fits, the hashes do not.
    wrong = edited(four[0], lambda d: d["signatures"][0]["batch"].update(index=1))
    assert refused(wrong) == (ReasonCode.BAD_SIGNATURE, "BAT-04")
    outside = edited(four[0], lambda d: d["signatures"][0]["batch"].update(index=4))
    assert refused(outside) == (ReasonCode.MALFORMED, "BAT-03")


def test_a_wrong_path_element(four: list[bytes]) -> None:
    def flip(doc: dict[str, Any]) -> None:
        path = doc["signatures"][0]["batch"]["path"]
        path[1] = b64(bytes(32))

    assert refused(edited(four[2], flip)) == (ReasonCode.BAD_SIGNATURE, "BAT-04")


def test_a_path_too_short_or_too_long(four: list[bytes]) -> None:
    short = edited(four[0], lambda d: d["signatures"][0]["batch"]["path"].pop())
    assert refused(short) == (ReasonCode.MALFORMED, "BAT-03")
    longer = edited(four[0], lambda d: d["signatures"][0]["batch"]["path"].append(b64(bytes(32))))
    assert refused(longer) == (ReasonCode.MALFORMED, "BAT-03")
    # More than 16 is refused before any root is read (BAT-01's bound).
    huge = edited(four[0], lambda d: d["signatures"][0]["batch"].update(path=[b64(bytes(32))] * 17))
    assert refused(huge) == (ReasonCode.MALFORMED, "BAT-01")


def test_a_changed_tree_size_breaks_the_signature(four: list[bytes]) -> None:
    # Leaf 0 of a tree of 3 also has a path of 2: only the signature tells.
    rh_b64, rp_b64, sig = batch_member(four[0])["root"].split(".")
    rp = json.loads(b64d(rp_b64))
    rp["tree_size"] = 3
    root = f"{rh_b64}.{b64(json.dumps(rp, separators=(',', ':')).encode())}.{sig}"
    assert refused(with_root(four[0], root)) == (ReasonCode.BAD_SIGNATURE, "ENV-23")


def test_a_root_header_of_another_kid(four: list[bytes]) -> None:
    rh, rp = parts(four[0])
    other = signer("JPN.MOD")
    root = root_statement({**rh, "kid": other.kid}, rp, by=other)
    assert refused(with_root(four[0], root)) == (ReasonCode.MALFORMED, "BAT-03")


def test_a_root_header_with_alg_none_or_another_typ(four: list[bytes]) -> None:
    rh, rp = parts(four[0])
    none = root_statement({**rh, "alg": "none"}, rp)
    assert refused(with_root(four[0], none)) == (ReasonCode.UNSUPPORTED_ALG, "BAT-03")
    typ = root_statement({**rh, "typ": "accord+jws"}, rp)
    assert refused(with_root(four[0], typ)) == (ReasonCode.MALFORMED, "BAT-03")


@pytest.mark.parametrize(
    "where", ["element", "batch", "root header", "root payload", "element signature"]
)
def test_an_extra_member(four: list[bytes], where: str) -> None:
    rh, rp = parts(four[0])
    if where == "element":
        record = edited(four[0], lambda d: d["signatures"][0].update(header={}))
        expected = "BAT-01"
    elif where == "element signature":
        # A batched element that also carries a per-message signature: neither shape.
        record = edited(four[0], lambda d: d["signatures"][0].update(signature=b64(bytes(64))))
        expected = "BAT-01"
    elif where == "batch":
        record = edited(four[0], lambda d: d["signatures"][0]["batch"].update(size=4))
        expected = "BAT-01"
    elif where == "root header":
        record = with_root(four[0], root_statement({**rh, "x5u": "https://127.0.0.1/"}, rp))
        expected = "BAT-03"
    else:
        record = with_root(four[0], root_statement(rh, {**rp, "n": 1}))
        expected = "BAT-03"
    assert refused(record) == (ReasonCode.MALFORMED, expected)


def test_encodings_of_root_and_path(four: list[bytes]) -> None:
    two_parts = with_root(four[0], ".".join(batch_member(four[0])["root"].split(".")[:2]))
    assert refused(two_parts) == (ReasonCode.MALFORMED, "BAT-02")

    def stray_bits(doc: dict[str, Any]) -> None:
        path = doc["signatures"][0]["batch"]["path"]
        last = path[0][-1]
        path[0] = path[0][:-1] + ("B" if last == "A" else "A" if last == "B" else "B")

    assert refused(edited(four[0], stray_bits)) == (ReasonCode.MALFORMED, "BAT-02")
    short_hash = edited(
        four[0], lambda d: d["signatures"][0]["batch"]["path"].__setitem__(0, b64(bytes(31)))
    )
    assert refused(short_hash) == (ReasonCode.MALFORMED, "BAT-02")
    boolean = edited(four[0], lambda d: d["signatures"][0]["batch"].update(index=True))
    assert refused(boolean) == (ReasonCode.MALFORMED, "BAT-01")
    long_root = with_root(four[0], "A" * 1025)
    assert refused(long_root) == (ReasonCode.MALFORMED, "BAT-01")


def test_tree_size_bounds(four: list[bytes]) -> None:
    rh, rp = parts(four[0])
    for size in (0, 65537, 4.0):
        record = with_root(four[0], root_statement(rh, {**rp, "tree_size": size}))
        assert refused(record) == (ReasonCode.MALFORMED, "BAT-03"), size


def test_a_co_signer_adds_a_per_message_signature_to_a_batched_record(four: list[bytes]) -> None:
    trust = pki().trust_store()
    both = cosign(four[3], signer("AUS.DFAT"), trust, topic=TOPIC, now=now())
    outer = json.loads(both)
    assert [sorted(s) for s in outer["signatures"]] == [
        ["batch", "protected"],
        ["protected", "signature"],
    ]
    roots = RootCache()
    for _ in range(2):  # the second time, the batch root is cached
        verdict = verdict_of(both, roots)
        assert isinstance(verdict, Verified), verdict
        assert verdict.signers == (SENDER, "AUS.DFAT")
    # The co-signature still has to verify, cached root or not.
    broken = edited(both, lambda d: d["signatures"][1].update(signature=b64(b"\x01" + bytes(63))))
    assert refused(broken, roots) == (ReasonCode.BAD_SIGNATURE, "ENV-23")


def test_one_cache_across_the_whole_suite_changes_no_verdict() -> None:
    """Every v1 vector through one RootCache, as a receiving node keeps it: the
    batched rejects that reuse a valid record's root are still refused by their rule."""
    vectors = Path(__file__).resolve().parents[2] / "schemas" / "vectors"
    manifest = json.loads((vectors / "manifest.json").read_text())
    store = TrustStore.from_bundle(vectors / manifest["bundle"], roots=manifest["roots"])
    roots = RootCache()
    for vector in manifest["vectors"]:
        verdict = verify_any(
            (vectors / vector["file"]).read_bytes(),
            store,
            topic=vector["topic"],
            now=datetime.fromisoformat(vector["now"]),
            max_bytes=vector["max_bytes"],
            roots=roots,
        )
        if vector["expected"] == "valid":
            assert isinstance(verdict, Verified), (vector["id"], verdict)
        else:
            assert isinstance(verdict, Rejected), vector["id"]
            assert (verdict.reason.value, verdict.rule) == (vector["expected"], vector["rule"])
    assert len(roots) >= 7  # one per batch the valid vectors were signed in


# -- the receiver's step -----------------------------------------------------------


def test_the_receive_step_delivers_a_batch_with_one_root_verify(tmp_path: Path) -> None:
    """One poll of batched records through the receiver's step with the node's
    RootCache: every record delivered, one root remembered, and a record outside the
    tree (another record's payload under the same cached root) quarantined."""
    sender = "AUS.DFAT"
    headers = [
        Header.create(
            SA_TYPE,
            sender=sender,
            scope=_receive.BI,
            area=_receive.SA,
            sequence=n,
            namespace=_receive.plan().namespace,
        )
        for n in (1, 2, 3, 4, 5)
    ]
    label = scope_label(
        sender, _receive.BI, legal_basis="Test message under the originator's laws."
    )
    key = _receive.pki().signer(sender)
    batch = sign_batch(key, [unsigned(h, label, SA_BODY, key) for h in headers])
    forged = edited(batch[0], lambda d: d.update(payload=json.loads(batch[1])["payload"]))
    polled = _receive.records(*zip(headers, batch, strict=True))
    polled += _receive.records((headers[0], forged), start=len(polled))
    roots = RootCache()
    context = dataclasses.replace(_receive.context(), roots=roots)
    inbox = Inbox(tmp_path / "inbox.sqlite")
    try:
        out = step([polled], inbox, context, now=now())
    finally:
        inbox.close()
    assert [d.message_id for d in out.deliveries] == [str(h.message_id) for h in headers]
    assert [(r.reason, r.rule) for _, r in out.quarantined] == [
        (ReasonCode.BAD_SIGNATURE, "BAT-04")
    ]
    assert len(roots) == 1
