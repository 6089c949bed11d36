"""Receiving: verify, check against this node, land in the inbox, acknowledge."""

from accord.receiver.inbox import Inbox, StatusChange, StoredMessage
from accord.receiver.service import Handler, Receiver, ReceiverStats
from accord.receiver.settings import ReceiverSettings

__all__ = [
    "Handler",
    "Inbox",
    "Receiver",
    "ReceiverSettings",
    "ReceiverStats",
    "StatusChange",
    "StoredMessage",
]
