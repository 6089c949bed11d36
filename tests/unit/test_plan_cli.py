"""``accord plan check/show`` through the real CLI root (error printing, exit codes)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from accord.cli.main import _register, cli

PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"
_register()


def test_check_ok() -> None:
    result = CliRunner().invoke(cli, ["plan", "check", "--plan", str(PLAN_FILE)])
    assert result.exit_code == 0, result.output
    assert "plan OK: 10 agencies" in result.output


def test_check_error_exit_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text(PLAN_FILE.read_text().replace("  JPN.NPA:\n", "  JPN.NPA:\n    colour: x\n"))
    result = CliRunner().invoke(cli, ["plan", "check", "--plan", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output
    assert "unknown key 'colour'" in result.output
    assert "hint:" in result.output
    assert "Traceback" not in result.output


def test_show_access_matrix() -> None:
    result = CliRunner().invoke(cli, ["plan", "show", "--access", "--plan", str(PLAN_FILE)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if "USA.STATE" in line and "AUS.AFP" in line)
    cols = header.split()
    row = next(line for line in lines if line.startswith("accord.bilateral.dialogue ")).split()
    assert row[1 + cols.index("USA.STATE")] == "-"
    assert row[1 + cols.index("JPN.MOFA")] == "RW"


def test_show_json() -> None:
    import json

    result = CliRunner().invoke(
        cli, ["plan", "show", "--json", "--access", "--plan", str(PLAN_FILE)]
    )
    doc = json.loads(result.output)
    assert doc["agencies"]["JPN.MOFA"]["group_id"] == "accord.node.jpn.mofa"
    assert doc["access"]["AUS.AFP"]["accord.quarantine.aus.afp"] == "RW"
