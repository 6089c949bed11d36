"""The one config loader.

Settings come from, in order of precedence: explicit arguments, environment
variables (``ACCORD_*``), then defaults. Secrets are ``SecretStr`` so that they
never print.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from accord.errors import ConfigError

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]


class KafkaConnection(BaseModel):
    """How a node reaches the brokers, and as whom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    client_id: str = "accord"
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")


_ENV_FIELDS = {
    "ACCORD_BOOTSTRAP_SERVERS": "bootstrap_servers",
    "ACCORD_SECURITY_PROTOCOL": "security_protocol",
    "ACCORD_KAFKA_USERNAME": "username",
    "ACCORD_KAFKA_PASSWORD": "password",
    "ACCORD_SSL_CAFILE": "ssl_cafile",
    "ACCORD_SSL_CERTFILE": "ssl_certfile",
    "ACCORD_SSL_KEYFILE": "ssl_keyfile",
}


def load_connection(
    env: Mapping[str, str] | None = None, **overrides: object
) -> KafkaConnection:
    """Build a connection from ``ACCORD_*`` variables, then explicit overrides."""
    source = os.environ if env is None else env
    values: dict[str, object] = {
        field: source[var] for var, field in _ENV_FIELDS.items() if source.get(var)
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return KafkaConnection.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, "Kafka connection setting") from None


def _invalid(exc: ValidationError, what: str) -> ConfigError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ConfigError(
        f"{what} {where!r} is invalid: {first['msg']}",
        hint="check the command-line options and the ACCORD_* environment variables",
    )


class NodeSettings(BaseModel):
    """Everything one agency node needs: who it is, its plan, its PKI, where it keeps state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: str
    plan_path: Path
    pki_dir: Path
    data_dir: Path
    key_passphrase: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # Loopback unless asked: in a container, 0.0.0.0 so Prometheus can scrape.
    metrics_host: str = "127.0.0.1"
    kafka: KafkaConnection

    @property
    def inbox_path(self) -> Path:
        return self.data_dir / "inbox.sqlite"

    @property
    def publisher_state_path(self) -> Path:
        return self.data_dir / "publisher.sqlite"


def default_pki_dir(env: Mapping[str, str] | None = None) -> Path:
    source = os.environ if env is None else env
    return Path(source.get("ACCORD_PKI_DIR") or Path("var") / "pki")


def default_data_dir(agency: str) -> Path:
    return Path("var") / "nodes" / agency.lower()


def load_node_settings(
    agency: str,
    *,
    env: Mapping[str, str] | None = None,
    plan_path: Path | None = None,
    pki_dir: Path | None = None,
    data_dir: Path | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
    kafka: KafkaConnection | None = None,
) -> NodeSettings:
    """Node settings from explicit values, then ``ACCORD_PLAN``, ``ACCORD_PKI_DIR``,
    ``ACCORD_DATA_DIR``, ``ACCORD_METRICS_PORT``, ``ACCORD_METRICS_HOST``,
    ``ACCORD_KEY_PASSPHRASE``."""
    from accord.plan import DEFAULT_PLAN_PATH  # the plan owns where its default lives

    source = os.environ if env is None else env
    values: dict[str, object] = {
        "agency": agency,
        "plan_path": plan_path or source.get("ACCORD_PLAN") or DEFAULT_PLAN_PATH,
        "pki_dir": pki_dir or default_pki_dir(source),
        "data_dir": data_dir or source.get("ACCORD_DATA_DIR") or default_data_dir(agency),
        "metrics_port": metrics_port
        if metrics_port is not None
        else source.get("ACCORD_METRICS_PORT") or None,
        "metrics_host": metrics_host or source.get("ACCORD_METRICS_HOST") or "127.0.0.1",
        "key_passphrase": source.get("ACCORD_KEY_PASSPHRASE") or None,
        "kafka": kafka or load_connection(source, client_id=f"accord-{agency}"),
    }
    try:
        return NodeSettings.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, "node setting") from None
