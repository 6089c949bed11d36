"""Security labels: what a message is, who may see it, and under which policy.

STANAG 4774 in spirit: a label names a policy, a classification on a scale shared by
the exchange, the countries it is releasable to, handling caveats, the originator
and a review date. The label travels inside the signed payload, so it cannot be
changed without breaking the signature (STANAG 4778 in spirit).
"""

from accord.labels.label import (
    CLASSIFICATION_RANK,
    NATIONAL_MARKINGS,
    POLICIES,
    Caveat,
    Classification,
    Label,
    Policy,
    check_label,
    national_marking,
    releasable_to_country,
    scope_label,
)

__all__ = [
    "CLASSIFICATION_RANK",
    "NATIONAL_MARKINGS",
    "POLICIES",
    "Caveat",
    "Classification",
    "Label",
    "Policy",
    "check_label",
    "national_marking",
    "releasable_to_country",
    "scope_label",
]
