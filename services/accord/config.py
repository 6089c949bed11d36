"""The one config loader.

Settings come from, in order of precedence: explicit arguments, environment
variables (``ACCORD_*``), then defaults. Secrets are ``SecretStr`` so that they
never print. Every setting is resolved here, when asked for, never at import
time: the plan path, the Kafka connection (and its security protocol, inferred
from the credentials given), a node's directories and file names, receiver
tuning, pinned trust roots and the SCRAM secrets ``accord plan apply`` sets.

Variables: ``ACCORD_PLAN``, ``ACCORD_PKI_DIR``, ``ACCORD_DATA_DIR``,
``ACCORD_METRICS_PORT``, ``ACCORD_KEY_PASSPHRASE``, ``ACCORD_TRUSTED_ROOTS``,
``ACCORD_BATCH_MAX``, ``ACCORD_STALL_TIMEOUT_S``, ``ACCORD_FETCH_WAIT_MS``, the
connection's (see ``_ENV_FIELDS``) and ``ACCORD_SECRET_<PRINCIPAL>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from accord.errors import ConfigError, PlanError

BUNDLE_FILE = "bundle.pem"
"""The trust bundle, in a PKI directory (its pinned roots beside it: ``roots.sha256``)."""

INBOX_FILE = "inbox.sqlite"
"""A node's inbox database, in its data directory."""

PUBLISHER_STATE_FILE = "publisher.sqlite"
"""A node's publisher state (sequences, sent log), in its data directory."""

REPO_PLAN_PATH = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"
"""The checkout's plan: used when neither ``--plan`` nor ``ACCORD_PLAN`` says otherwise."""


def resolve_plan_path(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The plan file: ``path``, else ``$ACCORD_PLAN``, else the checkout's deploy/plan.yaml."""
    if path is not None:
        return Path(path)
    source = os.environ if env is None else env
    return Path(source.get("ACCORD_PLAN") or REPO_PLAN_PATH)


def inbox_path(data_dir: Path) -> Path:
    return Path(data_dir) / INBOX_FILE


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


def load_connection(env: Mapping[str, str] | None = None, **overrides: object) -> KafkaConnection:
    """Build a connection from ``ACCORD_*`` variables, then explicit overrides."""
    values = _layered(os.environ if env is None else env, _ENV_FIELDS, overrides)
    if "security_protocol" not in values:
        values["security_protocol"] = infer_protocol(values)
    try:
        return KafkaConnection.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, "Kafka connection setting") from None


def _layered(
    source: Mapping[str, str], env_fields: Mapping[str, str], overrides: Mapping[str, object]
) -> dict[str, object]:
    """Field values: the set environment variables, then the explicit overrides."""
    values: dict[str, object] = {f: source[v] for v, f in env_fields.items() if source.get(v)}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values


def infer_protocol(values: Mapping[str, object]) -> SecurityProtocol:
    """The security protocol the credentials imply, when none is set.

    A user name means SASL (SCRAM); a CA file means TLS; both, SASL over TLS.
    Without this a node given a password would connect in PLAINTEXT and fail with
    a confusing error (or, worse, talk in the clear to a listener that allows it).
    """
    sasl = bool(values.get("username"))
    tls = bool(values.get("ssl_cafile") or values.get("ssl_certfile"))
    if sasl:
        return "SASL_SSL" if tls else "SASL_PLAINTEXT"
    return "SSL" if tls else "PLAINTEXT"


def _invalid(exc: ValidationError, what: str) -> ConfigError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ConfigError(
        f"{what} {where!r} is invalid: {first['msg']}",
        hint="check the command-line options and the ACCORD_* environment variables",
    )


MAX_RECORD_BYTES = 1_048_576
"""The envelope size limit of the spec (rule ENV-01); ``accord.envelope.MAX_BYTES``."""


FETCH_WAIT_MS = 0
"""The receivers' default ``fetch_wait_ms`` (and ``accord bench``'s): no wait to fill a
fetch (``accord.receiver.fetch``)."""


