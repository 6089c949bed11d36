"""Reliability scenarios under faults and hostile input (issue 6).

One module per scenario; each exposes ``async def run(...) -> ScenarioResult``.
The test suite (tests/reliability/) calls them at a small size and asserts on the
returned figures; ``accord soak`` runs them at a larger size and prints the table
(``accord.soak.report``). See docs/reliability.md.
"""

from accord.soak.report import ScenarioResult, render

__all__ = ["ScenarioResult", "render"]
