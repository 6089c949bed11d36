"""accord.bench.stacks: py-spy's collapsed stacks charged to categories, per process."""

from __future__ import annotations

from accord.bench.stacks import OTHER, categorize, report, tally

NODE = 'process 41:"python -m accord.bench.probed_node out.json -- receive"'
PEER = 'process 42:"python -m accord.bench.peer --bootstrap x"'


def test_the_innermost_matching_frame_decides() -> None:
    # SQLite called from accord's inbox code is SQLite, not "other".
    stack = [
        "<module> (accord/cli/main.py:1)",
        "land (accord/receiver/inbox.py:190)",
        "sqlite3_step (libsqlite3.so)",
    ]
    assert categorize(stack) == "SQLite"
    # JSON decoding inside pydantic's model code is JSON (the inner frame).
    assert (
        categorize(["model_validate_json (pydantic/main.py:1)", "decode (json/decoder.py:1)"])
        == "JSON"
    )
    assert categorize(["run (accord/receiver/service.py:1)"]) == OTHER
    # A process frame is a command line, not code: "landings.json" is not JSON work.
    assert categorize([f"{NODE} landings.json", "run (accord/receiver/service.py:1)"]) == OTHER


def test_samples_are_told_apart_by_process_and_converted_per_message() -> None:
    lines = [
        f"{NODE};verify (accord/envelope/jws.py:1);ed25519_verify (libcrypto) 30",
        f"{NODE};land (accord/receiver/inbox.py:1);sqlite3_step (libsqlite3) 10",
        f"{PEER};handle (accord/bench/peer.py:1);ed25519_verify (libcrypto) 20",
        "not a stack line",
    ]
    counts = tally(lines)
    assert counts["accord receiving node"] == {"Ed25519 sign / verify": 30, "SQLite": 10}
    assert counts["peer subscriber"] == {"Ed25519 sign / verify": 20}
    text = report(counts, None, {"accord receiving node": 200.0})
    assert "150 µs/msg" in text  # 30 of 40 samples of 200 µs
    assert "50 µs/msg" in text
