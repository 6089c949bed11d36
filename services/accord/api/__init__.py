"""The node as the agency's gateway: an HTTP API over one agency's node.

``Gateway`` runs the receiver, the publisher and the API in one event loop;
``accord node`` runs it as a process. See docs/api.md.
"""

from accord.api.auth import ClientTokens, add_client, new_token, token_digest
from accord.api.gateway import ApiSettings, Gateway

__all__ = ["ApiSettings", "ClientTokens", "Gateway", "add_client", "new_token", "token_digest"]
