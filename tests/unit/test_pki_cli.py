from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.cli.main import _register, cli
from accord.errors import ReasonCode, Refused
from accord.trust import TrustStore
from accord.trust.pki import PkiDirectory

_register()


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, ["--log-level", "ERROR", "pki", *args], env=env)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def test_init_issue_rotate_revoke_bundle(tmp_path: Path) -> None:
    d = str(tmp_path)
    run("init-root", "--country", "JPN", "--dir", d)
    run("issue", "--agency", "JPN.MOFA", "--dir", d, "--days", "30")
    keys = list(tmp_path.rglob("*.key.pem"))
    assert len(keys) == 2
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    old = PkiDirectory(tmp_path).signer("JPN.MOFA").kid
    run("rotate", "--agency", "JPN.MOFA", "--dir", d, "--no-publish")
    out = run("revoke", "--agency", "JPN.MOFA", "--dir", d, "--kid", old)
    assert old in out
    bundle = tmp_path / "out.pem"
    run("bundle", "--dir", d, "--out", str(bundle))
    store = TrustStore.from_bundle(bundle)
    with pytest.raises(Refused) as err:
        store.validate(old, datetime.now(UTC))
    assert err.value.reason is ReasonCode.REVOKED
    shown = run("show", "--dir", d)
    assert "revoked" in shown
    assert "current" in shown


def test_passphrase_encrypted_key(tmp_path: Path) -> None:
    d = str(tmp_path)
    env = {"ROOT_PASS": "correct horse", "KEY_PASS": "battery staple"}
    run("init-root", "--country", "AUS", "--dir", d, "--passphrase-env", "ROOT_PASS", env=env)
    run(
        "issue",
        "--agency",
        "AUS.DFAT",
        "--dir",
        d,
        "--passphrase-env",
        "KEY_PASS",
        "--ca-passphrase-env",
        "ROOT_PASS",
        env=env,
    )
    key = next((tmp_path / "agencies/AUS.DFAT").glob("*.key.pem"))
    assert b"ENCRYPTED" in key.read_bytes()
    assert PkiDirectory(tmp_path).signer("AUS.DFAT", passphrase=b"battery staple")


def test_errors_are_hints_not_tracebacks(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["pki", "issue", "--agency", "JPN.MOFA", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "error [pki-error]" in result.output
    assert "hint:" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(
        cli,
        [
            "pki",
            "init-root",
            "--country",
            "JPN",
            "--dir",
            str(tmp_path),
            "--passphrase-env",
            "UNSET_VAR_X",
        ],
    )
    assert result.exit_code == 2
    assert "UNSET_VAR_X" in result.output
