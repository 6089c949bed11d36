"""The envelope contract made executable: the spec's rule table, the conformance
runner and accord's reference verifier behind the runner's line protocol.

This package's ``__init__`` imports nothing, so that any module (the trust store
included) can import :mod:`accord.conformance.rules` without an import cycle.
"""
