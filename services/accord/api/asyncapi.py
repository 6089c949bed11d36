"""The AsyncAPI 3.0 document of accord's Kafka interface, rendered from a plan.

For systems that would rather speak Kafka directly than go through a node's HTTP
API: one channel per topic of the plan, the envelope referencing the published
JSON Schemas (``schemas/v1/``), the record key (the sender), the mirrored
``accord-*`` headers, the SASL/SCRAM and TLS security schemes, and which agency
may publish and receive on each channel (``x-accord-publishers`` /
``x-accord-receivers``, from the plan; the broker's ACLs are rendered from the
same plan by ``accord plan apply``). Deterministic: the same plan gives the same
bytes, so the checked-in document is drift-checked like the JSON Schemas.
"""

from __future__ import annotations

import json
from typing import Any

from accord import __version__
from accord.observability.trace import TRACEPARENT
from accord.parties import Scope
from accord.plan import Plan
from accord.plan.model import TopicSpec
from accord.publisher.service import MIRRORED_HEADERS

ASYNCAPI_FILE = "asyncapi/accord.asyncapi.json"
"""Where the document for the default plan lives, relative to ``schemas/``."""

_SCHEMAS = "../v1/"
_JSON_SCHEMA = "application/schema+json;version=draft-07"
_AGENCY = r"^[A-Z]{3}\.[A-Z][A-Z0-9-]{1,15}$"

_HEADER_DOC = {
    "accord-message-id": ("the signed header's message_id (UUID)", "uuid"),
    "accord-type": ("the signed header's type, e.g. accord.information-report.v1", None),
    "accord-sender": ("the signed header's sender agency", None),
    "accord-scope": ("bilateral or trilateral", None),
    "accord-area": ("the area of cooperation", None),
}


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _envelope_message(name: str, title: str, summary: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "description": "Mirrors of signed header fields, for filtering only: receivers "
            "never trust them and quarantine a record whose mirror disagrees "
            "(header-mismatch).",
            "required": list(MIRRORED_HEADERS),
            "properties": {
                **{
                    h: {
                        "type": "string",
                        "description": _HEADER_DOC[h][0],
                        **({"format": _HEADER_DOC[h][1]} if _HEADER_DOC[h][1] else {}),
                    }
                    for h in MIRRORED_HEADERS
                },
                # Trace: optional, unsigned; a bad one only means a fresh trace.
                TRACEPARENT: {
                    "type": "string",
                    "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                    "description": "W3C Trace Context (version 00), outside the "
                    "signature: joins the logs of publish, receive, receipt and "
                    "handover; a malformed one is replaced by a fresh trace",
                },
            },
        },
        "payload": {
            "schemaFormat": _JSON_SCHEMA,
            "schema": _ref(f"{_SCHEMAS}accord.jws.v1.schema.json"),
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "pattern": _AGENCY,
                    "description": "the sender agency: one partition per sender keeps "
                    "its per-topic sequence in order",
                },
                "bindingVersion": "0.5.0",
            }
        },
    }


def _components() -> dict[str, Any]:
    return {
        "messages": {
            "envelope": _envelope_message(
                "envelope",
                "A signed accord message",
                "JWS JSON (EdDSA) over accord.payload.v1: header, label and body; the "
                "body follows schemas/v1/<header.type>.schema.json",
            ),
            "receipt": _envelope_message(
                "receipt",
                "A signed receipt",
                "an envelope whose body is accord.receipt.v1: delivered (from a receiving "
                "node) or published (from the originator)",
            ),
            "trustItem": {
                "name": "trustItem",
                "title": "A certificate or CRL",
                "summary": "PEM; key cert:<kid> or crl:<issuer>. Roots never come from "
                "this topic; a CRL counts only if a trusted root signed it.",
                "contentType": "application/x-pem-file",
                "payload": {"type": "string"},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "pattern": "^(cert|crl):.+$"},
                        "bindingVersion": "0.5.0",
                    }
                },
            },
            "quarantined": {
                "name": "quarantined",
                "title": "A refused record",
                "summary": "The refused bytes (a prefix if over 256 KiB) with why",
                "contentType": "application/octet-stream",
                "headers": {
                    "type": "object",
                    "required": [
                        "accord-reason",
                        "accord-source-topic",
                        "accord-source-partition",
                        "accord-source-offset",
                        "accord-agency",
                    ],
                    "properties": {
                        "accord-reason": {"type": "string", "description": "accord's reason code"},
                        "accord-detail": {"type": "string"},
                        "accord-source-topic": {"type": "string"},
                        "accord-source-partition": {"type": "string"},
                        "accord-source-offset": {"type": "string"},
                        "accord-agency": {"type": "string"},
                        "accord-original-size": {"type": "string"},
                        "accord-original-sha256": {"type": "string"},
                    },
                },
                "payload": {"type": "string", "format": "binary"},
            },
        },
        "securitySchemes": {
            "scram": {
                "type": "scramSha512",
                "description": "SASL/SCRAM-SHA-512; one principal per agency "
                "(accord plan apply creates it and its ACLs)",
            },
            "tlsClient": {
                "type": "X509",
                "description": "TLS; the broker's CA verifies, and a client "
                "certificate where the broker asks for one",
            },
        },
    }


