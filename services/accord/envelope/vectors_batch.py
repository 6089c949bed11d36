"""Conformance vectors for batch signatures (SPEC.md section 12), v1 records.

Part of ``accord schemas vectors`` (``vectors.build_vectors`` adds them to the v1
suite, same PKI, same TEST keys): deterministic, since Ed25519 signatures and Merkle
trees are. Valid batched records at several tree sizes and positions, one reject per
BAT rule and per way ENV-23 and BAT-04 fail for a batched element, order vectors, and
records that mix batched and per-message signatures. The v2 batched vectors are in
``vectors_v2`` (their bodies are encrypted with random nonces).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from accord.envelope.batch import Unsigned, sign_batch
from accord.envelope.merkle import MerkleTree
from accord.envelope.samples import SAMPLES, sample_header
from accord.errors import ReasonCode
from accord.models import StrategicAssessment
from accord.trust import Signer

if TYPE_CHECKING:
    from accord.envelope.vectors import _Pki, _Vector

__all__ = ["batch_vectors"]

SA = StrategicAssessment.TYPE


def _rh(signer: Signer, **changes: Any) -> dict[str, Any]:
    rh: dict[str, Any] = {"alg": "EdDSA", "kid": signer.kid, "typ": "accord-batch+jws"}
    rh.update(changes)
    return {k: v for k, v in rh.items() if v is not None}


def batch_vectors(pki: _Pki) -> list[_Vector]:
    """The batched records of the v1 suite."""
    # vectors.py imports this module's function; its helpers are imported here.
    from accord.envelope.vectors import _b64, _json, _payload, _protected_json, _set, _Vector

    s = pki.signers
    mofa, dfat = s["JPN.MOFA"], s["AUS.DFAT"]
    sa = SAMPLES[SA]
    topic = sample_header(sa).topic
    out: list[_Vector] = []
    M, R = ReasonCode.MALFORMED, ReasonCode

    def payloads(n: int) -> list[str]:
        """``n`` strategic assessments, sequence 0..n-1, base64url."""
        return [_b64(_payload(sa, q=_set("header.sequence", i))) for i in range(n)]

    def protected(signer: Signer) -> str:
        return _b64(_protected_json(signer, SA))

    def batch(signer: Signer, n: int) -> list[bytes]:
        return sign_batch(signer, [Unsigned(protected(signer), p, False) for p in payloads(n)])

    def add(vid: str, record: bytes, expected: str, rule: str | None, description: str) -> None:
        out.append(_Vector(f"{vid}.jws.json", record, expected, description, topic, rule=rule))

    def valid(vid: str, record: bytes, description: str) -> None:
        add(f"valid/{vid}", record, "valid", None, description)

    def reject(rule: str, slug: str, record: bytes, reason: ReasonCode, description: str) -> None:
        add(f"reject/{rule}-{slug}", record, reason.value, rule, description)

    def edit(record: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
        doc = json.loads(record)
        change(doc)
        return _json(doc)

    def member(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """An edit of the first signature's ``batch`` object."""
        return lambda doc: change(doc["signatures"][0]["batch"])

    def root(rh: dict[str, Any], rp: dict[str, Any], by: Signer = mofa) -> str:
        signed = f"{_b64(_json(rh))}.{_b64(_json(rp))}"
        return f"{signed}.{_b64(by.sign(signed.encode('ascii')))}"

    def rooted(record: bytes, statement: str) -> bytes:
        return edit(record, member(lambda b: b.update(root=statement)))

    # -- valid: sizes and positions ------------------------------------------------
    one = batch(mofa, 1)[0]
    valid("batch-1-of-1", one, "a batch of one record: index 0, empty path")
    two = batch(mofa, 2)
    valid("batch-2-of-2", two[1], "the second record of a batch of 2: a path of 1")
    three = batch(mofa, 3)
    valid("batch-3-of-3", three[2], "the last record of a batch of 3: its path is 1 hash")
    seven = batch(mofa, 7)
    valid("batch-5-of-7", seven[4], "record 5 of a batch of 7: a path of 3")
    valid("batch-7-of-7", seven[6], "the last record of an odd batch of 7: a path of 2")
    sixteen = batch(mofa, 16)
    valid("batch-10-of-16", sixteen[9], "record 10 of a batch of 16: a path of 4")
    cosigned = json.loads(seven[2])
    p64 = cosigned["payload"]
    dfat_protected = protected(dfat)
    cosigned["signatures"].append(
        {
            "protected": dfat_protected,
            "signature": _b64(dfat.sign(f"{dfat_protected}.{p64}".encode("ascii"))),
        }
    )
    valid(
        "batch-cosigned",
        _json(cosigned),
        "a batched record of JPN.MOFA co-signed per message by AUS.DFAT",
    )
    dfat_batch = sign_batch(dfat, [Unsigned(dfat_protected, p, False) for p in payloads(3)])
    both = json.loads(three[0])
    both["signatures"].append(json.loads(dfat_batch[0])["signatures"][0])
    valid(
        "batch-two-batches",
        _json(both),
        "one record in two batches: JPN.MOFA's and AUS.DFAT's, each with its own root",
    )

    # -- BAT-01: members, types, bounds -----------------------------------------------
    rec = seven[4]
    reject(
        "BAT-01",
        "extra-element-member",
        edit(rec, lambda d: d["signatures"][0].update(header={"kid": mofa.kid})),
        M,
        "a batched element with an unprotected header member",
    )
    reject(
        "BAT-01",
        "batch-and-signature",
        edit(rec, lambda d: d["signatures"][0].update(signature=_b64(bytes(64)))),
        M,
        "an element with both batch and signature",
    )
    reject(
        "BAT-01",
        "extra-batch-member",
        edit(rec, member(lambda b: b.update(tree_size=7))),
        M,
        "a batch object with a member tree_size (the size is signed in the root only)",
    )
    reject(
        "BAT-01",
        "index-string",
        edit(rec, member(lambda b: b.update(index="4"))),
        M,
        'index "4", a string',
    )
    reject(
        "BAT-01",
        "index-fraction",
        edit(rec, member(lambda b: b.update(index=4.0))),
        M,
        "index 4.0, not an integer literal",
    )
    reject(
        "BAT-01",
        "path-of-17",
        edit(rec, member(lambda b: b.update(path=[_b64(bytes(32))] * 17))),
        M,
        "a path of 17 hashes (at most 16: a tree of at most 65536 leaves)",
    )
    reject(
        "BAT-01",
        "root-too-long",
        edit(rec, member(lambda b: b.update(root="A" * 1025))),
        M,
        "a root of 1025 characters (at most 1024)",
    )
    reject(
        "BAT-01",
        "batch-not-object",
        edit(rec, lambda d: d["signatures"][0].update(batch="x")),
        M,
        "batch is a string",
    )

    # -- BAT-02: encodings -----------------------------------------------------------
    parts = json.loads(rec)["signatures"][0]["batch"]["root"].split(".")
    reject(
        "BAT-02",
        "root-two-parts",
        rooted(rec, ".".join(parts[:2])),
        M,
        "a root of two parts",
    )
    reject(
        "BAT-02",
        "root-padding",
        rooted(rec, ".".join([*parts[:2], parts[2] + "=="])),
        M,
        "a root whose signature part has = padding",
    )

    def stray(b: dict[str, Any]) -> None:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        h = b["path"][0]
        b["path"][0] = h[:-1] + alphabet[alphabet.index(h[-1]) + 1]

    reject(
        "BAT-02",
        "path-stray-bits",
        edit(rec, member(stray)),
        M,
        "pitfall: a path hash spelt with non-zero unused low bits (a lenient decoder "
        "reads the same 32 bytes)",
    )
    reject(
        "BAT-02",
        "path-31-bytes",
        edit(rec, member(lambda b: b["path"].__setitem__(0, _b64(bytes(31))))),
        M,
        "a path hash of 31 bytes",
    )

    # -- BAT-03: the root statement and the record's place in it ----------------------
    rh, rp = json.loads(_b64d(parts[0])), json.loads(_b64d(parts[1]))
    reject(
        "BAT-03",
        "root-alg-none",
        rooted(rec, root(_rh(mofa, alg="none"), rp)),
        R.UNSUPPORTED_ALG,
        "pitfall: a root header with alg none",
    )
    reject(
        "BAT-03",
        "root-typ",
        rooted(rec, root(_rh(mofa, typ="accord+jws"), rp)),
        M,
        "a root header with the record's typ accord+jws, not accord-batch+jws",
    )
    reject(
        "BAT-03",
        "root-kid-other",
        rooted(rec, root(_rh(s["JPN.MOD"]), rp, by=s["JPN.MOD"])),
        M,
        "a root signed by JPN.MOD, in a record whose protected header names JPN.MOFA",
    )
    reject(
        "BAT-03",
        "root-header-x5u",
        rooted(rec, root({**rh, "x5u": "https://127.0.0.1/key"}, rp)),
        M,
        "pitfall: a root header with a key pointer x5u",
    )
    reject(
        "BAT-03",
        "root-header-crit",
        rooted(rec, root({**rh, "crit": ["b64"], "b64": False}, rp)),
        M,
        "pitfall: a root header with crit and b64",
    )
    dup = f'{{"alg":"EdDSA","kid":"{mofa.kid}","typ":"accord-batch+jws","typ":"x"}}'
    signed = f"{_b64(dup.encode())}.{parts[1]}"
    reject(
        "BAT-03",
        "root-header-duplicate",
        rooted(rec, f"{signed}.{_b64(mofa.sign(signed.encode()))}"),
        M,
        "a root header with typ twice",
    )
    reject(
        "BAT-03",
        "root-payload-extra",
        rooted(rec, root(rh, {**rp, "kid": mofa.kid})),
        M,
        "a root payload with a member besides tree_size and root_hash",
    )
    reject(
        "BAT-03",
        "tree-size-zero",
        rooted(rec, root(rh, {**rp, "tree_size": 0})),
        M,
        "tree_size 0",
    )
    reject(
        "BAT-03",
        "tree-size-65537",
        rooted(rec, root(rh, {**rp, "tree_size": 65537})),
        M,
        "tree_size 65537 (at most 65536)",
    )
    reject(
        "BAT-03",
        "tree-size-fraction",
        rooted(rec, root(rh, {**rp, "tree_size": 7.0})),
        M,
        "tree_size 7.0, not an integer literal",
    )
    reject(
        "BAT-03",
        "root-hash-short",
        rooted(rec, root(rh, {**rp, "root_hash": _b64(bytes(31))})),
        M,
        "a root_hash of 31 bytes",
    )
    reject(
        "BAT-03",
        "index-outside",
        edit(rec, member(lambda b: b.update(index=7))),
        M,
        "index 7 in a tree of 7",
    )
    reject(
        "BAT-03",
        "path-short",
        edit(rec, member(lambda b: b["path"].pop())),
        M,
        "a path of 2 for record 5 of 7 (its audit path has 3)",
    )
    reject(
        "BAT-03",
        "path-long",
        edit(seven[6], member(lambda b: b["path"].append(_b64(bytes(32))))),
        M,
        "a path of 3 for the last record of 7 (its audit path has 2)",
    )

    # -- ENV-23: the root's signature ---------------------------------------------------
    reject(
        "ENV-23",
        "batch-root-forged",
        rooted(rec, root(rh, rp, by=s["JPN.MOD"])),
        R.BAD_SIGNATURE,
        "a root statement signed with JPN.MOD's key under JPN.MOFA's kid",
    )
    reject(
        "ENV-23",
        "batch-tree-size-changed",
        rooted(rec, f"{parts[0]}.{_b64(_json({**rp, 'tree_size': 8}))}.{parts[2]}"),
        R.BAD_SIGNATURE,
        "the signed tree_size 7 changed to 8 (record 5 of 8 has the same path length)",
    )
    reject(
        "ENV-23",
        "batch-root-signature-short",
        rooted(rec, f"{parts[0]}.{parts[1]}.{_b64(bytes(63))}"),
        R.BAD_SIGNATURE,
        "a root signature of 63 bytes",
    )

    # -- BAT-04: the inclusion proof --------------------------------------------------------
    tampered = json.loads(_b64d(json.loads(rec)["payload"]))
    tampered["body"]["summary"] = "A summary the sender never signed."
    reject(
        "BAT-04",
        "payload-changed",
        edit(rec, lambda d: d.update(payload=_b64(_json(tampered)))),
        R.BAD_SIGNATURE,
        "record 5 of 7 with its summary changed",
    )
    reject(
        "BAT-04",
        "payload-of-another-leaf",
        edit(rec, lambda d: d.update(payload=json.loads(seven[3])["payload"])),
        R.BAD_SIGNATURE,
        "record 5's root, index and path with record 4's payload",
    )
    reject(
        "BAT-04",
        "index-changed",
        edit(rec, member(lambda b: b.update(index=5))),
        R.BAD_SIGNATURE,
        "record 5 of 7 claiming index 5 (same path length)",
    )
    reject(
        "BAT-04",
        "path-element-changed",
        edit(rec, member(lambda b: b["path"].__setitem__(1, _b64(bytes(32))))),
        R.BAD_SIGNATURE,
        "a path hash replaced by 32 zero bytes",
    )
    reject(
        "BAT-04",
        "path-reversed",
        edit(rec, member(lambda b: b["path"].reverse())),
        R.BAD_SIGNATURE,
        "the right hashes in the wrong order",
    )
    cos_path = json.loads(_json(cosigned))
    cos_path["signatures"][0]["batch"]["path"][0] = _b64(bytes(32))
    reject(
        "BAT-04",
        "cosigned-path-wrong",
        _json(cos_path),
        R.BAD_SIGNATURE,
        "pitfall: a batched signature with a wrong path and a valid per-message "
        "co-signature (go-jose reads the batched element as an empty signature and "
        "VerifyMulti accepts the co-signature alone)",
    )
    reject(
        "BAT-03",
        "index-negative",
        edit(rec, member(lambda b: b.update(index=-1))),
        M,
        "index -1",
    )
    reject(
        "BAT-03",
        "index-huge",
        edit(rec, member(lambda b: b.update(index=10**30))),
        M,
        "index 10^30 (31 digits: no 64-bit integer holds it)",
    )
    # A producer that hashed the payload alone: the leaf is the signing input.
    leaves = [p.encode("ascii") for p in payloads(7)]
    tree = MerkleTree(leaves)
    wrong_root = root(rh, {"tree_size": 7, "root_hash": _b64(tree.root)})
    reject(
        "BAT-04",
        "leaf-without-protected",
        edit(
            rec,
            member(
                lambda b: b.update(root=wrong_root, path=[_b64(h) for h in tree.inclusion_proof(4)])
            ),
        ),
        R.BAD_SIGNATURE,
        "pitfall: a tree over the payloads alone, not protected.payload",
    )
    node_tree = MerkleTree.from_leaf_hashes(
        [hashlib.sha256(f"{protected(mofa)}.{p}".encode()).digest() for p in payloads(7)]
    )
    reject(
        "BAT-04",
        "leaf-without-prefix",
        edit(
            rec,
            member(
                lambda b: b.update(
                    root=root(rh, {"tree_size": 7, "root_hash": _b64(node_tree.root)}),
                    path=[_b64(h) for h in node_tree.inclusion_proof(4)],
                )
            ),
        ),
        R.BAD_SIGNATURE,
        "pitfall: leaf hashes without the 0x00 prefix of RFC 9162 (SHA-256 of the signing "
        "input alone)",
    )

    # -- order -----------------------------------------------------------------------------
    unknown = s["unknown"]
    unknown_p = _b64(_protected_json(unknown, SA))
    order = json.loads(rec)
    order["signatures"][0]["protected"] = unknown_p
    reject(
        "BAT-03",
        "order-before-unknown-key",
        rooted(_json(order), root(_rh(mofa, alg="none"), rp)),
        R.UNSUPPORTED_ALG,
        "order: a root with alg none (BAT-03) in a record whose kid is unknown (ENV-17)",
    )
    reject(
        "ENV-23",
        "order-batch-root-before-path",
        edit(
            rooted(rec, root(rh, rp, by=s["JPN.MOD"])),
            member(lambda b: b["path"].__setitem__(0, _b64(bytes(32)))),
        ),
        R.BAD_SIGNATURE,
        "order: a forged root (ENV-23) and a wrong path (BAT-04)",
    )
    not_json = _b64(b"not json")
    reject(
        "BAT-04",
        "order-before-payload",
        edit(rec, lambda d: d.update(payload=not_json)),
        R.BAD_SIGNATURE,
        "order: a payload that is not JSON (ENV-24) outside the tree (BAT-04)",
    )
    cos_broken = json.loads(_json(cosigned))
    cos_broken["signatures"][1]["signature"] = _b64(bytes(64))
    cos_broken["signatures"][0]["batch"]["path"][0] = _b64(bytes(32))
    reject(
        "ENV-23",
        "order-cosignature-before-path",
        _json(cos_broken),
        R.BAD_SIGNATURE,
        "order: a batched signature with a wrong path (BAT-04) and a per-message "
        "co-signature that does not verify (ENV-23)",
    )
    three_long = json.loads(one)
    element = three_long["signatures"][0]
    element["batch"]["path"] = [_b64(bytes(32))] * 16
    three_long["signatures"] = [element] * 3
    structure = sum(_json(three_long).count(c) for c in b"{[:,")
    assert structure == 85, structure
    reject(
        "ENV-02",
        "three-batched-signatures",
        _json(three_long),
        M,
        "three batched signatures with paths of 16: 85 of the bytes { [ : , (the bound "
        "is 64; a batched element counts 11 plus a comma per path hash after the first)",
    )
    return out


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
