"""Receiving: verify, check against this node, land in the inbox, acknowledge."""

from accord.receiver.inbox import Inbox, StoredMessage
from accord.receiver.service import Handler, Receiver, ReceiverStats

__all__ = ["Handler", "Inbox", "Receiver", "ReceiverStats", "StoredMessage"]
