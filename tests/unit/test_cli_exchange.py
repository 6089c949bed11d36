"""Node commands fail with clear errors and a hint, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.cli.main import _register, cli
from accord.errors import ConfigError, ReasonCode, Refused
from accord.models import StrategicAssessment
from accord.parties import Country, Scope
from accord.publisher.document import build_message

EXAMPLE = Path(__file__).parents[2] / "examples" / "assessment.yaml"


def _run(*args: str, input: str | None = None) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.output


def test_example_message_file_builds_with_label_defaults() -> None:
    import yaml

    body, scope, area, label = build_message(yaml.safe_load(EXAMPLE.read_text()), "JPN.MOFA")
    assert isinstance(body, StrategicAssessment)
    assert scope is Scope.BILATERAL
    assert area.value == "strategic-assessments"
    assert label.originator == "JPN.MOFA"
    assert set(label.releasable_to) == {Country.JPN, Country.AUS}


def test_a_document_may_narrow_its_readers_with_a_need_to_know_list() -> None:
    import yaml

    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["label"] = {**(doc.get("label") or {}), "need_to_know": ["JPN.MOD", "AUS.DFAT"]}
    _, _, _, label = build_message(doc, "JPN.MOFA")
    assert label.need_to_know == ("AUS.DFAT", "JPN.MOD")  # the wire's order
    doc["label"]["need_to_know"] = []
    with pytest.raises(Refused) as empty:
        build_message(doc, "JPN.MOFA")
    assert empty.value.reason is ReasonCode.SCHEMA_INVALID


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (
            {"type": "accord.nope.v1", "scope": "bilateral", "area": "dialogue"},
            ReasonCode.SCHEMA_INVALID,
        ),
        (
            {
                "type": "accord.strategic-assessment.v1",
                "scope": "quadrilateral",
                "area": "dialogue",
            },
            ReasonCode.SCHEMA_INVALID,
        ),
        (
            {
                "type": "accord.strategic-assessment.v1",
                "scope": "bilateral",
                "area": "strategic-assessments",
                "body": {"title": 1},
            },
            ReasonCode.SCHEMA_INVALID,
        ),
        (
            {
                "type": "accord.strategic-assessment.v1",
                "scope": "bilateral",
                "area": "strategic-assessments",
                "label": {"classification": "TOP-SECRET"},
                "body": {},
            },
            ReasonCode.UNKNOWN_LABEL_VALUE,
        ),
    ],
)
def test_bad_message_documents_are_refused_with_a_reason(
    doc: dict[str, object], reason: ReasonCode
) -> None:
    with pytest.raises(Refused) as exc:
        build_message(doc, "JPN.MOFA")
    assert exc.value.reason is reason
    assert exc.value.hint


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError):
        build_message(
            {"type": "x", "scope": "bilateral", "area": "dialogue", "extra": 1}, "JPN.MOFA"
        )


def test_publish_cli_errors_have_no_traceback(tmp_path: Path) -> None:
    code, out = _run(
        "publish",
        "--agency",
        "JPN.MOFA",
        "--pki-dir",
        str(tmp_path),
        str(tmp_path / "missing.yaml"),
    )
    assert code == 2
    assert "error [" in out
    assert "Traceback" not in out
    code, out = _run(
        "publish", "--agency", "JPN.MOFA", "--pki-dir", str(tmp_path / "none"), str(EXAMPLE)
    )
    assert code == 2
    assert "no PKI directory" in out
    assert "hint:" in out
    code, out = _run("publish", "--agency", "XX.NOPE", str(EXAMPLE))
    assert code == 2
    assert "Traceback" not in out


def test_inbox_cli_without_an_inbox_says_how_to_fix(tmp_path: Path) -> None:
    code, out = _run("inbox", "--agency", "JPN.MOFA", "--data-dir", str(tmp_path))
    assert code == 2
    assert "no inbox" in out
    assert "accord receive" in out


def test_receive_refuses_a_fetch_wait_out_of_range() -> None:
    code, out = _run("receive", "--agency", "AUS.DFAT", "--fetch-wait-ms", "900")
    assert code == 2
    assert "--fetch-wait-ms" in out
    assert "0<=x<=500" in out
    assert "Traceback" not in out
