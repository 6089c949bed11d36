"""An agency node: its settings opened into a plan, a trust store and a signer."""

from accord.node.context import NodeContext, open_node

__all__ = ["NodeContext", "open_node"]
