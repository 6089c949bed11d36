"""Signed receipts: a node's acknowledgement that it received and verified a message."""

from accord.receipts.build import (
    ReceiptStatus,
    acknowledgement,
    build_receipt,
    chunks,
    group_for_receipts,
    receipt_label,
)
from accord.receipts.sender import ReceiptSender, RecordSink, Sent, receipt_count

__all__ = [
    "ReceiptSender",
    "ReceiptStatus",
    "RecordSink",
    "Sent",
    "acknowledgement",
    "build_receipt",
    "chunks",
    "group_for_receipts",
    "receipt_count",
    "receipt_label",
]
