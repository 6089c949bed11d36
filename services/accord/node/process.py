"""An agency node as an operating-system process of its own.

Tests, the soak run and the benchmark start ``accord receive`` this way when what
they check needs a real process: one that can be SIGKILLed, or whose memory and
CPU are measured apart from the caller's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from accord.config import KafkaConnection

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_receiver_process(
    *,
    agency: str,
    connection: KafkaConnection,
    plan_file: Path,
    pki_dir: Path,
    data_dir: Path,
    log: Path,
    options: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """``accord receive --agency`` (plus ``options``) on a plain broker, logging JSON
    lines to ``log``."""
    env = {
        **os.environ,
        "ACCORD_BOOTSTRAP_SERVERS": connection.bootstrap_servers,
        "ACCORD_PLAN": str(plan_file),
        "ACCORD_PKI_DIR": str(pki_dir),
        "ACCORD_DATA_DIR": str(data_dir),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "accord", "--log-json", "receive", "--agency", agency, *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (the node finishes its batch and closes), then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def peak_rss_mib(pid: int) -> float | None:
    """A process's high-water resident set (VmHWM), MiB; None where /proc is absent."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a process has used so far, all its threads; None if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
