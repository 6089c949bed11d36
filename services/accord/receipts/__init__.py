"""Signed receipts: a node's acknowledgement that it received and verified a message."""

from accord.receipts.build import (
    ReceiptStatus,
    acknowledgement,
    build_receipt,
    chunks,
    group_for_receipts,
    receipt_label,
)

__all__ = [
    "ReceiptStatus",
    "acknowledgement",
    "build_receipt",
    "chunks",
    "group_for_receipts",
    "receipt_label",
]
