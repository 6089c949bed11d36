"""RFC 9162 Merkle trees: published CT vectors, hand-derived cases, the RFC's recursive
definitions as a reference, and properties (every proof verifies; any change fails)."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.envelope.merkle import (
    EMPTY_ROOT,
    MAX_PROOF_LENGTH,
    InclusionMemo,
    InvalidProof,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_hash,
    verify_inclusion,
)

# The RFC 6962 test vectors as Certificate Transparency's implementations publish them
# (merkle_tree_test.cc; the same in Trillian and transparency-dev/merkle): eight leaf
# inputs, the root of every tree of their first n, and some audit paths.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
CT_PATHS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- the RFC 9162 §2.1 definitions, written out literally (recursive; small trees only) --


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return sha256(b"")
    if len(d) == 1:
        return sha256(b"\x00" + d[0])
    k = _k(len(d))
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


# -- known answers ----------------------------------------------------------------------


def test_hashes_are_domain_separated_sha256() -> None:
    assert leaf_hash(b"abc") == sha256(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == sha256(b"\x01" + b"L" * 32 + b"R" * 32)
    assert (
        EMPTY_ROOT
        == root_hash([])
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_the_published_ct_vectors(n: int) -> None:
    assert root_hash(CT_LEAVES[:n]) == CT_ROOTS[n - 1]
    assert mth(CT_LEAVES[:n]) == CT_ROOTS[n - 1]  # the reference agrees with CT too


@pytest.mark.parametrize(("index", "size", "expected"), CT_PATHS)
def test_proofs_match_the_published_ct_audit_paths(
    index: int, size: int, expected: list[str]
) -> None:
    tree = MerkleTree(CT_LEAVES[:size])
    proof = tree.inclusion_proof(index)
    assert [p.hex() for p in proof] == expected
    leaf = leaf_hash(CT_LEAVES[index])
    assert root_from_inclusion_proof(leaf, index, size, proof) == CT_ROOTS[size - 1]


def test_three_leaves_by_hand() -> None:
    # RFC 9162 §2.1.5's tree of seven shows the shape; with three leaves, k = 2:
    #   root = node(node(a, b), c), c carried up unchanged.
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    ab = sha256(b"\x01" + a + b)
    tree = MerkleTree([b"a", b"b", b"c"])
    assert tree.root == sha256(b"\x01" + ab + c)
    assert tree.inclusion_proof(0) == (b, c)
    assert tree.inclusion_proof(1) == (a, c)
    assert tree.inclusion_proof(2) == (ab,)  # one element: c has no sibling at level 0


def test_one_leaf_tree_has_an_empty_proof() -> None:
    tree = MerkleTree([b"only"])
    assert tree.root == leaf_hash(b"only")
    assert tree.inclusion_proof(0) == ()
    assert verify_inclusion(leaf_hash(b"only"), 0, 1, (), tree.root)


def test_from_leaf_hashes_is_the_same_tree() -> None:
    data = [bytes([i]) * i for i in range(11)]
    assert MerkleTree.from_leaf_hashes([leaf_hash(d) for d in data]).root == root_hash(data)
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree.from_leaf_hashes([b"short"])


@pytest.mark.parametrize("n", [*range(1, 34), 63, 64, 65, 100, 127, 128, 129])
def test_every_root_and_proof_equals_the_rfc_definition(n: int) -> None:
    data = [n.to_bytes(2, "big") + i.to_bytes(2, "big") for i in range(n)]
    tree = MerkleTree(data)
    assert tree.size == n
    assert tree.root == mth(data)
    for m in range(n):
        proof = tree.inclusion_proof(m)
        assert list(proof) == path(m, data)
        assert verify_inclusion(leaf_hash(data[m]), m, n, proof, tree.root)


# -- refusals -----------------------------------------------------------------------------


def _tree7() -> tuple[MerkleTree, list[bytes]]:
    data = [bytes([i]) for i in range(7)]
    return MerkleTree(data), data


@pytest.mark.parametrize("n", [*range(1, 34), 63, 64, 65, 100, 127, 128, 129, 256, 257])
def test_rendered_proofs_are_each_proof_rendered_and_joined(n: int) -> None:
    tree = MerkleTree([bytes([i % 256, i // 256]) for i in range(n)])
    rendered = tree.rendered_proofs(lambda node: node.hex(), "/")
    assert rendered == ["/".join(h.hex() for h in tree.inclusion_proof(i)) for i in range(n)]
    # Each node on a path rendered once, whatever the number of paths it is on.
    calls: list[bytes] = []
    tree.rendered_proofs(lambda node: calls.append(node) or "x", ",")
    on_paths = {h for i in range(n) for h in tree.inclusion_proof(i)}
    assert len(calls) == len(set(calls)) == len(on_paths)
    assert set(calls) == on_paths


def test_index_outside_the_tree_is_refused() -> None:
    tree, data = _tree7()
    with pytest.raises(IndexError):
        tree.inclusion_proof(7)
    with pytest.raises(IndexError):
        tree.inclusion_proof(-1)
    with pytest.raises(InvalidProof, match="not in a tree of 7"):
        root_from_inclusion_proof(leaf_hash(data[0]), 7, 7, tree.inclusion_proof(0))
    with pytest.raises(InvalidProof, match="out of range"):
        root_from_inclusion_proof(leaf_hash(data[0]), 0, 0, ())
    with pytest.raises(InvalidProof, match="out of range"):
        root_from_inclusion_proof(leaf_hash(data[0]), 0, 2**64, ())


def test_too_long_or_too_short_proofs_are_refused() -> None:
    tree, data = _tree7()
    proof = tree.inclusion_proof(2)
    leaf = leaf_hash(data[2])
    with pytest.raises(InvalidProof, match="longer"):
        root_from_inclusion_proof(leaf, 2, 7, (*proof, proof[0]))
    with pytest.raises(InvalidProof, match="shorter"):
        root_from_inclusion_proof(leaf, 2, 7, proof[1:])
    assert not verify_inclusion(leaf, 2, 7, proof[1:], tree.root)
    assert InvalidProof("x").code == "invalid-inclusion-proof"


def test_work_is_bounded_before_any_hashing() -> None:
    leaf = leaf_hash(b"x")
    with pytest.raises(InvalidProof, match="exceeds"):
        root_from_inclusion_proof(leaf, 0, 2**64 - 1, [leaf] * (MAX_PROOF_LENGTH + 1))
    with pytest.raises(InvalidProof, match="32 bytes"):
        root_from_inclusion_proof(leaf, 0, 2, [b"\x00" * 31])
    with pytest.raises(InvalidProof, match="32 bytes"):
        root_from_inclusion_proof(b"short", 0, 2, [leaf])
    # The deepest legal tree: leaf 0 of 2**64 - 1 has a 64-element path, walked to the end.
    deep = root_from_inclusion_proof(leaf, 0, 2**64 - 1, [leaf] * MAX_PROOF_LENGTH)
    assert len(deep) == 32


def test_a_proof_for_another_size_or_index_fails() -> None:
    tree, data = _tree7()
    proof = tree.inclusion_proof(2)
    leaf = leaf_hash(data[2])
    assert verify_inclusion(leaf, 2, 7, proof, tree.root)
    assert not verify_inclusion(leaf, 3, 7, proof, tree.root)
    assert not verify_inclusion(leaf, 1, 7, proof, tree.root)
    assert not verify_inclusion(leaf, 2, 4, proof, tree.root)
    # The last leaf's path depends on the size...
    last = tree.inclusion_proof(6)
    assert verify_inclusion(leaf_hash(data[6]), 6, 7, last, tree.root)
    assert not verify_inclusion(leaf_hash(data[6]), 6, 8, last, tree.root)
    # ...but a leaf in the full left part has the same path in a bigger tree: the
    # size is not bound by the proof, so a signer signs the size with the root.
    assert verify_inclusion(leaf, 2, 8, proof, tree.root)
    # The data itself is not its leaf hash (the 0x00 prefix is part of the leaf).
    assert not verify_inclusion(sha256(data[2]), 2, 7, proof, tree.root)


# -- properties ---------------------------------------------------------------------------

batches = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(batches)
def test_every_leaf_proof_verifies(data: list[bytes]) -> None:
    tree = MerkleTree(data)
    assert tree.root == mth(data)
    for m, d in enumerate(data):
        assert verify_inclusion(leaf_hash(d), m, len(data), tree.inclusion_proof(m), tree.root)


@settings(max_examples=300, deadline=None)
@given(batches, st.data())
def test_any_bit_flip_fails(data: list[bytes], draw: st.DataObject) -> None:
    tree = MerkleTree(data)
    n = len(data)
    m = draw.draw(st.integers(0, n - 1), label="leaf")
    leaf = leaf_hash(data[m])
    proof = list(tree.inclusion_proof(m))
    root = tree.root
    # Flip one bit of one of: the leaf hash, a proof element, or the root.
    targets = ["leaf", "root"] + (["proof"] if proof else [])
    where = draw.draw(st.sampled_from(targets), label="where")
    bit = draw.draw(st.integers(0, 32 * 8 - 1), label="bit")

    def flip(h: bytes) -> bytes:
        b = bytearray(h)
        b[bit // 8] ^= 1 << (bit % 8)
        return bytes(b)

    if where == "leaf":
        leaf = flip(leaf)
    elif where == "root":
        root = flip(root)
    else:
        j = draw.draw(st.integers(0, len(proof) - 1), label="element")
        proof[j] = flip(proof[j])
    assert not verify_inclusion(leaf, m, n, proof, root)


@settings(max_examples=150, deadline=None)
@given(batches, st.data())
def test_a_leaf_changed_anywhere_changes_the_root(data: list[bytes], draw: st.DataObject) -> None:
    m = draw.draw(st.integers(0, len(data) - 1), label="leaf")
    changed = list(data)
    changed[m] = data[m] + b"!"
    assert root_hash(changed) != root_hash(data)
    assert root_hash(data[:-1]) != root_hash(data)  # so does a dropped last record


# -- InclusionMemo: a receiver's shortcut, the same answers ---------------------------


def _b64(h: bytes) -> str:
    return base64.urlsafe_b64encode(h).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _through(
    memo: InclusionMemo, leaf: bytes, m: int, n: int, proof: list[str], root: bytes
) -> bytes:
    computed, steps = memo.root(leaf, m, n, proof, _unb64)
    if steps and computed == root:
        memo.remember(steps, proof, computed)
    return computed


@settings(max_examples=150, deadline=None)
@given(batches, st.randoms(use_true_random=False))
def test_a_memo_gives_every_proof_the_root_the_rfc_computation_gives(
    data: list[bytes], rnd: random.Random
) -> None:
    tree = MerkleTree(data)
    n = len(data)
    memo = InclusionMemo()
    order = list(range(n))
    rnd.shuffle(order)
    for m in order:  # any order: each leaf joins the paths remembered before it
        proof = [_b64(h) for h in tree.inclusion_proof(m)]
        expected = root_from_inclusion_proof(leaf_hash(data[m]), m, n, tree.inclusion_proof(m))
        assert _through(memo, leaf_hash(data[m]), m, n, proof, tree.root) == expected == tree.root


@settings(max_examples=300, deadline=None)
@given(batches, st.data())
def test_a_memo_never_accepts_a_proof_the_rfc_computation_refuses(
    data: list[bytes], draw: st.DataObject
) -> None:
    """Every other leaf's proof remembered first; then one proof with one element
    flipped (above or below where it joins a remembered path) computes what the RFC
    computation does, which is not the root."""
    tree = MerkleTree(data)
    n = len(data)
    memo = InclusionMemo()
    for m in range(n):
        proof_m = [_b64(h) for h in tree.inclusion_proof(m)]
        _through(memo, leaf_hash(data[m]), m, n, proof_m, tree.root)
    m = draw.draw(st.integers(0, n - 1), label="leaf")
    proof = list(tree.inclusion_proof(m))
    if not proof:
        return
    j = draw.draw(st.integers(0, len(proof) - 1), label="element")
    bit = draw.draw(st.integers(0, 255), label="bit")
    flipped = bytearray(proof[j])
    flipped[bit // 8] ^= 1 << (bit % 8)
    proof[j] = bytes(flipped)
    expected = root_from_inclusion_proof(leaf_hash(data[m]), m, n, proof)
    computed = _through(memo, leaf_hash(data[m]), m, n, [_b64(h) for h in proof], tree.root)
    assert computed == expected != tree.root


def test_a_full_memo_starts_again() -> None:
    data = [bytes([i]) for i in range(64)]
    tree = MerkleTree(data)
    memo = InclusionMemo(capacity=16)
    for m in range(64):
        proof = [_b64(h) for h in tree.inclusion_proof(m)]
        assert _through(memo, leaf_hash(data[m]), m, 64, proof, tree.root) == tree.root
        assert len(memo) <= 16
