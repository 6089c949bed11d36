"""An agency node: its settings opened into a plan, a trust store and a signer
(:func:`open_node`), and the node itself in a Python program (:class:`Node`)."""

from accord.node.context import NodeContext, open_node
from accord.node.runtime import Node

__all__ = ["Node", "NodeContext", "open_node"]
