"""Signed receipts: a node's acknowledgement that it received and verified a message."""

from accord.receipts.build import ReceiptStatus, build_receipt, receipt_label

__all__ = ["ReceiptStatus", "build_receipt", "receipt_label"]
