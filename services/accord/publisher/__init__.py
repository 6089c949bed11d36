"""Publishing signed, labelled messages for one agency."""

from accord.publisher.service import Publisher, PublishResult, routing_headers

__all__ = ["PublishResult", "Publisher", "routing_headers"]
