"""A synthetic Igraine Gold layer with planted truth and planted dirt, for demos and end-to-end tests.

`write_demo` writes it (SQLite or Parquet) with a truth file naming the planted surgeons, sites and learning
curves, and counting the planted dirt per table and consolidation rule.
"""

from ector.demo.layer import DemoResult, write_demo

__all__ = ["DemoResult", "write_demo"]
