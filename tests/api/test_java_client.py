"""The Java example client (examples/clients/java) against real nodes on a real broker.

Built with Maven, run with ``java -jar``: it publishes through AUS.DFAT's API and
reads JPN.MOFA's inbox until the message has landed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from accord.testing import NodeProcess

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "clients" / "java"


@pytest.fixture(scope="session")
def client_jar() -> Path:
    subprocess.run(["mvn", "-q", "-B", "package"], cwd=CLIENT, check=True, timeout=600)
    return CLIENT / "target" / "accord-client.jar"


def run_client(jar: Path, node: NodeProcess, *args: str) -> str:
    result = subprocess.run(
        ["java", "-jar", str(jar), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"ACCORD_URL": node.url, "ACCORD_TOKEN": node.token, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_java_client_publishes_and_reads_an_inbox(
    client_jar: Path, dfat: NodeProcess, mofa: NodeProcess
) -> None:
    message_id = run_client(client_jar, dfat, "publish")
    assert re.fullmatch(r"[0-9a-f-]{36}", message_id)

    landed = json.loads(run_client(client_jar, mofa, "inbox", message_id))
    assert landed["message_id"] == message_id
    assert landed["sender"] == "AUS.DFAT"
    assert landed["body"]["title"] == "Report from the Java client"


def test_the_java_client_reports_a_refused_token(client_jar: Path, dfat: NodeProcess) -> None:
    stranger = NodeProcess(
        dfat.agency, dfat.url, "acc_wrong", dfat.data_dir, dfat.log_path, dfat.process
    )
    result = subprocess.run(
        ["java", "-jar", str(client_jar), "publish"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"ACCORD_URL": stranger.url, "ACCORD_TOKEN": stranger.token, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: 401")
    assert '"code":"unauthorized"' in result.stderr
