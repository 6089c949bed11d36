"""docker-compose.yml runs the same broker as the Docker-free launcher.

No Docker engine is needed: the file is parsed and compared with what
accord.broker renders for a single plain node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from accord.broker import KAFKA_VERSION
from accord.broker.config import (
    FAST_START,
    JVM_OPTIONS,
    NodePorts,
    NodeSettings,
    render_properties,
    replication_settings,
)

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _property(env_name: str) -> str:
    """The apache/kafka image's env convention, reversed: KAFKA_A_B__C___D -> a.b_c-d."""
    body = env_name.removeprefix("KAFKA_").lower()
    return (
        body.replace("___", "\0")
        .replace("__", "\1")
        .replace("_", ".")
        .replace("\0", "-")
        .replace("\1", "_")
    )


@pytest.fixture(scope="module")
def kafka_service() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services["kafka"]


@pytest.fixture(scope="module")
def compose_props(kafka_service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = kafka_service["environment"]
    return {
        _property(k): str(v)
        for k, v in env.items()
        if k.startswith("KAFKA_") and k != "KAFKA_HEAP_OPTS"
    }


@pytest.fixture(scope="module")
def launcher_props() -> dict[str, str]:
    return render_properties(
        NodeSettings(
            node_id=1,
            host="localhost",
            mode="plain",
            ports=NodePorts(client=9092, controller=9093),
            log_dir=Path("/var/lib/kafka/data"),
            voters=[(1, 9093)],
        )
    )


def test_env_name_convention() -> None:
    assert _property("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") == "listener.security.protocol.map"
    assert _property("KAFKA_A__B___C") == "a_b-c"


def test_same_kafka_version(kafka_service: dict[str, Any]) -> None:
    assert kafka_service["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_same_roles_and_identity(
    compose_props: dict[str, str], launcher_props: dict[str, str]
) -> None:
    for key in (
        "process.roles",
        "node.id",
        "controller.quorum.voters",
        "controller.listener.names",
        "inter.broker.listener.name",
        "log.dirs",
    ):
        assert compose_props[key] == launcher_props[key], key
    assert compose_props["process.roles"] == "broker,controller"


def test_same_tuning_and_replication(
    compose_props: dict[str, str], launcher_props: dict[str, str]
) -> None:
    for key in [*FAST_START, *replication_settings(1)]:
        assert compose_props.get(key) == launcher_props[key], key


def test_no_setting_the_launcher_does_not_know(
    compose_props: dict[str, str], launcher_props: dict[str, str]
) -> None:
    assert set(compose_props) <= set(launcher_props)


def test_listeners_match_the_launcher(
    compose_props: dict[str, str], launcher_props: dict[str, str]
) -> None:
    """Same names and protocols; compose adds DOCKER, a PLAINTEXT twin of CLIENT for
    containers on the compose network, and binds 0.0.0.0 inside its container."""
    launcher_map = dict(
        p.split(":") for p in launcher_props["listener.security.protocol.map"].split(",")
    )
    compose_map = dict(
        p.split(":") for p in compose_props["listener.security.protocol.map"].split(",")
    )
    assert compose_map == {**launcher_map, "DOCKER": launcher_map["CLIENT"]}
    assert "CLIENT://localhost:9092" in compose_props["advertised.listeners"].split(",")
    assert compose_props["advertised.listeners"].startswith(launcher_props["advertised.listeners"])
    assert "CONTROLLER://localhost:9093" in compose_props["listeners"].split(",")


def test_same_heap(kafka_service: dict[str, Any]) -> None:
    heap = kafka_service["environment"]["KAFKA_HEAP_OPTS"].split()
    assert heap == [o for o in JVM_OPTIONS if o.startswith(("-Xms", "-Xmx"))]
