"""The published JSON Schemas accept what accord accepts and refuse bad messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from accord.cli.main import _register, cli
from accord.envelope import payload_bytes
from accord.envelope.samples import SAMPLES, sample_header, sample_label
from accord.envelope.schemas import BASE_URI, export_schemas
from accord.models import MESSAGE_TYPES

_register()
REPO = Path(__file__).resolve().parents[2]
SCHEMAS = {name: json.loads(data) for name, data in export_schemas().items()}
REGISTRY: Registry = Registry().with_resources(
    (doc["$id"], Resource.from_contents(doc)) for doc in SCHEMAS.values()
)


def validator(name: str) -> Draft202012Validator:
    schema = SCHEMAS[f"v1/{name}.schema.json"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def payload(type_name: str) -> dict[str, Any]:
    s = SAMPLES[type_name]
    doc: dict[str, Any] = json.loads(
        payload_bytes(sample_header(s), sample_label(s.sender, s.scope), s.body)
    )
    return doc


def test_ids_are_versioned() -> None:
    for name, doc in SCHEMAS.items():
        assert doc["$id"] == BASE_URI + name.removeprefix("v1/")
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("type_name", sorted(MESSAGE_TYPES))
def test_samples_validate(type_name: str) -> None:
    doc = payload(type_name)
    validator("accord.payload.v1").validate(doc)
    validator(type_name).validate(doc["body"])


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["body"].update(extra=1),
        lambda d: d["body"].pop("title"),
        lambda d: d["label"].update(caveats=["NOFORN"]),
        lambda d: d["label"].update(releasable_to=["CHN"]),
        lambda d: d["header"].update(sender="jpn.mofa"),
        lambda d: d["header"].update(message_id="00000000-0000-4000-8000-000000000000"),
        lambda d: d["header"].update(type="accord.nope.v1"),
        lambda d: d["body"]["key_judgments"][0].update(likelihood="probable"),
        lambda d: d["body"]["sources"][0].update(credibility=9),
    ],
)
def test_bad_payloads_refused(edit: Any) -> None:
    doc = payload("accord.strategic-assessment.v1")
    edit(doc)
    assert list(validator("accord.payload.v1").iter_errors(doc))


def test_body_checked_against_header_type() -> None:
    doc = payload("accord.strategic-assessment.v1")
    doc["body"] = payload("accord.retract.v1")["body"]
    assert list(validator("accord.payload.v1").iter_errors(doc))


def test_vector_envelopes_match_jws_schema() -> None:
    import base64

    for path in (REPO / "schemas/vectors/valid").glob("*.json"):
        outer = json.loads(path.read_bytes())
        validator("accord.jws.v1").validate(outer)
        for sig in outer["signatures"]:
            p = sig["protected"]
            header = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            validator("accord.protected-header.v1").validate(header)


def test_check_passes_on_repo_and_fails_on_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["schemas", "check", "--dir", str(REPO / "schemas")]).exit_code == 0
    assert runner.invoke(cli, ["schemas", "export", "--dir", str(tmp_path)]).exit_code == 0
    assert runner.invoke(cli, ["schemas", "vectors", "--dir", str(tmp_path)]).exit_code == 0
    assert runner.invoke(cli, ["schemas", "check", "--dir", str(tmp_path)]).exit_code == 0
    target = tmp_path / "v1/accord.label.v1.schema.json"
    target.write_text(target.read_text().replace("ORCON", "ORCOM"))
    result = runner.invoke(cli, ["schemas", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "accord.label.v1" in result.output
    target.unlink()
    (tmp_path / "v1/stale.schema.json").write_text("{}")
    result = runner.invoke(cli, ["schemas", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "stale" in result.output
