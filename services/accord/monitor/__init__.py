"""Watching the exchange: who has not acknowledged what, within a deadline."""

from accord.monitor.ledger import Ledger, Outstanding
from accord.monitor.service import Monitor

__all__ = ["Ledger", "Monitor", "Outstanding"]
