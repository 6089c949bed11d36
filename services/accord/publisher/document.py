"""A message document (the YAML/JSON of ``accord publish`` and the HTTP API) made typed.

A document holds ``type``, ``scope``, ``area``, ``label`` and ``body``; the label's
defaults are filled in for the sending agency (originator, dates, releasable-to =
the scope's members); a ``need_to_know`` list of agency ids narrows who may read it
(put in the wire's ascending order here). Every refusal is a :class:`accord.errors.Refused` with the
reason verification would give, or a :class:`accord.errors.ConfigError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from accord.areas import Area
from accord.errors import ConfigError, ReasonCode, Refused
from accord.labels import Caveat, Classification, Label, Policy
from accord.models import MESSAGE_TYPES, MessageBody
from accord.parties import Scope

__all__ = ["build_message"]


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def build_message(doc: Mapping[str, Any], agency: str) -> tuple[MessageBody, Scope, Area, Label]:
    """Turn a message document into a body, scope, area and label; clear errors."""
    unknown = set(doc) - {"type", "scope", "area", "label", "body"}
    if unknown:
        raise ConfigError(
            f"unknown keys in message file: {', '.join(sorted(unknown))}",
            hint="allowed: type, scope, area, label, body",
        )
    type_name = doc.get("type")
    model = MESSAGE_TYPES.get(str(type_name))
    if model is None:
        raise Refused(
            ReasonCode.SCHEMA_INVALID,
            f"unknown message type {type_name!r}",
            hint="one of: " + ", ".join(sorted(MESSAGE_TYPES)),
        )
    try:
        scope = Scope(str(doc.get("scope")))
        area = Area(str(doc.get("area")))
    except ValueError as exc:
        raise Refused(
            ReasonCode.SCHEMA_INVALID,
            str(exc),
            hint="scope: bilateral|trilateral; area: see `accord plan show`",
        ) from None
    now = datetime.now(UTC)
    label_doc = {
        "policy": Policy.ACCORD_JPN_AUS_2007.value,
        "classification": Classification.RESTRICTED.value,
        "releasable_to": sorted(c.value for c in scope.members),
        "caveats": [Caveat.ORCON.value],
        "originator": agency,
        "created_at": now.isoformat(),
        "review_on": (now + timedelta(days=365)).date().isoformat(),
        "legal_basis": "Released under the originator's national laws and regulations.",
        **_json_ready(doc.get("label") or {}),
    }
    need = label_doc.get("need_to_know")
    if isinstance(need, list) and all(isinstance(a, str) for a in need):
        # The wire wants ascending order (one spelling per list); a person need not.
        label_doc["need_to_know"] = sorted(need)
    try:
        label = Label.model_validate_json(json.dumps(label_doc))
    except ValidationError as exc:
        first = exc.errors()[0]
        # The same distinction verification makes: a value the label scale does
        # not know is its own reason, not a broken document.
        reason = (
            ReasonCode.UNKNOWN_LABEL_VALUE
            if first["type"] in {"enum", "literal_error"}
            else ReasonCode.SCHEMA_INVALID
        )
        raise Refused(
            reason,
            f"label.{_where(first['loc'])}: {first['msg']}",
            hint="see schemas/v1/accord.label.v1.schema.json",
        ) from None
    try:
        body = model.model_validate_json(json.dumps(_json_ready(doc.get("body") or {})))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Refused(
            ReasonCode.SCHEMA_INVALID,
            f"body.{_where(first['loc'])}: {first['msg']}",
            hint=f"see schemas/v1/{type_name}.schema.json",
        ) from None
    return body, scope, area, label


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)