class ReceiverSettings(BaseModel):
    """A receiver's tuning, in one frozen object (as httpx groups ``Timeout`` and
    ``Limits``); from options and ``ACCORD_*`` variables by :func:`load_receiver_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_max: int = Field(default=500, ge=1, le=10_000)
    """Records taken per poll at most; one inbox transaction and one receipt each."""
    stall_timeout_s: float = Field(default=30.0, gt=0)
    """A poll, or an idle consumer behind the broker, past this is a stall: rebuild."""
    fetch_wait_ms: int = Field(default=FETCH_WAIT_MS, ge=0, le=500)
    """How long the broker may hold a fetch to fill it while records are coming (0,
    the default: no wait, the broker answers at the first record). A wait trades
    latency for CPU at moderate rates: a poll then carries more messages, so the
    per-batch work is shared, and a message waits up to this much longer. Under full
    load polls are full either way; an idle node long-polls (``accord.receiver.fetch``).
    Measured with `accord bench --fetch-wait-ms` and `python -m accord.bench.latency`
    (docs/exchange.md)."""
    send_receipts: bool = True
    follow_trust: bool = True
    """Follow the trust topic (rotations, revocations) while running."""
    max_record_bytes: int = Field(default=MAX_RECORD_BYTES, ge=1, le=MAX_RECORD_BYTES)
    """Records over this are refused as ``oversized`` before any parsing."""

    @property
    def send_timeout_s(self) -> float:
        """How long a send may wait for the broker's ack before the producer is
        considered wedged and rebuilt."""
        return max(2 * self.stall_timeout_s, 10.0)


_TUNING_ENV = {
    "ACCORD_BATCH_MAX": "batch_max",
    "ACCORD_STALL_TIMEOUT_S": "stall_timeout_s",
    "ACCORD_FETCH_WAIT_MS": "fetch_wait_ms",
}


def load_receiver_settings(
    env: Mapping[str, str] | None = None, **overrides: object
) -> ReceiverSettings:
    values = _layered(os.environ if env is None else env, _TUNING_ENV, overrides)
    try:
        return ReceiverSettings.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, "receiver setting") from None


class NodeSettings(BaseModel):
    """Everything one agency node needs: who it is, its plan, its PKI, where it keeps state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: str
    plan_path: Path
    pki_dir: Path
    data_dir: Path
    key_passphrase: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    trusted_roots: tuple[str, ...] | None = None
    """Pinned root fingerprints; None: the roots file beside the bundle."""
    receiver: ReceiverSettings = ReceiverSettings()
    # Loopback unless asked: in a container, 0.0.0.0 so Prometheus can scrape.
    metrics_host: str = "127.0.0.1"
    kafka: KafkaConnection

    @property
    def inbox_path(self) -> Path:
        return inbox_path(self.data_dir)

    @property
    def publisher_state_path(self) -> Path:
        return self.data_dir / PUBLISHER_STATE_FILE

    @property
    def bundle_path(self) -> Path:
        return self.pki_dir / BUNDLE_FILE


def load_trusted_roots(env: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """Pinned root fingerprints from ``ACCORD_TRUSTED_ROOTS`` (comma-separated), or
    None: then the roots file beside the bundle pins them."""
    value = (os.environ if env is None else env).get("ACCORD_TRUSTED_ROOTS")
    if not value:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


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
    receiver: ReceiverSettings | None = None,
) -> NodeSettings:
    """Node settings from explicit values, then ``ACCORD_PLAN``, ``ACCORD_PKI_DIR``,
    ``ACCORD_DATA_DIR``, ``ACCORD_METRICS_PORT``, ``ACCORD_METRICS_HOST``,
    ``ACCORD_KEY_PASSPHRASE``, ``ACCORD_TRUSTED_ROOTS`` (comma-separated root
    fingerprints)."""
    source = os.environ if env is None else env
    values: dict[str, object] = {
        "agency": agency,
        "plan_path": resolve_plan_path(plan_path, source),
        "pki_dir": pki_dir or default_pki_dir(source),
        "data_dir": data_dir or source.get("ACCORD_DATA_DIR") or default_data_dir(agency),
        "metrics_port": metrics_port
        if metrics_port is not None
        else source.get("ACCORD_METRICS_PORT") or None,
        "metrics_host": metrics_host or source.get("ACCORD_METRICS_HOST") or "127.0.0.1",
        "key_passphrase": source.get("ACCORD_KEY_PASSPHRASE") or None,
        "trusted_roots": load_trusted_roots(source),
        "kafka": kafka or load_connection(source, client_id=f"accord-{agency}"),
        "receiver": receiver or load_receiver_settings(source),
    }
    try:
        return NodeSettings.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, "node setting") from None


# -- secrets -------------------------------------------------------------------


def secret_from_env(var: str | None, env: Mapping[str, str] | None = None) -> bytes | None:
    """The secret in the environment variable named ``var`` (a passphrase), or None
    when no variable is named. Secrets never come from the command line, where
    ``ps`` would show them."""
    if var is None:
        return None
    source = os.environ if env is None else env
    value = source.get(var)
    if not value:
        raise ConfigError(
            f"environment variable {var} is not set or empty",
            hint=f"export {var}=... before running the command",
        )
    return value.encode()


def secret_env_name(principal: str) -> str:
    """``ACCORD_SECRET_<name with . and - as _>``, e.g. ``ACCORD_SECRET_JPN_MOFA``."""
    return "ACCORD_SECRET_" + principal.upper().replace(".", "_").replace("-", "_")


def load_secrets(
    path: Path | None, names: list[str], env: Mapping[str, str] | None = None
) -> dict[str, SecretStr]:
    """Passwords for ``names``: the secrets file, overridden by ``ACCORD_SECRET_*``.

    Values are wrapped in SecretStr at once and never appear in errors or logs.
    """
    source = os.environ if env is None else env
    found: dict[str, SecretStr] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(
                f"cannot read secrets file {path}: {exc.strerror or exc}",
                hint="pass --secrets FILE (principal: password)",
            ) from None
        except yaml.YAMLError:
            raise PlanError(
                f"secrets file {path} is not valid YAML",
                hint="write one `PRINCIPAL: password` per line",
            ) from None
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise PlanError(
                f"secrets file {path} must map principal names to strings",
                hint="write one `JPN.MOFA: password` per line; quote the password",
            )
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise PlanError(
                f"secrets file {path} names principals not in the plan: {', '.join(unknown)}",
                hint="remove them or fix their spelling",
            )
        found = {k: SecretStr(v) for k, v in raw.items() if v}
    for name in names:
        value = source.get(secret_env_name(name))
        if value:
            found[name] = SecretStr(value)
    return found
