"""Encryption keys on disk and ``accord keys``: issue, rotate, revoke, show."""

from __future__ import annotations

import re
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.cli.main import _register, cli
from accord.confidentiality import KeyDirectory, encrypt_body, resolve_recipients
from accord.confidentiality.files import EncryptionKeyFiles
from accord.confidentiality.sender import ContentEncryptor
from accord.errors import Refused

_register()

ENV = {"ENC_PASS": "enc passphrase", "SIGN_PASS": "signing passphrase"}


def run(*args: str, ok: bool = True) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--log-level", "ERROR", *args], env=ENV)
    if ok:
        assert result.exit_code == 0, result.output
    return result.exit_code, result.output


def _provision(d: str) -> None:
    run("pki", "init-root", "--country", "JPN", "--dir", d)
    run("pki", "init-root", "--country", "AUS", "--dir", d)
    run("pki", "issue", "--agency", "JPN.MOFA", "--dir", d, "--passphrase-env", "SIGN_PASS")
    run("pki", "issue", "--agency", "AUS.DFAT", "--dir", d)


def _ekid(output: str) -> str:
    match = re.search(r"ekid=([0-9a-f]{64})", output)
    assert match, output
    return match.group(1)


def test_issue_rotate_revoke_show(tmp_path: Path) -> None:
    d = str(tmp_path)
    _provision(d)
    enc = ("--passphrase-env", "ENC_PASS", "--signing-passphrase-env", "SIGN_PASS")
    first = _ekid(run("keys", "issue", "--agency", "JPN.MOFA", "--dir", d, *enc)[1])
    run("keys", "issue", "--agency", "AUS.DFAT", "--dir", d)
    key_files = list(tmp_path.rglob("*.enc-key.pem"))
    assert len(key_files) == 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in key_files)
    assert (
        b"ENCRYPTED" in (tmp_path / "agencies/JPN.MOFA/enc" / f"{first}.enc-key.pem").read_bytes()
    )

    files = EncryptionKeyFiles(tmp_path)
    trust = files.pki.trust_store()
    now = datetime.now(UTC)
    # A message to JPN.MOFA's first key, in flight across the rotation.
    sender = ContentEncryptor(files.pki.signer("AUS.DFAT"))
    recipients = resolve_recipients(["JPN.MOFA", "AUS.DFAT"], files.directory(trust), now=now)
    cwk, announcement = sender.cwk_for(recipients)
    assert announcement is not None
    mid = uuid.uuid4()
    sealed = encrypt_body(cwk, mid, header=b"h", label=b"l", plaintext=b"in flight")

    second = _ekid(run("keys", "rotate", "--agency", "JPN.MOFA", "--dir", d, *enc)[1])
    directory = files.directory(trust)
    assert directory.current("JPN.MOFA", now=now) is not None
    assert directory.current("JPN.MOFA", now=now).ekid == second  # type: ignore[union-attr]
    keyring = files.keyring("JPN.MOFA", passphrase=b"enc passphrase")
    assert keyring.current.ekid == second
    keyring.open(announcement, trust, now=now)
    assert keyring.decrypt(mid, sender="AUS.DFAT", header=b"h", label=b"l", body=sealed) == (
        b"in flight"
    )

    run(
        "keys",
        "revoke",
        "--agency",
        "JPN.MOFA",
        "--dir",
        d,
        "--ekid",
        second,
        "--signing-passphrase-env",
        "SIGN_PASS",
    )
    assert files.directory(trust).current("JPN.MOFA", now=now) is None
    # the bundle carries all of it to a node that has only the trust bundle
    run("keys", "bundle", "--dir", d)
    fresh = KeyDirectory(trust)
    assert fresh.add_bundle((tmp_path / "keys.jwsl").read_bytes(), now=now) == 4
    assert fresh.current("JPN.MOFA", now=now) is None
    assert fresh.current("AUS.DFAT", now=now) is not None
    tampered = (tmp_path / "keys.jwsl").read_bytes().replace(b".", b".x", 1)
    with pytest.raises(Refused):
        KeyDirectory(trust).add_bundle(tampered, now=now)
    out = run("keys", "show", "--dir", d)[1]
    assert re.search(rf"JPN.MOFA ekid={second} .* current,revoked", out)
    assert re.search(rf"JPN.MOFA ekid={first} .*\d$", out, re.MULTILINE)


def test_errors_are_one_line_with_a_hint_and_exit_2(tmp_path: Path) -> None:
    d = str(tmp_path)
    _provision(d)
    run("keys", "issue", "--agency", "AUS.DFAT", "--dir", d)
    code, out = run("keys", "issue", "--agency", "AUS.DFAT", "--dir", d, ok=False)
    assert code == 2
    assert out.startswith("error [pki-error]: AUS.DFAT already has an encryption key\nhint: ")
    code, out = run("keys", "rotate", "--agency", "JPN.MOFA", "--dir", d, ok=False)
    assert code == 2
    assert "no encryption key to rotate" in out
    code, out = run("keys", "issue", "--agency", "JPN.MOFA", "--dir", d, ok=False)
    assert code == 2  # the signing key is passphrase-protected and none was given
    assert out.startswith("error [pki-error]: cannot load private key")
    assert "Traceback" not in out
