"""A whole exchange in one process: plan, PKI and agency nodes on one connection.

What the demo, the benchmark, the soak run and the tests share. Production runs
one node per process (``accord receive``); this puts many in one event loop.
"""

from accord.exchange.local import LocalExchange

__all__ = ["LocalExchange"]
