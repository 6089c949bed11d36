"""The published JSON Schemas accept exactly what the models (the verifier) accept.

Instances are generated from the schemas themselves (every pattern, bound and enum),
then some are bent into near misses (lower-case ``t``, upper-case UUIDs, ``urn:uuid:``,
impossible dates, look-alike slashes, out-of-range integers, wrong types). On every
instance the schema's verdict and the model's must agree. Two documented gaps: the
cross-field invariants (SPEC ENV-28) are not expressible in JSON Schema, so the model
may refuse what the schema accepts only with an ``invariant`` error; and a number
written ``1.0`` is an integer to JSON Schema but not to SPEC 3.1 (checked separately).
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError
from referencing import Registry, Resource

from accord.envelope.jws import _PAYLOADS
from accord.models import MESSAGE_TYPES
from accord.models.types import DATE_PATTERN, DATETIME_PATTERN, UUID_PATTERN

V1 = Path(__file__).resolve().parents[2] / "schemas" / "v1"
SCHEMAS = {p.name: json.loads(p.read_text()) for p in V1.glob("*.schema.json")}
REGISTRY: Registry[Any] = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMAS.values()
)
PAYLOAD = SCHEMAS["accord.payload.v1.schema.json"]
VALIDATOR = Draft202012Validator(PAYLOAD, registry=REGISTRY)
NO_SURROGATES = st.characters(exclude_categories=["Cs"])

NEAR_MISSES: list[Any] = [
    "2026-01-15t09:00:00Z",
    "2026-01-15 09:00:00Z",
    "2026-01-15T09:00:00",
    "2026-01-15T09:00:00z",
    "2026-02-30T09:00:00Z",
    "2025-02-29",
    "0000-01-01",
    "2026-01-15T24:00:00Z",
    "2026-01-15T09:00:60Z",
    "2026-01-15T09:00:00.1234567Z",
    "0190a2b4-0c00-7000-8000-00000000000A",
    "urn:uuid:0190a2b4-0c00-7000-8000-000000000001",
    "0190a2b40c00700080000000000000001",
    "{0190a2b4-0c00-7000-8000-000000000001}",
    "0190a2b4-0c00-4000-8000-000000000001",
    "a\u2215b.pdf",
    "a\uff0fb",
    "x\u202ey",
    "..",
    "JPN.mofa",
    "GBR.FCDO",
    "",
    "x" * 301,
    -1,
    2**63,
    2**40 + 1,
    True,
    None,
    [],
    {},
]


# The three long format patterns: hypothesis's regex generator is slow on them, so
# their values are drawn from the domain and written in every form the pattern allows
# (Z or an offset, 0-6 fraction digits). The patterns themselves still judge them.
_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))]
)


def _datetime_text(at: datetime, digits: int) -> str:
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{at.microsecond:06d}"[:digits]
    offset = at.strftime("%z")
    return text + ("Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}")


FORMATS: dict[str, st.SearchStrategy[str]] = {
    DATETIME_PATTERN: st.builds(
        _datetime_text,
        st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=_OFFSETS),
        st.integers(0, 6),
    ),
    DATE_PATTERN: st.dates().map(lambda d: d.strftime("%Y-%m-%d")),
    UUID_PATTERN: st.uuids().map(str),
    "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$": st.integers(
        0, 2**122 - 1
    ).map(
        lambda n: str(
            UUID(
                int=(n >> 74) << 80
                | 0x7 << 76
                | ((n >> 62) & 0xFFF) << 64
                | 0b10 << 62
                | (n & (2**62 - 1))
            )
        )
    ),
}


def resolve(schema: dict[str, Any], base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return schema, base
    file, _, pointer = ref.partition("#")
    doc = SCHEMAS[file] if file else base
    target: Any = doc
    for part in filter(None, pointer.split("/")):
        target = target[part]
    return resolve(target, doc)


def instances(schema: dict[str, Any], base: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema, base = resolve(schema, base)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([instances(s, base) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**63)), schema.get("maximum", 2**63 - 1))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 10**6)
        if schema.get("pattern") in FORMATS:
            return FORMATS[schema["pattern"]]
        if "pattern" in schema:
            text = st.from_regex(schema["pattern"], fullmatch=True, alphabet=NO_SURROGATES)
            return text.filter(lambda t: low <= len(t) <= high)
        return st.text(NO_SURROGATES, min_size=low, max_size=min(high, 40))
    if kind == "array":
        items = instances(schema.get("items", {}), base)
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + 3), low + 3)
        unique = (lambda v: json.dumps(v, sort_keys=True)) if schema.get("uniqueItems") else None
        return st.lists(items, min_size=low, max_size=high, unique_by=unique)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: instances(v, base) for k, v in props.items() if k in required},
            optional={k: instances(v, base) for k, v in props.items() if k not in required},
        )
    return st.just("x")  # an unconstrained member (only the payload's generic body)


@functools.cache
def parts(type_name: str) -> st.SearchStrategy[dict[str, Any]]:
    def of(name: str) -> st.SearchStrategy[Any]:
        return instances(SCHEMAS[name], SCHEMAS[name])

    return st.fixed_dictionaries(
        {
            "header": of("accord.header.v1.schema.json"),
            "label": of("accord.label.v1.schema.json"),
            "body": of(f"{type_name}.schema.json"),
        }
    )


@st.composite
def payloads(draw: st.DrawFn, type_name: str) -> Any:
    doc = copy.deepcopy(draw(parts(type_name)))
    doc["header"]["type"] = type_name
    if draw(st.booleans()):  # bend one leaf into a near miss
        leaves: list[tuple[Any, Any]] = []

        def walk(node: Any) -> None:
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(value, dict | list) and value:
                    walk(value)
                else:
                    leaves.append((node, key))

        walk(doc)
        node, key = draw(st.sampled_from(leaves))
        node[key] = copy.deepcopy(draw(st.sampled_from(NEAR_MISSES)))
    return doc


def model_verdict(model: type[BaseModel], text: str) -> str:
    try:
        model.model_validate_json(text)
    except ValidationError as exc:
        types = {e["type"] for e in exc.errors()}
        return "invariant" if types == {"invariant"} else "refuse"
    return "accept"


@pytest.mark.parametrize("type_name", sorted(MESSAGE_TYPES))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_schema_and_model_agree(type_name: str, data: st.DataObject) -> None:
    doc = data.draw(payloads(type_name))
    text = json.dumps(doc, ensure_ascii=False)
    schema_ok = VALIDATOR.is_valid(doc)
    verdict = model_verdict(_PAYLOADS[type_name], text)
    if schema_ok:
        assert verdict in {"accept", "invariant"}, (text, verdict)
    else:
        assert verdict == "refuse", (text, list(VALIDATOR.iter_errors(doc))[:2])


def test_integer_literals_are_the_documented_gap() -> None:
    # 1.0 passes JSON Schema's integer; SPEC 3.1 (and the model) refuse it.
    model = _PAYLOADS["accord.retract.v1"]
    schema = Draft202012Validator({"type": "integer"})
    assert schema.is_valid(1.0)
    assert model_verdict(model, '{"header":{"sequence":1.0}}') == "refuse"