def _channel_id(topic: str, namespace: str) -> str:
    return topic.removeprefix(f"{namespace}.").replace(".", "-")


def _bindings(spec: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in ("retention.ms", "cleanup.policy", "max.message.bytes"):
        if name in spec.configs:
            value = spec.configs[name]
            config[name] = [value] if name == "cleanup.policy" else int(value)
    kafka: dict[str, Any] = {
        "topic": spec.name,
        "partitions": spec.partitions,
        "replicas": spec.replication_factor,
        "bindingVersion": "0.5.0",
    }
    if config:
        kafka["topicConfiguration"] = config
    return {"kafka": kafka}


def asyncapi_document(plan: Plan) -> dict[str, Any]:
    ns = plan.namespace
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def channel(
        spec: TopicSpec, message: str, description: str, publishers: list[str], receivers: list[str]
    ) -> None:
        cid = _channel_id(spec.name, ns)
        channels[cid] = {
            "address": spec.name,
            "description": description,
            "messages": {message: _ref(f"#/components/messages/{message}")},
            "bindings": _bindings(spec),
            "x-accord-publishers": publishers,
            "x-accord-receivers": receivers,
        }
        if publishers:
            operations[f"send-{cid}"] = {
                "action": "send",
                "channel": _ref(f"#/channels/{cid}"),
                "summary": f"Publish to {spec.name}",
                "description": "Allowed to: " + ", ".join(publishers),
                "messages": [_ref(f"#/channels/{cid}/messages/{message}")],
            }
        if receivers:
            operations[f"receive-{cid}"] = {
                "action": "receive",
                "channel": _ref(f"#/channels/{cid}"),
                "summary": f"Receive from {spec.name}",
                "description": "Entitled: " + ", ".join(receivers),
                "messages": [_ref(f"#/channels/{cid}/messages/{message}")],
            }

    agencies = sorted(plan.agencies)
    for spec in plan.topics():
        if spec.kind == "exchange":
            _, scope_name, area_name = spec.name.rsplit(".", 2)
            scope = Scope(scope_name)
            area = next(a for a in plan.scope_areas(scope) if a.value == area_name)
            channel(
                spec,
                "envelope",
                f"{scope.value} exchange, area {area.value}: signed messages; the record "
                "key is the sender and each sender's sequence on this topic counts up "
                "from 1",
                [a for a in agencies if plan.may_publish(a, scope, area)],
                plan.entitled_receivers(scope, area),
            )
        elif spec.kind == "receipts":
            channel(
                spec,
                "receipt",
                "Signed receipts: delivered and published "
                "acknowledgements, batched per scope and area",
                agencies,
                [plan.monitor.principal],
            )
        elif spec.kind == "trust" and spec.name != plan.trust_topic:
            owner = next(a for a in agencies if plan.keys_topic(a) == spec.name)
            channel(
                spec,
                "trustItem",
                f"Compacted: {owner}'s encryption key statements "
                "(enc:<agency>:<ekid>) and CWK announcements (cwk:<sender>:<id>), signed; "
                "read by every node from the beginning",
                [owner],
                agencies,
            )
        elif spec.kind == "trust":
            channel(
                spec,
                "trustItem",
                "Compacted: agency certificates and CRLs, read by every node from the beginning",
                [],
                agencies,
            )
        else:
            owner = next(a for a in agencies if plan.quarantine_topic(a) == spec.name)
            channel(
                spec,
                "quarantined",
                f"What {owner}'s node refused, with the reason code; kept as evidence",
                [owner],
                [owner],
            )

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"accord Kafka interface ({ns})",
            "version": __version__,
            "description": "Signed, labelled messages between agency nodes over Kafka. "
            "Generated by `accord api asyncapi` from the exchange plan; the message "
            "schemas are in schemas/v1/. Most agency systems should use their node's "
            "HTTP API instead (schemas/openapi/), which signs and verifies for them.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "scram-tls": {
                "host": "{bootstrap}",
                "protocol": "kafka-secure",
                "description": "SASL_SSL: TLS with SCRAM-SHA-512",
                "variables": {"bootstrap": {"default": "127.0.0.1:9093"}},
                "security": [
                    _ref("#/components/securitySchemes/scram"),
                    _ref("#/components/securitySchemes/tlsClient"),
                ],
            },
            "scram": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "SASL_PLAINTEXT with SCRAM-SHA-512 (loopback tests only)",
                "variables": {"bootstrap": {"default": "127.0.0.1:9092"}},
                "security": [_ref("#/components/securitySchemes/scram")],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": _components(),
    }


def render(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
