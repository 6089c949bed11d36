"""The signed header: identity, routing and ordering of one message."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field, GetCoreSchemaHandler
from pydantic.json_schema import WithJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from accord.areas import Area
from accord.envelope.ids import new_message_id
from accord.models import MESSAGE_TYPES, Receipt
from accord.models.types import UUID_FORM, Agency, CanonicalUuid, Strict, Timestamp
from accord.parties import Scope
from accord.topics import DEFAULT_NAMESPACE, exchange_topic, namespace_of, receipts_topic

_UUID7_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_NOT_V7 = "message_id must be a UUIDv7 (RFC 9562)"


def _check_v7(value: UUID) -> UUID:
    # Version 7 and the RFC 9562 variant (binary 10): what ``value.version == 7``
    # says, without the two property calls.
    if (value.int >> 76) & 0xF != 7 or (value.int >> 62) & 0x3 != 0b10:
        raise PydanticCustomError("uuid_v7", _NOT_V7)
    return value


class _Version7:
    """``message_id``: a canonical UUID (``CanonicalUuid``) of version 7.

    In JSON the version is judged on the text, by a pattern in pydantic-core, after the
    canonical form's and before the parse: a receiver makes no Python call for it (0.8
    µs a message, ``timeit``; issue 16). A UUID given in Python is judged on its value.
    Both say the same, with the same error type."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        canonical = handler(source)
        version = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=_UUID7_PATTERN, strict=True),
            custom_error_type="uuid_v7",
            custom_error_message=_NOT_V7,
        )
        return core_schema.json_or_python_schema(
            # the canonical form first, so its error is the one a non-canonical id gets
            json_schema=core_schema.chain_schema([UUID_FORM.text_schema, version, canonical]),
            python_schema=core_schema.no_info_after_validator_function(_check_v7, canonical),
        )


def _check_type(value: str) -> str:
    if value not in MESSAGE_TYPES:
        raise ValueError(f"unknown message type {value!r}")
    return value


class Header(Strict):
    """Who sent what, when, to which scope, area and topic.

    ``topic`` is the destination topic, signed so that a message replayed onto
    another topic is refused (``topic-mismatch``).
    """

    message_id: Annotated[
        CanonicalUuid,
        _Version7(),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": _UUID7_PATTERN,
                "description": "UUIDv7 (RFC 9562), canonical lower-case",
            }
        ),
    ]
    type: Annotated[
        str,
        Field(max_length=100, json_schema_extra={"enum": sorted(MESSAGE_TYPES)}),
        AfterValidator(_check_type),
    ]
    sender: Agency
    issued_at: Timestamp
    scope: Scope
    area: Area
    topic: Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,249}$")]
    sequence: Annotated[int, Field(ge=0, le=2**63 - 1, description="per-sender sequence number")]
    correlation_id: CanonicalUuid | None = None
    causation_id: CanonicalUuid | None = None

    @classmethod
    def create(
        cls,
        type: str,
        *,
        sender: str,
        scope: Scope,
        area: Area,
        sequence: int,
        issued_at: datetime | None = None,
        message_id: UUID | None = None,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> Header:
        """A header with a fresh id, the current time and the topic the rules require."""
        topic = (
            receipts_topic(namespace)
            if type == Receipt.TYPE
            else exchange_topic(scope, area, namespace)
        )
        header = {
            "message_id": message_id or new_message_id(),
            "type": type,
            "sender": sender,
            "issued_at": issued_at or datetime.now(UTC),
            "scope": scope,
            "area": area,
            "topic": topic,
            "sequence": sequence,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
        }
        return cls.model_validate(header)


def topic_for(header: Header) -> str:
    """The topic a message with this header must travel on, in its own namespace.

    The namespace is read from the signed topic itself; the receiver separately
    checks that the record really came from that topic.
    """
    return _topic_for(header.topic, header.type, header.scope, header.area)


@functools.lru_cache(maxsize=1024)
def _topic_for(topic: str, type_: str, scope: Scope, area: Area) -> str:
    # A pure function of four short values that repeat for every message of a stream:
    # cached, as the verifier asks once a record (ENV-43).
    namespace = namespace_of(topic) or DEFAULT_NAMESPACE
    if type_ == Receipt.TYPE:
        return receipts_topic(namespace)
    return exchange_topic(scope, area, namespace)
