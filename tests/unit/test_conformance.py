"""``accord conformance``: the line protocol, through real verifier processes."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from accord.cli.main import _register, cli

VECTORS = Path(__file__).resolve().parents[2] / "schemas" / "vectors"
PY = shlex.quote(sys.executable)
REFERENCE = f"{PY} -m accord.conformance.reference"

_register()


def conformance(command: str, *extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "--log-level",
            "ERROR",
            "conformance",
            "--verifier",
            command,
            "--vectors",
            str(VECTORS),
            *extra,
        ],
    )


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "verifier.py"
    path.write_text("import json, sys\n" + body)
    return f"{PY} {shlex.quote(str(path))}"


def test_accords_own_verifier_agrees_with_every_vector() -> None:
    result = conformance(REFERENCE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1].endswith(" passed, 0 failed")
    assert not [line for line in lines if line.startswith("DISAGREE")]
    assert sum(line.startswith("agree ") for line in lines) == int(lines[-1].split()[0])


def test_a_verifier_that_accepts_everything_disagrees(tmp_path: Path) -> None:
    accept_all = script(
        tmp_path,
        """
for line in sys.stdin:
    print(json.dumps({"id": json.loads(line)["id"], "verdict": "accept"}), flush=True)
""",
    )
    result = conformance(accept_all)
    assert result.exit_code == 1
    assert (
        "DISAGREE  reject/ENV-06-signature-stray-bits  expected reject malformed, got accept"
        in result.output
    )
    assert "agree     valid/cosigned  accept" in result.output
    passed, failed = result.output.splitlines()[-1].split(" passed, ")
    assert int(failed.split()[0]) > 0
    assert int(passed) > 0


def test_a_command_that_cannot_start_is_one_line_error() -> None:
    result = conformance("/nonexistent/verifier --flag")
    assert result.exit_code == 2
    assert result.output.startswith("error [verifier-failed]: cannot start '/nonexistent/verifier'")
    assert "Traceback" not in result.output


def test_a_verifier_that_dies_is_reported(tmp_path: Path) -> None:
    result = conformance(script(tmp_path, "sys.stdin.readline()\nsys.exit(3)\n"))
    assert result.exit_code == 2
    assert "error [verifier-failed]: verifier exited at " in result.output
    assert "status 3" in result.output


def test_a_verifier_that_hangs_is_reported(tmp_path: Path) -> None:
    hang = script(tmp_path, "import time\nsys.stdin.readline()\ntime.sleep(60)\n")
    result = conformance(hang, "--timeout", "1")
    assert result.exit_code == 2
    assert "error [verifier-failed]: verifier hung: no answer to " in result.output


def test_a_verifier_that_writes_logs_to_stdout_is_reported(tmp_path: Path) -> None:
    chatty = script(tmp_path, "for line in sys.stdin:\n    print('verifying...', flush=True)\n")
    result = conformance(chatty)
    assert result.exit_code == 2
    assert "not JSON" in result.output


def v2(command: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "--log-level",
            "ERROR",
            "conformance",
            "--verifier",
            command,
            "--vectors",
            str(VECTORS / "v2"),
        ],
    )


def test_accords_own_verifier_decrypts_every_v2_vector() -> None:
    result = v2(REFERENCE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "15 passed, 0 failed"
    assert [line.split()[1] for line in lines if line.startswith("agree ")][:2] == [
        "valid/v2-one-recipient",
        "valid/v2-ten-recipients",
    ]
    assert "accept plaintext_sha256=" in lines[0]


def test_a_v1_only_verifier_fails_the_v2_suite_on_decryption(tmp_path: Path) -> None:
    """The v1 verifier (accord's verify without decrypt) rejects v2 as malformed: it
    agrees on the v2 records that are malformed anyway, and on no valid one."""
    v1_only = script(
        tmp_path,
        """
import base64
from datetime import datetime
from pathlib import Path
from accord.envelope import Verified, verify
from accord.observability.logs import configure_logging
from accord.trust import TrustStore
configure_logging("ERROR", stream=sys.stderr)
for line in sys.stdin:
    r = json.loads(line)
    store = TrustStore.from_bundle(Path(r["bundle"]), roots=r["roots"])
    v = verify(base64.b64decode(r["envelope"]), store, topic=r["topic"],
               now=datetime.fromisoformat(r["now"]), max_bytes=r["max_bytes"])
    out = ({"verdict": "accept"} if isinstance(v, Verified)
           else {"verdict": "reject", "reason": v.reason.value})
    print(json.dumps({"id": r["id"], **out}), flush=True)
""",
    )
    result = v2(v1_only)
    assert result.exit_code == 1
    assert "DISAGREE  valid/v2-one-recipient  expected accept plaintext_sha256=" in result.output
    assert "agree     reject/ENC-03-extra-member  reject malformed" in result.output


def test_an_accept_without_the_plaintext_digest_disagrees(tmp_path: Path) -> None:
    blind = script(
        tmp_path,
        """
for line in sys.stdin:
    print(json.dumps({"id": json.loads(line)["id"], "verdict": "accept"}), flush=True)
""",
    )
    result = v2(blind)
    assert result.exit_code == 1
    assert "DISAGREE  valid/v2-ten-recipients  expected accept plaintext_sha256=" in result.output
