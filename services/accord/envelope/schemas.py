"""JSON Schemas (draft 2020-12) for partners, generated from the models.

One file per artefact under ``schemas/v1/``; ``$id`` values are identifiers under
``https://accord.example/schemas/v1/`` (not fetched: load every file into your
validator's registry). The payload schema picks the body schema by
``header.type``. Regenerate with ``accord schemas export``; CI runs
``accord schemas check``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from accord.envelope.header import Header
from accord.envelope.jws import ALG, MAX_SIGNATURES, MAX_TREE_SIZE, TYP
from accord.labels import Label
from accord.models import MESSAGE_TYPES

__all__ = ["BASE_URI", "SCHEMA_VERSION", "export_schemas"]

SCHEMA_VERSION = "v1"
BASE_URI = f"https://accord.example/schemas/{SCHEMA_VERSION}/"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _file(name: str) -> str:
    return f"{name}.schema.json"


def _from_model(name: str, model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": BASE_URI + _file(name), **schema, "title": title}


def _payload() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": BASE_URI + _file("accord.payload.v1"),
        "title": "accord signed payload (the base64url-decoded JWS payload)",
        "type": "object",
        "additionalProperties": False,
        "required": ["header", "label", "body"],
        "properties": {
            "header": {"$ref": _file("accord.header.v1")},
            "label": {"$ref": _file("accord.label.v1")},
            "body": {"type": "object"},
        },
        "allOf": [
            {
                "if": {"properties": {"header": {"properties": {"type": {"const": name}}}}},
                "then": {"properties": {"body": {"$ref": _file(name)}}},
            }
            for name in sorted(MESSAGE_TYPES)
        ],
    }


def _b64url(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": description}


def _jws() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": BASE_URI + _file("accord.jws.v1"),
        "title": "accord envelope: JWS JSON serialization, general form (RFC 7515 7.2.1)",
        "type": "object",
        "additionalProperties": False,
        "required": ["payload", "signatures"],
        "properties": {
            "payload": _b64url("base64url of the payload (accord.payload.v1)"),
            "signatures": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SIGNATURES,
                "items": {"oneOf": [_per_message(), _batched()]},
            },
        },
    }


def _per_message() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["protected", "signature"],
        "properties": {
            "protected": _b64url("base64url of the protected header (accord.protected-header.v1)"),
            "signature": _b64url("base64url of the 64-byte Ed25519 signature"),
        },
    }


def _batched() -> dict[str, Any]:
    """A batched signature element (SPEC section 12; BAT-01, BAT-02)."""
    part = "[A-Za-z0-9_-]*"
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["protected", "batch"],
        "properties": {
            "protected": _b64url("base64url of the protected header (accord.protected-header.v1)"),
            "batch": {
                "type": "object",
                "additionalProperties": False,
                "required": ["root", "index", "path"],
                "properties": {
                    "root": {
                        "type": "string",
                        "maxLength": 1024,
                        "pattern": f"^{part}\\.{part}\\.{part}$",
                        "description": "the root statement: compact JWS over the tree "
                        "size and root hash (SPEC 12.2)",
                    },
                    "index": {"type": "integer", "minimum": 0, "maximum": MAX_TREE_SIZE - 1},
                    "path": {
                        "type": "array",
                        "maxItems": 16,
                        "items": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9_-]{43}$",
                            "description": "base64url of a 32-byte SHA-256 hash",
                        },
                    },
                },
            },
        },
    }


def _protected() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "$id": BASE_URI + _file("accord.protected-header.v1"),
        "title": "accord JWS protected header",
        "type": "object",
        "additionalProperties": False,
        "required": ["alg", "kid", "typ", "cty"],
        "properties": {
            "alg": {"const": ALG},
            "kid": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 of the signer's DER certificate, lowercase hex",
            },
            "typ": {"const": TYP},
            # Any string: an unknown type is refused after the signatures, as
            # schema-invalid (SPEC ENV-14, ENV-25), not as a malformed header.
            "cty": {
                "type": "string",
                "description": "the message type; one not known is schema-invalid (SPEC ENV-25)",
            },
            "x5t#S256": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{43}$",
                "description": "the same digest as kid, base64url",
            },
        },
    }


def export_schemas() -> dict[str, bytes]:
    """Every schema file, by path relative to ``schemas/``."""
    docs: dict[str, dict[str, Any]] = {
        "accord.jws.v1": _jws(),
        "accord.protected-header.v1": _protected(),
        "accord.payload.v1": _payload(),
        "accord.header.v1": _from_model("accord.header.v1", Header, "accord message header"),
        "accord.label.v1": _from_model("accord.label.v1", Label, "accord security label"),
    }
    for name, body in MESSAGE_TYPES.items():
        docs[name] = _from_model(name, body, f"{name} body")
    return {
        f"{SCHEMA_VERSION}/{_file(name)}": (
            json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        ).encode()
        for name, doc in sorted(docs.items())
    }
