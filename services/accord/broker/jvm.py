"""JVM supervision: spawning a Kafka JVM, formatting its storage, signalling it,
and making sure no JVM outlives the Python process that started it.

Knows processes and files, nothing of listeners or passwords beyond what the
storage tool needs: LocalBroker (accord.broker.node) decides what to run.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

from accord.broker.state import pid_alive
from accord.errors import BrokerError
from accord.observability.logs import get_logger

_log = get_logger(__name__)

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
_TAIL_LINES = 25


def log_tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Killable(Protocol):
    def kill(self) -> int | None: ...


# JVM owners this process started and must not outlive it (unless detached).
_owned: weakref.WeakSet[_Killable] = weakref.WeakSet()


@atexit.register
def _reap() -> None:
    for owner in list(_owned):
        owner.kill()


def own(owner: _Killable) -> None:
    """Kill ``owner``'s JVM when this process exits normally."""
    _owned.add(owner)


def disown(owner: _Killable) -> None:
    _owned.discard(owner)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGKILL the JVM if this process dies (even by SIGKILL).

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only used
    from the main thread; elsewhere atexit and the test fixtures' finalizers remain.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


def spawn(
    cmd: Sequence[str], *, cwd: Path, log_path: Path, detach: bool
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """Start ``cmd`` with its output appended to ``log_path``; return it and the log handle."""
    log_handle = open(log_path, "ab")  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log_handle,
        stderr=subprocess.STDOUT,
        # Own session: a Ctrl-C in the terminal reaches us, not the JVM; we stop it.
        start_new_session=True,
        preexec_fn=None if detach else _die_with_parent(),
    )
    return proc, log_handle


def format_storage(
    java: str,
    classpath: str,
    *,
    cluster_id: str,
    properties: Path,
    scram_users: Mapping[str, str],
    cwd: Path,
) -> None:
    """Format KRaft storage (once: ``--ignore-formatted``), adding SCRAM users if any."""
    cmd = [
        java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", classpath, STORAGE_TOOL,
        "format", "--cluster-id", cluster_id,
        "--config", str(properties), "--ignore-formatted",
    ]  # fmt: skip
    for name, password in scram_users.items():
        cmd += ["--add-scram", f'SCRAM-SHA-512=[name={name},password="{password}"]']
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, cwd=cwd)
    if done.returncode != 0:
        raise BrokerError(
            f"formatting KRaft storage in {cwd} failed:\n"
            f"{(done.stdout + done.stderr).strip()[-2000:]}",
            hint="delete the data dir if it holds a broken or foreign broker",
        )


def signal_child(
    proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float, *, node_id: int
) -> int | None:
    """Signal a JVM this process spawned; SIGKILL it after ``timeout``. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _log.warning("broker.sigterm_ignored", node=node_id)
            proc.kill()
            proc.wait(10)
    return proc.returncode


def signal_pid(pid: int, marker: str, sig: signal.Signals, timeout: float) -> None:
    """Signal a JVM another process spawned (found by its pid and command-line marker)."""
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while pid_alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid, marker):
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid, marker):
            time.sleep(0.1)
