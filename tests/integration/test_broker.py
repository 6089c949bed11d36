"""The launcher itself: start, clean stop, restart with data kept, crash, CLI."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.broker import KAFKA_VERSION, LocalBroker
from accord.broker.local import open_local
from accord.cli.broker import broker_group
from accord.errors import BrokerError
from accord.kafka import new_consumer, new_producer

pytestmark = pytest.mark.kafka


def _gone(pid: int) -> bool:
    """No such process, or only a zombie (a detached JVM spawned by this very test
    process has no one to reap it until the Popen object is collected)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def _produce(broker: LocalBroker, topic: str, value: bytes) -> None:
    producer = new_producer(broker.connection())
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _values(broker: LocalBroker, topic: str, want: int) -> list[bytes]:
    consumer = new_consumer(broker.connection(), topic, group_id=None)
    await consumer.start()
    got: list[bytes] = []
    try:
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            got += [r.value for recs in batch.values() for r in recs if r.value is not None]
            if len(got) >= want:
                break
    finally:
        await consumer.stop()
    return got


async def test_start_stop_restart_keeps_address_and_data(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "b")
    try:
        await asyncio.to_thread(broker.start)
        pid = broker.pid
        assert pid is not None
        assert broker.is_running
        assert broker.serves_metadata()
        address = broker.bootstrap_servers
        state = json.loads((tmp_path / "b" / "state.json").read_text())
        assert state["pid"] == pid
        assert state["kafka_version"] == KAFKA_VERSION
        assert (tmp_path / "b" / "logs" / "server.log").stat().st_size > 0
        await _produce(broker, "durable", b"before-restart")

        # Clean stop: the JVM exits on SIGTERM via its shutdown hook (128+15).
        code = await asyncio.to_thread(broker.stop)
        assert code in (0, 143)
        assert _gone(pid)
        assert not broker.is_running
        assert broker.pid is None
        assert json.loads((tmp_path / "b" / "state.json").read_text())["pid"] is None
        assert "[BrokerServer id=1] shut down completed" in broker.log_path.read_text()

        await asyncio.to_thread(broker.start)
        assert broker.bootstrap_servers == address
        await _produce(broker, "durable", b"after-restart")
        assert await _values(broker, "durable", 2) == [b"before-restart", b"after-restart"]

        # A crash (SIGKILL) and a start again: the data survives that too.
        crashed = broker.pid
        assert crashed is not None
        broker.kill()
        assert _gone(crashed)
        await asyncio.to_thread(broker.restart)
        assert await _values(broker, "durable", 2) == [b"before-restart", b"after-restart"]
    finally:
        broker.stop()
    assert not broker.is_running


def test_plain_and_scram_brokers_run_side_by_side(
    kafka: LocalBroker, secure_kafka: LocalBroker
) -> None:
    assert kafka.is_running
    assert secure_kafka.is_running
    assert kafka.bootstrap_servers != secure_kafka.bootstrap_servers
    assert kafka.data_dir != secure_kafka.data_dir
    assert kafka.connection().security_protocol == "PLAINTEXT"
    assert secure_kafka.connection().security_protocol == "SASL_PLAINTEXT"
    assert kafka.serves_metadata()
    assert secure_kafka.serves_metadata()


def test_scram_broker_has_no_anonymous_super_user(secure_kafka: LocalBroker) -> None:
    props = secure_kafka.properties_path.read_text()
    assert "super.users=User:admin;User:broker\n" in props
    assert "ANONYMOUS" not in props
    assert "allow.everyone.if.no.acl.found=false" in props
    assert "PLAINTEXT://" not in props
    assert ":PLAINTEXT" not in props
    assert oct(secure_kafka.properties_path.stat().st_mode & 0o777) == "0o600"


def test_a_data_dir_keeps_its_mode(kafka: LocalBroker) -> None:
    with pytest.raises(BrokerError, match="holds a 'plain' broker"):
        LocalBroker(kafka.data_dir, mode="scram")


def test_cli_start_status_stop(tmp_path: Path) -> None:
    data = tmp_path / "cli"
    runner = CliRunner()
    try:
        started = runner.invoke(
            broker_group, ["start", "--data-dir", str(data), "--mode", "scram", "--timing"]
        )
        assert started.exit_code == 0, started.output
        assert "ready_seconds:" in started.output
        state = json.loads((data / "state.json").read_text())
        assert state["mode"] == "scram"
        assert state["pid"]

        status = runner.invoke(broker_group, ["status", "--data-dir", str(data)])
        assert status.exit_code == 0, status.output
        assert f"127.0.0.1:{state['client_port']}" in status.output
        assert "serving:   yes" in status.output
        assert str(state["pid"]) in status.output

        stopped = runner.invoke(broker_group, ["stop", "--data-dir", str(data)])
        assert stopped.exit_code == 0, stopped.output
        assert _gone(state["pid"])

        after = runner.invoke(broker_group, ["status", "--data-dir", str(data)])
        assert after.exit_code == 1
        assert "serving:   no" in after.output
    finally:
        if (data / "state.json").exists():
            open_local(data).stop()


def test_cli_errors_are_broker_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(broker_group, ["stop", "--data-dir", str(tmp_path / "none")])
    assert isinstance(result.exception, BrokerError)
    assert "no broker state" in str(result.exception)


def test_detached_broker_is_not_reaped_with_its_starter(tmp_path: Path) -> None:
    """A broker started by one process is found and stopped by another (the CLI case)."""
    first = LocalBroker(tmp_path / "d", detach=True)
    first.start()
    pid = first.pid
    assert pid is not None
    try:
        second = open_local(tmp_path / "d")
        assert isinstance(second, LocalBroker)
        assert second.pid == pid
        assert second.bootstrap_servers == first.bootstrap_servers
        assert second.stop() is None  # not our child: no exit code to report
        assert _gone(pid)
    finally:
        if not _gone(pid):
            os.kill(pid, 9)
