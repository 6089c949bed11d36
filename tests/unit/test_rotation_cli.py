"""A rotated key is staged until its certificate is on the trust topic."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from accord.cli.main import _register, cli
from accord.trust.pki import PkiDirectory

_register()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["--log-level", "CRITICAL", "pki", *args],
        env={"ACCORD_KAFKA_USERNAME": "", "ACCORD_SECURITY_PROTOCOL": ""},
    )
    return result.exit_code, result.output


def test_a_rotation_that_cannot_be_published_is_not_put_in_use(tmp_path: Path) -> None:
    d = str(tmp_path)
    assert run("init-root", "--country", "JPN", "--dir", d)[0] == 0
    assert run("issue", "--agency", "JPN.MOFA", "--dir", d)[0] == 0
    pki = PkiDirectory(tmp_path)
    old = pki.signer("JPN.MOFA").kid
    down = f"127.0.0.1:{_closed_port()}"

    code, out = run("rotate", "--agency", "JPN.MOFA", "--dir", d, "--bootstrap", down)
    assert code == 2
    assert "Traceback" not in out
    assert out.startswith("error [broker-unreachable]: ")
    assert "PENDING" in out  # the hint says the new key is staged, the old still signs
    new = pki.pending("JPN.MOFA")
    assert new is not None
    assert new != old
    assert pki.signer("JPN.MOFA").kid == old
    assert f"kid={new}" in run("show", "--dir", d)[1].split("pending")[0].splitlines()[-1]

    code, out = run("publish", "--dir", d, "--bootstrap", down)
    assert code == 2
    assert pki.signer("JPN.MOFA").kid == old  # still not in use


def test_no_publish_only_stages(tmp_path: Path) -> None:
    d = str(tmp_path)
    run("init-root", "--country", "AUS", "--dir", d)
    run("issue", "--agency", "AUS.DFAT", "--dir", d)
    pki = PkiDirectory(tmp_path)
    old = pki.signer("AUS.DFAT").kid
    code, out = run("rotate", "--agency", "AUS.DFAT", "--dir", d, "--no-publish")
    assert code == 0, out
    assert "staged" in out
    assert pki.signer("AUS.DFAT").kid == old
    assert pki.activate("AUS.DFAT") == pki.signer("AUS.DFAT").kid != old
    assert pki.pending("AUS.DFAT") is None
