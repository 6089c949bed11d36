"""docker-compose.yml runs the same broker as the Docker-free launcher, and one node
per agency, each as its own principal.

No Docker engine is needed: the file is parsed and compared with what
accord.broker renders for a single scram-mode node and with deploy/plan.yaml.
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
    BrokerNodeSettings,
    NodePorts,
    render_properties,
    replication_settings,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


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
def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return loaded


@pytest.fixture(scope="module")
def kafka_service(services: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = services["kafka"]
    return service


@pytest.fixture(scope="module")
def compose_props(kafka_service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = kafka_service["environment"]
    return {
        _property(k): str(v)
        for k, v in env.items()
        # KAFKA_OPTS is JVM options, not a property (the image's SASL check wants it set).
        if k.startswith("KAFKA_") and k not in ("KAFKA_HEAP_OPTS", "KAFKA_OPTS")
    }


@pytest.fixture(scope="module")
def launcher_props() -> dict[str, str]:
    return render_properties(
        BrokerNodeSettings(
            node_id=1,
            host="localhost",
            mode="scram",
            ports=NodePorts(client=9092, controller=9093, internal=9094),
            log_dir=Path("/var/lib/kafka/data"),
            voters=[(1, 9093)],
            broker_password="compose-sets-its-own",
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
    # DOCKER is CLIENT's twin, so its listener-scoped settings are CLIENT's.
    as_launcher = {
        k.replace("listener.name.docker.", "listener.name.client.") for k in compose_props
    }
    assert as_launcher <= set(launcher_props)


def test_same_authentication_and_authorizer(
    compose_props: dict[str, str], launcher_props: dict[str, str]
) -> None:
    """Authenticated by default: SCRAM for clients, PLAIN for the broker, no ACL = no access."""
    for key in (
        "authorizer.class.name",
        "allow.everyone.if.no.acl.found",
        "super.users",
        "sasl.mechanism.inter.broker.protocol",
        "sasl.mechanism.controller.protocol",
        "listener.name.client.sasl.enabled.mechanisms",
        "listener.name.client.scram-sha-512.sasl.jaas.config",
        "listener.name.internal.sasl.enabled.mechanisms",
        "listener.name.controller.sasl.enabled.mechanisms",
    ):
        assert compose_props[key] == launcher_props[key], key
    for name in ("internal", "controller"):
        jaas = compose_props[f"listener.name.{name}.plain.sasl.jaas.config"]
        assert 'username="broker"' in jaas
        assert "user_broker=" in jaas
    assert compose_props["listener.name.docker.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"


def test_scram_admin_is_added_at_format_time(kafka_service: dict[str, Any]) -> None:
    script_mount = next(v for v in kafka_service["volumes"] if "scram-entrypoint.sh" in v)
    script = ROOT / script_mount.split(":")[0]
    assert script_mount.split(":")[1] in kafka_service["entrypoint"]
    text = script.read_text()
    assert "--add-scram" in text
    assert "exec /etc/kafka/docker/run" in text  # the image's own entrypoint, unchanged
    assert "ACCORD_KAFKA_ADMIN_PASSWORD" in kafka_service["environment"]


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


# ------------------------------------------------------------ accord services ----


def _plan() -> Any:
    from accord.plan import load_plan

    return load_plan(ROOT / "deploy" / "plan.yaml")


def _secrets_example() -> dict[str, str]:
    loaded: dict[str, str] = yaml.safe_load((ROOT / "deploy" / "secrets.example.yaml").read_text())
    return loaded


def _default(value: str) -> tuple[str, str]:
    """``${VAR:-default}`` -> (VAR, default)."""
    assert value.startswith("${"), value
    assert value.endswith("}"), value
    var, _, default = value[2:-1].partition(":-")
    return var, default


def _nodes(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Agency -> its node service (a service running ``receive --agency X``)."""
    out: dict[str, dict[str, Any]] = {}
    for svc in services.values():
        cmd = svc.get("command") or []
        if isinstance(cmd, list) and cmd[:1] == ["receive"]:
            agency = cmd[cmd.index("--agency") + 1]
            assert agency not in out, f"two nodes for {agency}"
            out[agency] = svc
    return out


