"""Run any verifier over the conformance vectors through the line protocol.

The protocol is in schemas/CONFORMANCE.md: the verifier is started once (no shell),
gets one JSON request per line on stdin and answers one JSON object per line on
stdout, in order. Each vector gets ``timeout`` seconds.
"""

from __future__ import annotations

import base64
import json
import queue
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from accord.errors import AccordError

__all__ = ["ConformanceError", "Outcome", "load_requests", "run"]


class ConformanceError(AccordError):
    """The verifier could not be run to the end (did not start, died, hung, garbled)."""

    code = "verifier-failed"


@dataclass(frozen=True)
class Outcome:
    id: str
    expected: str
    """``accept`` or ``reject <reason>``."""
    got: str
    note: str = ""

    @property
    def agrees(self) -> bool:
        return self.expected == self.got


def load_requests(vectors: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """(request, expected verdict) for every vector of ``vectors/manifest.json``."""
    try:
        manifest = json.loads((vectors / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConformanceError(
            f"cannot read {vectors / 'manifest.json'}: {exc}",
            hint="pass --vectors DIR, the directory of manifest.json",
        ) from None
    bundle = str((vectors / manifest["bundle"]).resolve())
    for vector in manifest["vectors"]:
        raw = (vectors / vector["file"]).read_bytes()
        request = {
            "id": vector["id"],
            "envelope": base64.b64encode(raw).decode("ascii"),
            "topic": vector["topic"],
            "now": vector["now"],
            "max_bytes": vector["max_bytes"],
            "bundle": bundle,
            "roots": manifest["roots"],
        }
        decrypt = vector.get("decrypt")
        if decrypt is not None:
            # Protocol v2 (envelope v2): the reader's TEST keys and the key
            # announcements the record needs, inline (base64), so a verifier reads no
            # file but the bundle.
            request["decrypt"] = {
                "agency": decrypt["agency"],
                "keys": [manifest["decryption_keys"][decrypt["agency"]]],
                "announcements": [
                    base64.b64encode((vectors / name).read_bytes()).decode()
                    for name in decrypt["announcements"]
                ],
                "entitled": decrypt["entitled"],
                "encryption_required": decrypt["encryption_required"],
            }
        if vector["expected"] != "valid":
            expected = f"reject {vector['expected']}"
        elif "plaintext_sha256" in vector:
            expected = f"accept plaintext_sha256={vector['plaintext_sha256']}"
        else:
            expected = "accept"
        yield request, expected


def _reader(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output: the verifier exited or closed stdout


def _verdict(line: bytes, rid: str) -> tuple[str, str]:
    try:
        response = json.loads(line)
    except ValueError:
        raise ConformanceError(
            f"verifier wrote a line that is not JSON for {rid}: {line[:120]!r}",
            hint="write exactly one JSON object per line on stdout; logs go to stderr",
        ) from None
    if not isinstance(response, dict) or response.get("id") != rid:
        raise ConformanceError(
            f"verifier answered {str(response)[:120]} for request {rid}",
            hint="answer each request in order, echoing its id",
        )
    verdict = response.get("verdict")
    if verdict == "accept":
        digest = response.get("plaintext_sha256")
        return ("accept" if digest is None else f"accept plaintext_sha256={digest}"), ""
    if verdict == "reject" and isinstance(response.get("reason"), str):
        note = " ".join(str(response[k]) for k in ("rule", "detail") if response.get(k))
        return f"reject {response['reason']}", note
    raise ConformanceError(
        f"verifier answered no verdict for {rid}: {str(response)[:160]}",
        hint='answer {"id": …, "verdict": "accept"} or {"id": …, "verdict": "reject", "reason": …}',
    )


def run(
    command: str,
    vectors: Path,
    *,
    timeout: float = 10.0,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Start ``command`` once, send every vector, return how each one went."""
    argv = shlex.split(command)
    if not argv:
        raise ConformanceError("empty verifier command", hint="--verifier 'CMD ARGS'")
    requests = list(load_requests(vectors))
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    except OSError as exc:
        raise ConformanceError(
            f"cannot start {argv[0]!r}: {exc.strerror or exc}",
            hint="check the command and that it is executable",
        ) from None
    assert process.stdin is not None
    assert process.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_reader, args=(process.stdout, lines), daemon=True).start()
    outcomes: list[Outcome] = []
    try:
        for request, expected in requests:
            rid = request["id"]
            try:
                process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                raise ConformanceError(
                    f"verifier exited before {rid} (status {process.poll()})",
                    hint="run the command by hand to see why",
                ) from None
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise ConformanceError(
                    f"verifier hung: no answer to {rid} in {timeout:g} s",
                    hint="flush stdout after each line",
                ) from None
            if line is None:
                process.wait(timeout=timeout)
                raise ConformanceError(
                    f"verifier exited at {rid} (status {process.returncode})",
                    hint="run the command by hand to see why",
                )
            got, note = _verdict(line, rid)
            outcome = Outcome(rid, expected, got, note)
            outcomes.append(outcome)
            if report is not None:
                report(outcome)
        process.stdin.close()
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass  # every answer is in; a verifier slow to exit is killed below
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return outcomes
