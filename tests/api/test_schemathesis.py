"""Property-based tests of the running node API from its own OpenAPI document.

schemathesis generates valid and invalid requests for every operation, sends
them to a real node (on a real broker) with the test client's token, and checks
each answer against the document: no server error, documented status codes,
content types and bodies, invalid data refused, and no operation served without
credentials or with wrong ones (``ignored_auth``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accord.testing import NodeProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


# The checked-in document (drift-checked against the code by `accord api check`), so
# the published contract itself is what the running node is held to.
OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi" / "accord-node.openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text(encoding="utf-8")))
schema.config.generation.update(modes=list(GenerationMode))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: Any, dfat: NodeProcess) -> None:
    if case.operation.path == "/v1/inbox" and isinstance(
        (case.query or {}).get("wait"), int | float
    ):
        # The long-poll has its own test; here a generated wait would only idle.
        case.query["wait"] = min(case.query["wait"], 0.2)
    case.call_and_validate(
        base_url=dfat.url, checks=CHECKS, headers={"Authorization": f"Bearer {dfat.token}"}
    )
