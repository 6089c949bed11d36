"""Broker-enforced access: principals and ACLs rendered from the plan.

Pure functions only; :mod:`accord.plan.reconcile` hands the result to the broker.
"""

from accord.access.acls import (
    AclRule,
    Operation,
    access_matrix,
    allows,
    principal_of,
    render_acls,
    wanted_principals,
)

__all__ = [
    "AclRule",
    "Operation",
    "access_matrix",
    "allows",
    "principal_of",
    "render_acls",
    "wanted_principals",
]
