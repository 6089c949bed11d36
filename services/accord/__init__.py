"""accord: a signed, labelled information-exchange bus over Apache Kafka.

The public API is what ``__all__`` lists; every other module is internal and may
change between releases. Names load on first use (``import accord`` stays cheap for
the command line), and ``tests/unit/test_public_api.py`` fails when this surface
changes by accident. The entry point is :class:`Node`::

    async with accord.Node.open("JPN.MOFA") as node:
        await node.publish_document({...})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from accord.areas import (
        Area,
    )
    from accord.config import (
        KafkaConnection,
        NodeSettings,
        ReceiverSettings,
        load_connection,
        load_node_settings,
    )
    from accord.envelope import (
        Header,
        Rejected,
        Verdict,
        Verified,
        cosign,
        seal,
        verify,
    )
    from accord.errors import (
        AccordError,
        BrokerError,
        ConfigError,
        PkiError,
        PlanError,
        PublishError,
        ReasonCode,
        Refused,
    )
    from accord.handover import (
        Endpoint,
        load_endpoint,
    )
    from accord.labels import (
        Caveat,
        Classification,
        Label,
        Policy,
        scope_label,
    )
    from accord.models import (
        MESSAGE_TYPES,
        ActionPlanUpdate,
        CoordinatedActivityNotice,
        DialogueRecord,
        ExerciseNotice,
        InformationReport,
        MessageBody,
        PersonnelExchangeNotice,
        Retract,
        StrategicAssessment,
        Supersede,
    )
    from accord.node import (
        Node,
        NodeContext,
        open_node,
    )
    from accord.parties import (
        Country,
        Scope,
    )
    from accord.plan import (
        Plan,
        load_plan,
    )
    from accord.publisher import (
        Publisher,
        PublishResult,
    )
    from accord.publisher.document import (
        build_message,
    )
    from accord.receiver import (
        Handler,
        Inbox,
        Receiver,
        StatusChange,
        StoredMessage,
    )
    from accord.trust import (
        PkiDirectory,
        Signer,
        TrustStore,
    )

_EXPORTS: dict[str, str] = {
    "Area": "accord.areas",
    "Country": "accord.parties",
    "Scope": "accord.parties",
    "KafkaConnection": "accord.config",
    "NodeSettings": "accord.config",
    "ReceiverSettings": "accord.config",
    "load_connection": "accord.config",
    "load_node_settings": "accord.config",
    "AccordError": "accord.errors",
    "BrokerError": "accord.errors",
    "ConfigError": "accord.errors",
    "PkiError": "accord.errors",
    "PlanError": "accord.errors",
    "PublishError": "accord.errors",
    "ReasonCode": "accord.errors",
    "Refused": "accord.errors",
    "Header": "accord.envelope",
    "Rejected": "accord.envelope",
    "Verdict": "accord.envelope",
    "Verified": "accord.envelope",
    "cosign": "accord.envelope",
    "seal": "accord.envelope",
    "verify": "accord.envelope",
    "Caveat": "accord.labels",
    "Classification": "accord.labels",
    "Label": "accord.labels",
    "Policy": "accord.labels",
    "scope_label": "accord.labels",
    "MESSAGE_TYPES": "accord.models",
    "ActionPlanUpdate": "accord.models",
    "CoordinatedActivityNotice": "accord.models",
    "DialogueRecord": "accord.models",
    "ExerciseNotice": "accord.models",
    "InformationReport": "accord.models",
    "MessageBody": "accord.models",
    "PersonnelExchangeNotice": "accord.models",
    "Retract": "accord.models",
    "StrategicAssessment": "accord.models",
    "Supersede": "accord.models",
    "Plan": "accord.plan",
    "load_plan": "accord.plan",
    "PkiDirectory": "accord.trust",
    "Signer": "accord.trust",
    "TrustStore": "accord.trust",
    "Node": "accord.node",
    "NodeContext": "accord.node",
    "open_node": "accord.node",
    "PublishResult": "accord.publisher",
    "Publisher": "accord.publisher",
    "build_message": "accord.publisher.document",
    "Handler": "accord.receiver",
    "Inbox": "accord.receiver",
    "Receiver": "accord.receiver",
    "StatusChange": "accord.receiver",
    "StoredMessage": "accord.receiver",
    "Endpoint": "accord.handover",
    "load_endpoint": "accord.handover",
}

__all__ = [
    "MESSAGE_TYPES",
    "AccordError",
    "ActionPlanUpdate",
    "Area",
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
    "Receiver",
    "ReceiverSettings",
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
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'accord' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
