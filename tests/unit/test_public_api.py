"""The public API is declared: ``accord.__all__``. This test fails when the exported
surface changes by accident; change it here on purpose, with a changelog line."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import accord

EXPORTED = {
    "ActionPlanUpdate",
    "Area",
    "AccordError",
    "BrokerError",
    "Caveat",
    "Classification",
    "ConfigError",
    "CoordinatedActivityNotice",
    "Country",
    "DialogueRecord",
    "Endpoint",
    "ExerciseNotice",
    "Handler",
    "Header",
    "Inbox",
    "InformationReport",
    "KafkaConnection",
    "Label",
    "MESSAGE_TYPES",
    "MessageBody",
    "Node",
    "NodeContext",
    "NodeSettings",
    "PersonnelExchangeNotice",
    "PkiDirectory",
    "PkiError",
    "Plan",
    "PlanError",
    "Policy",
    "PublishError",
    "PublishResult",
    "Publisher",
    "ReasonCode",
    "ReceiverSettings",
    "Receiver",
    "Refused",
    "Rejected",
    "Retract",
    "Scope",
    "Signer",
    "StatusChange",
    "StoredMessage",
    "StrategicAssessment",
    "Supersede",
    "TrustStore",
    "Verdict",
    "Verified",
    "build_message",
    "cosign",
    "load_connection",
    "load_endpoint",
    "load_node_settings",
    "load_plan",
    "open_node",
    "scope_label",
    "seal",
    "verify",
}

# The public methods of the classes an integrator drives.
METHODS = {
    "Node": {"agency", "inbox", "open", "publish", "publish_document", "release", "start", "stop"},
    "Publisher": {
        "publish",
        "publish_many",
        "read_own",
        "release_trilateral",
        "seal",
        "send",
        "sent_envelope",
        "start",
        "stop",
    },
    "Receiver": {"healthy", "ready", "request_stop", "run", "settings", "start", "stop"},
}


def test_the_exported_names_are_exactly_the_declared_ones() -> None:
    assert set(accord.__all__) == EXPORTED
    assert len(accord.__all__) == len(EXPORTED)


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in accord.__all__:
        value = getattr(accord, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"accord.{name} has no docstring"


def test_the_driven_classes_keep_their_public_methods() -> None:
    for name, methods in METHODS.items():
        cls = getattr(accord, name)
        assert {m for m in dir(cls) if not m.startswith("_")} == methods, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        accord.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_import_accord_stays_cheap() -> None:
    # The command line imports the package first: the API loads on first use only.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, accord; print('aiokafka' in sys.modules, 'fastapi' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["False", "False"]
