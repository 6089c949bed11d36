"""The envelope: header + label + body, signed as JWS JSON (RFC 7515) with EdDSA.

See docs/envelope.md for the wire format and the order of checks.
"""

from accord.envelope.header import Header, topic_for
from accord.envelope.ids import new_message_id, uuid7_time_ms
from accord.envelope.jws import (
    MAX_BYTES,
    MAX_SIGNATURES,
    Rejected,
    Verdict,
    Verified,
    cosign,
    envelope_payload_sha256,
    payload_bytes,
    seal,
    sign_payload,
    verify,
)

__all__ = [
    "MAX_BYTES",
    "MAX_SIGNATURES",
    "Header",
    "Rejected",
    "Verdict",
    "Verified",
    "cosign",
    "envelope_payload_sha256",
    "new_message_id",
    "payload_bytes",
    "seal",
    "sign_payload",
    "topic_for",
    "uuid7_time_ms",
    "verify",
]
