"""Operators' view: structured logs and metrics."""
