"""Instructions per message (accord.bench.instructions): the arithmetic and the
report it reads, and a real count under valgrind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from accord.bench.instructions import instructions_of, per_message

# The last lines of a real cachegrind report (valgrind 3.19, --cache-sim=no).
_REPORT = """==4242== Cachegrind, a cache and branch-prediction profiler
==4242== Command: python -m accord.bench.instructions --counted-run /tmp/x 256 verify
==4242==
==4242== I   refs:      3,323,541,900
"""


def test_the_count_is_read_from_the_report() -> None:
    assert instructions_of(_REPORT) == 3_323_541_900


def test_a_report_without_a_count_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="I refs"):
        instructions_of("==4242== error: could not start python\n")


def test_start_up_cancels_out_of_the_difference() -> None:
    # 1 000 instructions a message over a start-up of 3 million, at 256 and 1 280.
    small, large = (256, 3_000_000 + 256_000), (1280, 3_000_000 + 1_280_000)
    assert per_message(small, large) == 1000.0
    with pytest.raises(ValueError, match="more messages"):
        per_message(large, small)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord.bench.instructions", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_without_valgrind_it_says_so_in_one_line() -> None:
    result = _run(env={**os.environ, "PATH": "/nonexistent"})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "valgrind is not installed" in lines[0]
    assert "apt-get install valgrind" in lines[0]


def test_counts_must_be_whole_batches() -> None:
    result = _run("--small", "100", "--large", "512")
    assert result.returncode == 2
    assert "multiples of 256" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_real_count_of_every_stage() -> None:
    # valgrind runs on every machine of this kind (CI installs it when missing). Two
    # batches against one: the smallest difference that is a whole batch.
    result = _run("--small", "256", "--large", "512", "--label", "ci")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert set(line) == {"label", "verify", "assess", "publish"}
    assert line["label"] == "ci"
    # A batched record's verification is some hundreds of thousands of instructions
    # (about 630 000 at this commit); assess is verification and more.
    assert 100_000 < line["verify"] < 5_000_000
    assert line["verify"] < line["assess"] < 2 * line["verify"]
    # Publishing (about 520 000 at this commit): a header, a payload, its leaf and
    # proof, the sent log and the announcements, a share of one signature.
    assert 100_000 < line["publish"] < 5_000_000


def test_one_stage_alone() -> None:
    result = _run("--stage", "publish", "--small", "256", "--large", "512")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert set(line) == {"label", "publish"}
    assert line["publish"] > 100_000
