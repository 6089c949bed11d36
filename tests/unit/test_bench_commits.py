"""``python -m accord.bench.commits``: inbox-like commits on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from accord.bench import commits


def test_commits_are_timed_and_every_row_is_written(tmp_path: Path) -> None:
    times = commits.measure(tmp_path / "db", 0.3)
    assert len(times) >= 5
    assert all(t > 0 for t in times)
    rows = sqlite3.connect(tmp_path / "db" / "commits.sqlite").execute("SELECT count(*) FROM rows")
    assert rows.fetchone()[0] == len(times) * commits.ROWS_PER_COMMIT
    figures = commits.summary(times)
    assert figures["commits"] == len(times)
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"] + 0.05


def test_summary_counts_the_slow_commits() -> None:
    figures = commits.summary([0.001] * 97 + [0.012, 0.030, 0.060])
    assert figures["p50_ms"] == 1.0
    assert figures["max_ms"] == 60.0
    assert (figures["over_10_ms"], figures["over_25_ms"], figures["over_50_ms"]) == (3, 2, 1)


def test_the_command_prints_json_and_refuses_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commits.main(["--dir", str(tmp_path), "--seconds", "0.2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["commits"] >= 1
    assert list(tmp_path.iterdir()) == []  # its temporary folder is gone
    with pytest.raises(SystemExit) as exit_:
        commits.main(["--dir", str(tmp_path / "nowhere")])
    assert exit_.value.code == 2
    assert "is not a folder" in capsys.readouterr().err


def test_a_disk_that_refuses_the_commits_is_one_line_and_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> list[float]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(commits, "measure", refuse)
    with pytest.raises(SystemExit) as exit_:
        commits.main(["--dir", str(tmp_path), "--seconds", "0.1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: cannot commit in {tmp_path}: disk I/O error",
        "hint: give --dir a folder this user may write in",
    ]