def test_every_agency_has_a_node_with_its_own_principal(services: dict[str, Any]) -> None:
    from accord.plan.reconcile import secret_env_name

    plan, secrets = _plan(), _secrets_example()
    nodes = _nodes(services)
    assert set(nodes) == set(plan.agencies)
    users = [n["environment"]["ACCORD_KAFKA_USERNAME"] for n in nodes.values()]
    assert len(set(users)) == len(users)
    data_dirs = {n["environment"]["ACCORD_DATA_DIR"] for n in nodes.values()}
    assert len(data_dirs) == len(nodes)
    for agency, node in nodes.items():
        env = node["environment"]
        assert env["ACCORD_KAFKA_USERNAME"] == agency
        assert env["ACCORD_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["ACCORD_BOOTSTRAP_SERVERS"] == "kafka:19092"
        # The same variable the plan job reads, so node and principal agree.
        var, default = _default(env["ACCORD_KAFKA_PASSWORD"])
        assert var == secret_env_name(agency)
        assert default == secrets[agency]
        assert env["ACCORD_PLAN"] == "/app/deploy/plan.yaml"
        assert {"ACCORD_PKI_DIR", "ACCORD_METRICS_PORT"} <= set(env)
        assert node["depends_on"]["plan"]["condition"] == "service_completed_successfully"
        assert node["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_plan_job_sets_every_principal_as_admin(services: dict[str, Any]) -> None:
    from accord.plan.reconcile import secret_env_name

    plan, secrets = _plan(), _secrets_example()
    job = services["plan"]
    assert job["command"] == ["plan", "apply"]
    env = job["environment"]
    assert env["ACCORD_KAFKA_USERNAME"] == "admin"
    assert env["ACCORD_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    for principal in [*plan.agencies, plan.monitor.principal]:
        var = secret_env_name(principal)
        assert _default(env[var]) == (var, secrets[principal]), principal


def test_monitor_and_pki_jobs(services: dict[str, Any]) -> None:
    plan = _plan()
    monitor = services["monitor"]
    assert "accord --log-json monitor --metrics-port 9100" in " ".join(monitor["command"])
    assert monitor["environment"]["ACCORD_KAFKA_USERNAME"] == plan.monitor.principal
    pki = " ".join(services["pki"]["command"])
    for agency in plan.agencies:
        assert f"accord pki issue --agency {agency} " in pki
        # the deployed plan requires encryption: no node starts without its key
        assert f"accord keys issue --agency {agency} " in pki
    assert "accord pki bundle" in pki
    assert "accord keys bundle" in pki


def test_accord_image(services: dict[str, Any]) -> None:
    dockerfile = ROOT / "deploy" / "Dockerfile"
    assert services["plan"]["build"]["dockerfile"] == "deploy/Dockerfile"
    text = dockerfile.read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install ." in text


# ------------------------------------------------------------- monitoring ----


def _service_of_target(target: str) -> str:
    return target.rsplit(":", 1)[0]


def test_nodes_serve_metrics_to_the_network_and_check_liveness(
    services: dict[str, Any],
) -> None:
    for agency, node in _nodes(services).items():
        env = node["environment"]
        assert env["ACCORD_METRICS_HOST"] == "0.0.0.0", agency
        probe = " ".join(node["healthcheck"]["test"])
        # liveness: a node waiting for the broker is not ready, but must not be restarted
        assert f"127.0.0.1:{env['ACCORD_METRICS_PORT']}/healthz" in probe, agency
        assert "ports" not in node, f"{agency}'s metrics must not be published to the host"


def test_prometheus_scrapes_every_node_and_the_monitor(services: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {
        j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]]
        for j in config["scrape_configs"]
    }
    node_services = {
        name for name, svc in services.items() if (svc.get("command") or [])[:1] == ["receive"]
    }
    assert {_service_of_target(t) for t in jobs["accord-nodes"]} == node_services
    assert jobs["accord-monitor"] == ["monitor:9100"]
    assert "--metrics-host 0.0.0.0" in " ".join(services["monitor"]["command"])
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(
    services: dict[str, Any],
) -> None:
    grafana = services["grafana"]
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    mounts = grafana["volumes"]
    assert "./deploy/grafana/accord.json:/var/lib/grafana/dashboards/accord.json:ro" in mounts
    prov = ROOT / "deploy" / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    assert ds["datasources"][0]["uid"] == "accord-prometheus"
    dashboards = yaml.safe_load((prov / "dashboards" / "accord.yml").read_text())
    assert dashboards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
