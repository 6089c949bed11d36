"""Handover: landed messages to the agency system, at least once, signed.

    Inbox.land --(same transaction)--> outbox row --> Dispatcher --POST--> agency
                                                           \\--> ledger (survives rebuild)

Receipts keep meaning "landed in the node"; handover state is separate and shown
by ``accord inbox``, ``accord handover list`` and the ``accord_handover_*`` metrics.
See docs/handover.md.
"""

from accord.handover.dispatcher import Dispatcher, backoff_s
from accord.handover.endpoint import Endpoint, HandoverPolicy, check_url, load_endpoint
from accord.handover.ledger import Ledger, ledger_path
from accord.handover.outbox import Outbox, Row, State, enqueue, has_outbox, read_states
from accord.handover.signing import new_secret, parse_secret, signed_headers, webhook_id

__all__ = [
    "Dispatcher",
    "Endpoint",
    "HandoverPolicy",
    "Ledger",
    "Outbox",
    "Row",
    "State",
    "backoff_s",
    "check_url",
    "enqueue",
    "has_outbox",
    "ledger_path",
    "load_endpoint",
    "new_secret",
    "parse_secret",
    "read_states",
    "signed_headers",
    "webhook_id",
]
