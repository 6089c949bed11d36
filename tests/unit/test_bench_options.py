"""``accord bench``'s option checks that run before any broker is touched: one line,
a hint, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

from click.testing import CliRunner

from accord.cli.main import _register, cli

_register()


def _bench(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["bench", *args])
    return result.exit_code, result.output


def test_broker_pid_without_bootstrap_is_refused() -> None:
    code, out = _bench("--broker-pid", str(os.getpid()))
    assert code == 2
    assert out.startswith("error [bench-option-invalid]: --broker-pid names the broker of")
    assert "\nhint: drop --broker-pid, or add --bootstrap" in out
    assert "Traceback" not in out


def test_a_broker_pid_that_is_no_process_is_refused() -> None:
    # A process that has exited and been reaped: its pid names nothing (until reused).
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    code, out = _bench("--bootstrap", "127.0.0.1:1", "--broker-pid", str(gone.pid))
    assert code == 2
    assert out.startswith(f"error [bench-option-invalid]: --broker-pid {gone.pid}: no process")
    assert "pgrep -f kafka.Kafka" in out
    assert "Traceback" not in out


def test_a_broker_pid_below_one_is_a_usage_error() -> None:
    code, out = _bench("--bootstrap", "127.0.0.1:1", "--broker-pid", "0")
    assert code == 2
    assert "--broker-pid" in out
    assert "Traceback" not in out
