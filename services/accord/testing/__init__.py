"""Test support for agency integrators: real broker, real plan, real nodes.

Installed with accord as the pytest plugin ``accord`` (entry point ``pytest11``),
so its fixtures are there in any test suite of an environment that has accord.
See docs/integration.md.
"""

from accord.testing.nodes import AccordExchange, NodeProcess

__all__ = ["AccordExchange", "NodeProcess"]
