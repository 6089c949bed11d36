"""The one configuration path: every setting resolved in accord.config, when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import (
    INBOX_FILE,
    REPO_PLAN_PATH,
    load_connection,
    load_node_settings,
    load_receiver_settings,
    load_secrets,
    resolve_plan_path,
)
from accord.errors import ConfigError
from accord.plan import load_plan


def test_the_plan_path_is_resolved_when_asked_not_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_plan_path(env={}) == REPO_PLAN_PATH
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(
        REPO_PLAN_PATH.read_text().replace("version: 1\n", "version: 1\nnamespace: late\n")
    )
    monkeypatch.setenv("ACCORD_PLAN", str(plan_file))  # set after accord was imported
    assert resolve_plan_path() == plan_file
    assert load_plan(None).namespace == "late"
    assert resolve_plan_path("explicit.yaml") == Path("explicit.yaml")


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({}, "PLAINTEXT"),
        ({"ACCORD_KAFKA_USERNAME": "JPN.MOFA"}, "SASL_PLAINTEXT"),
        ({"ACCORD_KAFKA_USERNAME": "JPN.MOFA", "ACCORD_SSL_CAFILE": "ca.pem"}, "SASL_SSL"),
        ({"ACCORD_SSL_CAFILE": "ca.pem"}, "SSL"),
        ({"ACCORD_KAFKA_USERNAME": "JPN.MOFA", "ACCORD_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_SSL"),
    ],
)
def test_the_security_protocol_is_inferred_from_the_credentials(
    env: dict[str, str], protocol: str
) -> None:
    assert load_connection(env).security_protocol == protocol
    assert load_node_settings("JPN.MOFA", env=env).kafka.security_protocol == protocol


def test_node_settings_hold_files_and_tuning(tmp_path: Path) -> None:
    env = {
        "ACCORD_DATA_DIR": str(tmp_path),
        "ACCORD_FETCH_WAIT_MS": "0",
        "ACCORD_BATCH_MAX": "50",
        "ACCORD_PLAN": "p.yaml",
    }
    settings = load_node_settings("JPN.MOFA", env=env)
    assert settings.inbox_path == tmp_path / INBOX_FILE
    assert settings.plan_path == Path("p.yaml")
    assert settings.receiver.fetch_wait_ms == 0
    assert settings.receiver.batch_max == 50
    assert load_receiver_settings({}, fetch_wait_ms=25).fetch_wait_ms == 25
    with pytest.raises(ConfigError, match="fetch_wait_ms"):
        load_receiver_settings({"ACCORD_FETCH_WAIT_MS": "9999"})


def test_secrets_come_from_the_file_then_the_environment(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("JPN.MOFA: from-file\nAUS.DFAT: other\n")
    found = load_secrets(secrets, ["JPN.MOFA", "AUS.DFAT"], {"ACCORD_SECRET_JPN_MOFA": "from-env"})
    assert found["JPN.MOFA"].get_secret_value() == "from-env"
    assert found["AUS.DFAT"].get_secret_value() == "other"
    assert "from-env" not in repr(found)


def test_receiver_record_limit_is_the_envelope_limit() -> None:
    from accord.config import MAX_RECORD_BYTES, ReceiverSettings
    from accord.envelope import MAX_BYTES

    assert MAX_RECORD_BYTES == MAX_BYTES
    assert ReceiverSettings().max_record_bytes == MAX_BYTES
