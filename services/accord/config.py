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
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"Kafka connection setting {where!r} is invalid: {first['msg']}",
            hint="check the ACCORD_* environment variables or the command-line options",
        ) from None
