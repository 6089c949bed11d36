"""The API's request and response models. OpenAPI 3.1 is generated from these.

Message bodies and labels are the very models of ``accord.models`` and
``accord.labels``, published as JSON Schemas in ``schemas/v1/``; a publish
request carries them as JSON and the node validates them with those models
(the same path as ``accord publish``), so the API cannot drift from the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from accord.areas import Area
from accord.models import MESSAGE_TYPES
from accord.parties import Scope

# Receipts are the node's own business; every other type an agency may publish.
PUBLISHABLE = tuple(sorted(t for t in MESSAGE_TYPES if t != "accord.receipt.v1"))
_SCHEMA_BASE = "https://accord.example/schemas/v1/"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublishRequest(_Model):
    """A message to sign and publish as this node's agency."""

    type: Literal[PUBLISHABLE] = Field(  # type: ignore[valid-type]
        description=f"the versioned message type; the body follows {_SCHEMA_BASE}<type>.schema.json"
    )
    scope: Scope
    area: Area
    label: dict[str, Any] | None = Field(
        default=None,
        description="label fields overriding the scope's usual label "
        f"({_SCHEMA_BASE}accord.label.v1.schema.json); originator is always this agency",
    )
    body: dict[str, Any] = Field(
        description=f"the message body, per {_SCHEMA_BASE}<type>.schema.json"
    )
    correlation_id: UUID | None = Field(
        default=None,
        description="the signed header's correlation_id: ties related "
        "messages together; logged on every event of the message, on every node",
    )


class SupersedeRequest(_Model):
    reason: str = Field(min_length=1, max_length=500)
    replacement_summary: str = Field(min_length=1, max_length=2000)
    replacement_message_id: UUID | None = None
    label: dict[str, Any] | None = None


class RetractRequest(_Model):
    reason: str = Field(min_length=1, max_length=500)
    label: dict[str, Any] | None = None


class Published(_Model):
    """A message the broker has acknowledged (acks=all)."""

    message_id: UUID
    topic: str
    partition: int
    offset: int
    sequence: int
    trace_id: str | None = Field(
        default=None,
        description="the W3C trace the message was "
        "sent in (a `traceparent` request header is continued)",
    )


class InboxItem(_Model):
    cursor: str = Field(description="pass as `after` to list what landed after this message")
    message_id: UUID
    type: str
    sender: str
    scope: Scope
    area: Area
    sequence: int
    status: Literal["current", "superseded", "retracted"]
    topic: str
    partition: int
    offset: int
    received_at: datetime
    payload_sha256: str
    handover: Literal["pending", "delivered", "dead"] | None = Field(
        default=None,
        description="handover to the agency system's webhook (accord.handover); "
        "null when the node hands over nothing",
    )


class InboxPage(_Model):
    messages: list[InboxItem]
    next_cursor: str | None = Field(
        description="the cursor to pass as `after` next; the one given if nothing is new"
    )


class InboxMessage(InboxItem):
    """One message in full, and the raw envelope to re-verify it independently."""

    header: dict[str, Any]
    label: dict[str, Any]
    body: dict[str, Any]
    envelope_base64: str = Field(
        description="the JWS JSON envelope exactly as received "
        f"({_SCHEMA_BASE}accord.jws.v1.schema.json), base64"
    )


class QuarantineItem(_Model):
    cursor: str
    offset: int
    reason: str = Field(description="accord's reason code, e.g. bad-signature")
    detail: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    claimed_sender: str | None = Field(description="the record key: unverified")
    size: int
    quarantined_at_ms: int
    envelope_base64: str = Field(description="the refused bytes (a prefix if oversized)")


class QuarantinePage(_Model):
    records: list[QuarantineItem]
    next_cursor: str | None


class ReplayOutcome(_Model):
    ref: str = Field(description="the record in the quarantine topic, partition:offset")
    outcome: str = Field(description="landed | already-landed | still-refused")
    message_id: str | None
    reason: str | None = Field(description="accord's reason code, when still refused")
    detail: str | None
    hint: str | None = Field(description="what would make it pass, when still refused")


class NodeStatus(_Model):
    agency: str
    version: str
    ready: bool = Field(description="assigned its partitions and not stopping")
    healthy: bool = Field(description="polled the broker recently")
    delivered: int
    duplicates: int
    rejected: dict[str, int]
    gaps: int
    receipts: int
    inbox_messages: int
    publish_topics: list[str]
    receive_topics: list[str]
