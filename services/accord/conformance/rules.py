"""The spec's rule table (schemas/SPEC.md section 5.2): the one place that knows rule ids.

Every check in the verifier is tagged with its id (``Refused(..., rule=ENV_xx)``) and
guarded by :func:`enabled`, so that the mutation test can switch one rule off and
show that some conformance vector then fails. A test checks that this table equals
SPEC.md's, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from accord.errors import ReasonCode

__all__ = [
    "BAT_RULES",
    "ENC_RULES",
    "RULES",
    "TABLE",
    "Rule",
    "by_id",
    "disabled",
    "enabled",
    "on_change",
    "order",
]


@dataclass(frozen=True)
class Rule:
    id: str
    stage: str
    reason: ReasonCode
    summary: str
    also: tuple[ReasonCode, ...] = ()
    """Other reason codes the rule gives for some of its checks (SPEC says which)."""


_R = ReasonCode
RULES: tuple[Rule, ...] = (
    Rule("ENV-01", "record", _R.OVERSIZED, "record at most max_bytes"),
    Rule("ENV-02", "record", _R.MALFORMED, "record is strict JSON"),
    Rule("ENV-03", "record", _R.MALFORMED, "exactly payload (string) and signatures (array)"),
    Rule("ENV-04", "record", _R.MALFORMED, "1 to 8 signatures"),
    Rule("ENV-05", "record", _R.MALFORMED, "each signature exactly protected and signature"),
    Rule("ENV-06", "record", _R.MALFORMED, "canonical base64url"),
    Rule("ENV-07", "protected", _R.MALFORMED, "protected header: bounded strict JSON object"),
    Rule("ENV-08", "protected", _R.MALFORMED, "alg present and a string"),
    Rule("ENV-09", "protected", _R.UNSUPPORTED_ALG, "alg is EdDSA"),
    Rule("ENV-10", "protected", _R.MALFORMED, "exactly alg, kid, typ, cty, optional x5t#S256"),
    Rule("ENV-11", "protected", _R.MALFORMED, "typ is accord+jws"),
    Rule("ENV-12", "protected", _R.MALFORMED, "kid is 64 lower-case hex"),
    Rule("ENV-13", "protected", _R.MALFORMED, "x5t#S256 matches kid"),
    Rule("ENV-14", "protected", _R.MALFORMED, "cty is a string"),
    Rule("ENV-15", "protected", _R.MALFORMED, "one cty across signatures"),
    Rule("ENV-16", "protected", _R.MALFORMED, "a key signs at most once"),
    Rule("ENV-17", "certificate", _R.UNKNOWN_KEY, "kid names an agency certificate in the bundle"),
    Rule("ENV-18", "certificate", _R.UNTRUSTED_ISSUER, "issued by a pinned root of the country"),
    Rule("ENV-19", "certificate", _R.UNTRUSTED_ISSUER, "keyUsage digitalSignature"),
    Rule("ENV-20", "certificate", _R.REVOKED, "not on a CRL of its root"),
    Rule("ENV-21", "certificate", _R.EXPIRED_CERT, "certificate and root valid at now"),
    Rule("ENV-22", "certificate", _R.MALFORMED, "an agency signs at most once"),
    Rule("ENV-23", "signature", _R.BAD_SIGNATURE, "every Ed25519 signature verifies"),
    Rule("ENV-24", "payload", _R.MALFORMED, "payload is strict JSON"),
    Rule("ENV-25", "payload", _R.SCHEMA_INVALID, "cty is a known message type"),
    Rule("ENV-26", "payload", _R.UNKNOWN_LABEL_VALUE, "label values known to the policy"),
    Rule("ENV-27", "payload", _R.SCHEMA_INVALID, "payload valid against the schemas"),
    Rule("ENV-28", "payload", _R.SCHEMA_INVALID, "cross-field invariants"),
    Rule("ENV-29", "payload", _R.SCHEMA_INVALID, "header.type equals cty"),
    Rule("ENV-30", "time", _R.FUTURE_DATED, "issued_at at most 300 s after now"),
    Rule("ENV-31", "time", _R.EXPIRED_CERT, "certificates and roots valid at issued_at"),
    Rule("ENV-32", "parties", _R.SENDER_MISMATCH, "sender is the first signer's agency"),
    Rule("ENV-33", "parties", _R.SCOPE_VIOLATION, "every signer's country in scope"),
    Rule("ENV-34", "body", _R.SCHEMA_INVALID, "area-bound types"),
    Rule("ENV-35", "body", _R.SCOPE_VIOLATION, "Trilateral Strategic Dialogue only trilateral"),
    Rule("ENV-36", "body", _R.SCOPE_VIOLATION, "participants in scope"),
    Rule("ENV-37", "body", _R.NOT_ORIGINATOR, "supersede/retract only by the originator"),
    Rule("ENV-38", "receipt", _R.SENDER_MISMATCH, "receipt receiving_agency is the sender"),
    Rule("ENV-39", "receipt", _R.SCOPE_VIOLATION, "acknowledged senders in scope"),
    Rule("ENV-40", "receipt", _R.SENDER_MISMATCH, "published receipts only for own messages"),
    Rule("ENV-41", "label", _R.RELEASABILITY_VIOLATION, "releasable_to equals scope members"),
    Rule("ENV-42", "label", _R.SENDER_MISMATCH, "label originator is the sender"),
    Rule("ENV-43", "topic", _R.TOPIC_MISMATCH, "header.topic as scope, area and type give"),
    Rule("ENV-44", "topic", _R.TOPIC_MISMATCH, "header.topic is the topic read from"),
)

ENC_RULES: tuple[Rule, ...] = (
    Rule("ENC-01", "record", _R.MALFORMED, "a payload starting with { is v2 (RFC 7797)"),
    Rule("ENC-02", "protected", _R.MALFORMED, "v2: b64 false and crit [b64]"),
    Rule("ENC-03", "payload", _R.MALFORMED, "v2: payload is header, label, enc; enc well formed"),
    Rule("ENC-04", "decrypt", _R.PLAINTEXT_REFUSED, "plaintext where the plan requires encryption"),
    Rule("ENC-05", "decrypt", _R.NOT_A_RECIPIENT, "the CWK was announced to this agency"),
    Rule("ENC-06", "decrypt", _R.RELEASABILITY_VIOLATION, "the CWK is shared only with entitled"),
    Rule("ENC-07", "decrypt", _R.UNDECRYPTABLE, "AES-256-GCM opens with AAD over header, label"),
    Rule("ENC-08", "decrypt", _R.SCHEMA_INVALID, "plaintext body valid; body rules"),
    Rule("ENC-09", "decrypt", _R.NOT_A_RECIPIENT, "need-to-know lists the reader (v1 and v2)"),
)
"""Envelope v2 (SPEC.md section 11). ``RULES`` stays the v1 table, which the v1 vectors
and the mutation test enumerate; ``TABLE`` is every rule in evaluation order."""

BAT_RULES: tuple[Rule, ...] = (
    Rule("BAT-01", "record", _R.MALFORMED, "batched element: exactly protected and batch"),
    Rule("BAT-02", "record", _R.MALFORMED, "batch root three base64url parts; path 32 bytes"),
    Rule(
        "BAT-03",
        "protected",
        _R.MALFORMED,
        "root statement: header, tree size, index, path length",
        also=(_R.UNSUPPORTED_ALG,),
    ),
    Rule("BAT-04", "signature", _R.BAD_SIGNATURE, "inclusion proof leads to the signed root"),
)
"""Batch signatures (SPEC.md section 12), placed in the table after the rule each extends."""

_AFTER = {
    "ENV-05": ("BAT-01", "ENC-01"),
    "ENV-06": ("BAT-02",),
    "ENV-09": ("ENC-02",),
    "ENV-16": ("BAT-03",),
    "ENV-23": ("BAT-04", "ENC-03"),
}
_EXTRA = {r.id: r for r in (*BAT_RULES, *ENC_RULES)}
# The reader's rules, in evaluation order: ENC-09 (need-to-know, SPEC 11.4) right after
# ENC-04, before any key is looked for, so a reader left off the list never waits for
# an announcement that will not name it.
_DECRYPT = ("ENC-04", "ENC-09", "ENC-05", "ENC-06", "ENC-07", "ENC-08")
TABLE: tuple[Rule, ...] = tuple(
    r for v1 in RULES for r in (v1, *(_EXTRA[e] for e in _AFTER.get(v1.id, ())))
) + tuple(_EXTRA[i] for i in _DECRYPT)

_BY_ID = {r.id: r for r in TABLE}
_ORDER = {r.id: i for i, r in enumerate(TABLE)}

# Switched-off rules: empty in every real run. Only the mutation test changes it,
# through disabled(); a plain frozenset lookup keeps the guard cheap on the hot path.
_disabled: frozenset[str] = frozenset()
_listeners: list[Callable[[], None]] = []


def by_id(rule_id: str) -> Rule:
    return _BY_ID[rule_id]


def order(rule_id: str | None) -> int:
    """The rule's position in evaluation order (untagged refusals sort last)."""
    return _ORDER.get(rule_id, len(TABLE)) if rule_id is not None else len(TABLE)


def enabled(rule_id: str) -> bool:
    """Whether the verifier applies this rule (always, outside the mutation test)."""
    return rule_id not in _disabled


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the set of disabled rules changes (to drop caches
    holding results computed under the other set)."""
    _listeners.append(callback)


@contextmanager
def disabled(*rule_ids: str) -> Iterator[None]:
    """TEST ONLY: switch rules off for the duration (process-wide, not thread-safe).

    A verifier without a rule is a broken verifier; this exists so the mutation test
    can show every rule is pinned by a conformance vector.
    """
    global _disabled
    unknown = set(rule_ids) - _BY_ID.keys()
    if unknown:
        raise KeyError(f"unknown rule ids {sorted(unknown)}")
    previous = _disabled
    _disabled = previous | frozenset(rule_ids)
    for callback in _listeners:
        callback()
    try:
        yield
    finally:
        _disabled = previous
        for callback in _listeners:
            callback()
