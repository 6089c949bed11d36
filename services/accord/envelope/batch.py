"""Batch signatures: one Ed25519 signature per batch of records (SPEC section 12).

A publisher builds an RFC 9162 Merkle tree whose leaves are the records' signing
inputs (what a per-message signature would sign: ``protected.payload``), signs the
tree's size and root once as a compact JWS (the *root statement*), and gives every
record that statement and its own inclusion proof::

    {"payload":P,"signatures":[{"protected":PH,"batch":{"root":R,"index":i,"path":[...]}}]}

so each record still verifies alone (quarantine, replay, one record handed to an
agency system), and means exactly what its per-message counterpart would. A
receiver verifies a root's signature once and remembers it in a :class:`RootCache`;
the rest of the rules, the inclusion proof included, still run for every record.

The cost this saves: one Ed25519 sign per batch instead of per message on the
publisher, one verify per batch on the receiver, for a leaf hash and at most 16
node hashes per record (issue 16 measured ~150 of ~360 µs of receiver CPU per message
in the per-message verify).
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Sequence

from accord.envelope.jws import (
    ALG,
    BATCH_TYP,
    MAX_TREE_SIZE,
    Unsigned,
    _b64e,
    _header_of,
    _record,
)
from accord.envelope.merkle import InclusionMemo, MerkleTree
from accord.trust import Signer

__all__ = ["MAX_TREE_SIZE", "RootCache", "Unsigned", "sign_batch"]


@functools.lru_cache(maxsize=256)
def _root_header(kid: str) -> str:
    """RH: exactly alg, kid, typ (SPEC 12); a pure function of the signer's kid."""
    header = {"alg": ALG, "kid": kid, "typ": BATCH_TYP}
    return _b64e(json.dumps(header, separators=(",", ":")).encode("ascii"))


def sign_batch(signer: Signer, items: Sequence[Unsigned]) -> list[bytes]:
    """Sign ``items`` with one signature; the batched records, in the same order.

    Every item must have been built for ``signer`` (``jws.unsigned`` or
    ``v2.unsigned_encrypted``; v1 and v2 items may share a batch). 1 to
    ``MAX_TREE_SIZE`` items; a caller with more signs several batches.
    """
    if not 1 <= len(items) <= MAX_TREE_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_TREE_SIZE} records, not {len(items)}")
    for item in items:
        # The root header names the signer's kid, and SPEC BAT-03 requires every
        # record's protected header to name the same: refuse to build a record no
        # verifier would accept. (_header_of is cached by the exact header text.)
        if _header_of(item.protected_b64, item.v2)[0] != signer.kid:
            raise ValueError("every item of a batch is built for the signer that signs it")
    tree = MerkleTree([item.signing_input for item in items])
    statement = f'{{"tree_size":{len(items)},"root_hash":"{_b64e(tree.root)}"}}'
    signed = f"{_root_header(signer.kid)}.{_b64e(statement.encode('ascii'))}"
    root = f"{signed}.{_b64e(signer.sign(signed.encode('ascii')))}"
    records = []
    # Each node is on the paths of many records (the top one on half of them):
    # encoded once each, and the shared part of the paths joined once.
    paths = tree.rendered_proofs(lambda node: f'"{_b64e(node)}"', ",")
    for index, (item, path) in enumerate(zip(items, paths, strict=True)):
        element = (
            f'{{"protected":"{item.protected_b64}",'
            f'"batch":{{"root":"{root}","index":{index},"path":[{path}]}}}}'
        )
        records.append(_record(item, [element]))
    return records


class RootCache:
    """Root statements whose signature verified, by (exact root text, kid): bounded LRU.

    What SPEC 12 lets a verifier skip for a record whose root it has seen: the Ed25519
    verify of ENV-23, nothing else. Only successes are added (by the verifier, after
    the signature verified under the certificate ``kid`` names), so a forged root
    never enters; every other rule, the inclusion proof (BAT-04) included, still runs
    per record. One per receiving node, kept across batches.
    """

    __slots__ = ("_capacity", "_entries", "proofs")

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("a root cache holds at least one root")
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.proofs = InclusionMemo()
        """Steps of inclusion proofs that reached a verified root: a record of the same
        batch stops hashing where its path joins one of them (BAT-04's verdict is
        the same; see ``merkle.InclusionMemo``)."""

    def __contains__(self, key: tuple[str, str]) -> bool:
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        return False

    def add(self, root: str, kid: str) -> None:
        """Remember that ``root``'s signature verified under the certificate ``kid``."""
        self._entries[(root, kid)] = None
        self._entries.move_to_end((root, kid))
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
