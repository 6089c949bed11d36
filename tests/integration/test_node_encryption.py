"""Encryption in the running node (issue 14): `accord receive` and `accord publish` as
processes, on a plan with ``encryption: required``, load the agencies' encryption
keys from the PKI directory. The inbox holds the decrypted body; no record on the
broker holds the plaintext."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _exchange import read_topic

from accord.areas import Area
from accord.confidentiality.files import EncryptionKeyFiles
from accord.envelope.jws import Sealed
from accord.envelope.v2 import verify_sealed
from accord.exchange import LocalExchange
from accord.node import Node
from accord.parties import Scope
from accord.plan import Plan, dump_plan
from accord.receiver.inbox import Inbox, read_message_ids

pytestmark = pytest.mark.kafka

SECRET = "Plaintext-canary-51c0: only JPN.MOFA and AUS.DFAT may read this sentence."
EXAMPLE = Path(__file__).parents[2] / "examples" / "assessment.yaml"


def _required(plan: Plan) -> Plan:
    scopes = {s: sp.model_copy(update={"encryption": "required"}) for s, sp in plan.scopes.items()}
    return plan.model_copy(update={"scopes": scopes})


def _env(ex: LocalExchange, plan_file: Path, pki_dir: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ACCORD_BOOTSTRAP_SERVERS": ex.connection.bootstrap_servers,
        "ACCORD_PLAN": str(plan_file),
        "ACCORD_PKI_DIR": str(pki_dir),
        "ACCORD_DATA_DIR": str(data_dir),
    }


async def _wait_for_inbox(inbox: Path, node: subprocess.Popen[bytes], log: Path) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while loop.time() < deadline and node.poll() is None:
        ids = read_message_ids(inbox)
        if ids:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing reached the inbox; node log:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _start_receiver(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "accord", "--log-json", "receive", "--agency", "AUS.DFAT"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _publish(env: dict[str, str], message: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "accord", "publish", "--agency", "JPN.MOFA", str(message)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


async def test_accord_receive_decrypts_what_accord_publish_encrypted(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    # The session PKI is shared by every test: encryption keys go into a copy.
    pki_dir = tmp_path / "pki"
    shutil.copytree(exchange.pki.bundle_path.parent, pki_dir)
    files = EncryptionKeyFiles(pki_dir)
    for agency in sorted(exchange.plan.agencies):
        files.issue(agency)
    plan = _required(exchange.plan)
    plan_file = dump_plan(plan, tmp_path / "plan.yaml")
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["body"]["summary"] = SECRET
    message = tmp_path / "message.yaml"
    message.write_text(yaml.safe_dump(doc))

    log = tmp_path / "receiver.log"
    data_dir = tmp_path / "aus.dfat"
    node = _start_receiver(_env(exchange, plan_file, pki_dir, data_dir), log)
    try:
        sent = await asyncio.to_thread(
            _publish, _env(exchange, plan_file, pki_dir, tmp_path / "jpn.mofa"), message
        )
        assert sent.returncode == 0, sent.stderr.decode()[-2000:]
        ids = await _wait_for_inbox(data_dir / "inbox.sqlite", node, log)
    finally:
        node.terminate()
        node.wait(timeout=30)
    assert node.returncode == 0

    inbox = Inbox(data_dir / "inbox.sqlite")
    try:
        stored = inbox.get(ids[0])
    finally:
        inbox.close()
    assert stored is not None
    assert stored.body["summary"] == SECRET

    topic = plan.exchange_topic(Scope.BILATERAL, Area(stored.area))
    records = await read_topic(exchange.connection, topic, expect=1)
    announcements = await read_topic(exchange.connection, plan.trust_topic, expect=1)
    assert [r.value for r in records]
    assert all(SECRET.encode() not in (r.value or b"") for r in records + announcements)
    # Any node verifies origin without a key: the record is a signed v2 envelope.
    assert all(
        isinstance(verify_sealed(r.value or b"", exchange.trust, topic=topic), Sealed)
        for r in records
    )


def _accord(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


async def test_accord_keys_publish_puts_the_statements_on_the_agencys_key_topic(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    pki_dir = tmp_path / "pki"
    shutil.copytree(exchange.pki.bundle_path.parent, pki_dir)
    files = EncryptionKeyFiles(pki_dir)
    first = files.issue("JPN.NPA")
    files.revoke("JPN.NPA", first)
    second = files.issue("JPN.NPA", rotate=True)
    plan_file = dump_plan(exchange.plan, tmp_path / "plan.yaml")
    env = _env(exchange, plan_file, pki_dir, tmp_path / "data")
    args = ("keys", "publish", "--dir", str(pki_dir))
    done = await asyncio.to_thread(_accord, env, *args, "--agency", "JPN.NPA")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    topic = exchange.plan.keys_topic("JPN.NPA")
    assert done.stdout.decode().strip() == f"published 3 key statements to {topic}"
    records = await read_topic(exchange.connection, topic, expect=3)
    assert sorted(r.key or b"" for r in records) == sorted(
        [f"enc:JPN.NPA:{first}".encode()] * 2 + [f"enc:JPN.NPA:{second}".encode()]
    )
    # Revocations go last, after the statement they revoke, so compaction keeps them.
    assert records[-1].key == f"enc:JPN.NPA:{first}".encode()

    refused = await asyncio.to_thread(_accord, env, *args, "--agency", "AUS.AFP")
    assert refused.returncode == 2
    lines = refused.stderr.decode().strip().splitlines()
    assert lines[0].startswith("error [")
    assert "AUS.AFP has no encryption key" in lines[0]
    assert "Traceback" not in refused.stderr.decode()


async def test_accord_node_in_a_program_encrypts_and_decrypts(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    pki_dir = tmp_path / "pki"
    shutil.copytree(exchange.pki.bundle_path.parent, pki_dir)
    files = EncryptionKeyFiles(pki_dir)
    for agency in sorted(exchange.plan.agencies):
        files.issue(agency)
    plan_file = dump_plan(_required(exchange.plan), tmp_path / "plan.yaml")
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["body"]["summary"] = SECRET
    common = {"env": {}, "plan_path": plan_file, "pki_dir": pki_dir, "kafka": exchange.connection}
    async with (
        Node.open("AUS.DFAT", data_dir=tmp_path / "dfat", **common) as dfat,
        Node.open("JPN.MOFA", data_dir=tmp_path / "mofa", receive=False, **common) as mofa,
    ):
        sent = await mofa.publish_document(doc)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        stored = None
        while stored is None and loop.time() < deadline:
            stored = dfat.inbox.get(sent.message_id)
            await asyncio.sleep(0.1)
    assert stored is not None
    assert stored.body["summary"] == SECRET
