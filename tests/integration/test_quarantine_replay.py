"""A way back from quarantine, over a real broker and the real ``accord`` command.

A sender rotates its key before anyone trusts the new certificate: its messages
are quarantined as ``unknown-key``. Once the certificate is on the trust topic,
``accord quarantine replay`` lands them, once, however often it is run, and says
per record what is still refused and why.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from _exchange import drop_namespace, fresh_plan, label_for, report, until
from click.testing import CliRunner

from accord.areas import Area
from accord.broker import LocalBroker
from accord.cli.main import _register, cli
from accord.exchange import LocalExchange
from accord.kafka import new_producer
from accord.parties import Scope
from accord.plan import dump_plan
from accord.receiver.inbox import read_message_ids
from accord.trust.feed import publish_trust

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM

_register()


def _env(ex: LocalExchange, plan_file: Path) -> dict[str, str]:
    return {
        "ACCORD_BOOTSTRAP_SERVERS": ex.connection.bootstrap_servers,
        "ACCORD_PLAN": str(plan_file),
        "ACCORD_PKI_DIR": str(ex.pki.bundle_path.parent),
        "ACCORD_DATA_DIR": str(ex.inbox_path("JPN.NPA").parent),
    }


async def accord(ex: LocalExchange, plan_file: Path, *args: str) -> tuple[int, str, str]:
    """The command line, in a thread (it runs its own event loop)."""
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["--log-level", "WARNING", *args], env=_env(ex, plan_file)
    )
    return result.exit_code, result.stdout, result.stderr


async def accord_process(ex: LocalExchange, plan_file: Path, *args: str) -> tuple[int, str, str]:
    """The real ``accord`` command, in a process of its own."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accord",
        "--log-level",
        "WARNING",
        *args,
        env={**os.environ, **_env(ex, plan_file)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_unknown_key_messages_land_once_after_the_certificate_is_trusted(
    kafka: LocalBroker,
    tmp_path: Path,
) -> None:
    # A PKI of the test's own: it rotates a key.
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    plan_file = dump_plan(ex.plan, tmp_path / "plan.yaml")
    try:
        receiver = await ex.start_receiver("JPN.NPA")
        ex.pki.directory.issue("AUS.AFP", rotate=True)  # signs at once with the new key
        pub = await ex.publisher("AUS.AFP")
        ids = [
            (
                await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
            ).message_id
            for i in range(2)
        ]
        producer = new_producer(ex.connection)
        await producer.start()
        try:  # and one record no trust can fix
            await producer.send_and_wait(ex.plan.exchange_topic(BI, CT), b"\xff{not json")
        finally:
            await producer.stop()
        assert await until(lambda: sum(receiver.stats.rejected.values()) >= 3)
        await ex.quiesce(idle_s=1.0)  # and nothing more comes
        assert receiver.stats.rejected == {"unknown-key": 2, "malformed": 1}
        assert receiver.inbox.count() == 0

        code, out, err = await accord(ex, plan_file, "quarantine", "list", "--agency", "JPN.NPA")
        assert code == 0, err
        lines = out.splitlines()
        # The unkeyed record may sit on another partition and be fetched first: the
        # list's order across partitions is the fetch order, so compare as a multiset.
        assert sorted(line.split()[1] for line in lines) == [
            "malformed",
            "unknown-key",
            "unknown-key",
        ]
        first_ref = next(line for line in lines if line.split()[1] == "unknown-key").split()[0]

        # Not yet trusted: replay lands nothing and says why, one line and a hint each.
        code, out, err = await accord(
            ex, plan_file, "quarantine", "replay", "--agency", "JPN.NPA", "--reason", "unknown-key"
        )
        assert code == 1
        assert err.count("error [unknown-key]: ") == 2
        assert err.count("hint: ") == 2
        assert "landed 0" in out
        assert read_message_ids(ex.inbox_path("JPN.NPA")) == []

        # The sender's country publishes the new certificate on the trust topic.
        await publish_trust(
            ex.connection, ex.plan.trust_topic, ex.pki.directory.trust_store().to_bundle()
        )
        code, out, _ = await accord(
            ex, plan_file, "quarantine", "show", "--agency", "JPN.NPA", first_ref
        )
        assert code == 0
        assert "now: passes verification" in out

        code, out, _ = await accord(
            ex, plan_file, "quarantine", "replay", "--agency", "JPN.NPA", first_ref
        )
        assert code == 0
        assert "landed 1, already landed 0, still refused 0" in out

        code, out, err = await accord_process(
            ex, plan_file, "quarantine", "replay", "--agency", "JPN.NPA"
        )
        assert code == 1  # the malformed record is still refused, and said so
        assert "landed 1, already landed 1, still refused 1" in out
        assert err.startswith("error [malformed]: ")
        assert "Traceback" not in err

        code, out, _ = await accord(
            ex, plan_file, "quarantine", "replay", "--agency", "JPN.NPA", "--reason", "unknown-key"
        )
        assert code == 0
        assert "landed 0, already landed 2, still refused 0" in out
        assert sorted(read_message_ids(ex.inbox_path("JPN.NPA"))) == sorted(ids)

        code, _, err = await accord(
            ex, plan_file, "quarantine", "show", "--agency", "JPN.NPA", "0:999"
        )
        assert code == 2
        assert err.splitlines()[0] == "error [quarantine-not-found]: no quarantined record at 0:999"
    finally:
        await ex.stop()
        drop_namespace(kafka.connection(), ex.plan.namespace)
