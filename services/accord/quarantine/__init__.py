"""A way back from quarantine: list, show and replay an agency's quarantined records.

See docs/handover.md ("Quarantine replay").
"""

from accord.quarantine.records import (
    QuarantinedRecord,
    QuarantineError,
    find,
    parse_record,
    read_quarantine,
    read_topic_to_end,
)
from accord.quarantine.replay import ReplayResult, current_trust, replay

__all__ = [
    "QuarantineError",
    "QuarantinedRecord",
    "ReplayResult",
    "current_trust",
    "find",
    "parse_record",
    "read_quarantine",
    "read_topic_to_end",
    "replay",
]
