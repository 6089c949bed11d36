"""``accord demo``: a realistic exchange on a fresh local broker, checked end to end.

``scenario`` holds the messages as data, ``inject`` crafts the bad records,
``run`` orchestrates and checks, ``report`` prints the table. See docs/demo.md.
"""

from accord.demo.run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
