"""A way back from quarantine: list, show and replay an agency's quarantined records.

See docs/handover.md ("Quarantine replay").
"""

from accord.quarantine.records import (
    QuarantinedRecord,
    QuarantineError,
    find,
    iter_quarantine,
    iter_topic,
    parse_record,
    parse_ref,
)
from accord.quarantine.replay import ReplayResult, current_keys, current_trust, replay

__all__ = [
    "QuarantineError",
    "QuarantinedRecord",
    "ReplayResult",
    "current_keys",
    "current_trust",
    "find",
    "iter_quarantine",
    "iter_topic",
    "parse_record",
    "parse_ref",
    "replay",
]
