"""The analytic views over the case mart: patient, surgeon and site (`ector workflow VIEW`).

Each view is a pure function of the case-mart LazyFrame and the analysis settings, returning
{table name: frame}; `summary` is the primary table. `stage.workflow_stage` is the stage body that reads the
mart from the work directory and sinks every table to workflow/<view>/<table>.parquet.
Tables and columns are documented in docs/workflows.md; formulas are in `ector.stats`.
"""

from __future__ import annotations

from ector.workflows.mart import OUTCOMES
from ector.workflows.patient import patient_view
from ector.workflows.site import site_view
from ector.workflows.surgeon import surgeon_view
from ector.workflows.unit import unit_view

__all__ = ["OUTCOMES", "patient_view", "site_view", "surgeon_view", "unit_view"]
