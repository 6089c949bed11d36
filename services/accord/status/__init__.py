"""Each agency's consumer group as the broker sees it: offsets, lag, members."""

from accord.status.groups import (
    GroupStatus,
    Member,
    PartitionStatus,
    commit_metadata,
    export_status,
    read_status,
)

__all__ = [
    "GroupStatus",
    "Member",
    "PartitionStatus",
    "commit_metadata",
    "export_status",
    "read_status",
]
