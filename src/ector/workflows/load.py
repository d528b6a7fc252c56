"""The case mart as a view reads it: the columns it needs, once, in memory, in the mart's own time order.

Every aggregate of a view is computed from this one projection (group-bys, distinct counts, quantiles and the
per-case series in one pass each), instead of each aggregate reading the mart again. The mart written by
`ector transform` is sorted by surgery_start then case_id, the order every monitoring series runs in; a mart
from elsewhere (`-i`) is sorted so when it is not already.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ector.errors import ConfigError
from ector.materialise import Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.mart import PROBED, Availability, conform_mart
from ector.workflows.order import as_keys

TIME_ORDER = ("surgery_start", "case_id")


def load_view(
    mart: pl.LazyFrame,
    columns: Sequence[str],
    analysis: AnalysisSettings,
    out: Materialiser,
    *,
    keys: Sequence[str] = (),
) -> tuple[pl.DataFrame, Availability]:
    """Return the conformed mart's `columns` (and the probed inputs and risk strata) in memory, in time order,
    and which probed inputs hold a value. The text columns among `keys` are Enums of their sorted values
    (`order.as_keys`): tables made from them go through `order.as_text`.

    Raises ContractError for a mart without a required column, ConfigError for a risk stratum that is not a
    case-mart column (a typo would otherwise be dropped silently).
    """
    conformed = conform_mart(mart, analysis.period)
    names = conformed.collect_schema().names()
    unknown = [s for s in analysis.risk_strata if s not in names]
    if unknown:
        raise ConfigError(
            f"analysis.risk_strata names {', '.join(unknown)}, not a case-mart column",
            "use case-mart columns such as procedure_family, asa_class, age_band, urgency",
        )
    probed = list(dict.fromkeys([*PROBED, *analysis.risk_strata]))
    frame = out.collect(conformed.select(list(dict.fromkeys([*TIME_ORDER, *columns, *probed]))))
    if not _in_time_order(frame):
        frame = frame.sort(TIME_ORDER, nulls_last=True)
    availability = Availability({c: frame[c].null_count() < frame.height for c in probed}, frame.height)
    return as_keys(frame, keys), availability


def _in_time_order(frame: pl.DataFrame) -> bool:
    """Whether `frame` is sorted by surgery_start then case_id, without nulls in either."""
    start, case = pl.col("surgery_start"), pl.col("case_id")
    later = (start > start.shift(1)) | ((start == start.shift(1)) & (case >= case.shift(1)))
    check = frame.select(nulls=start.null_count() + case.null_count(), ordered=later.fill_null(value=True).all()).row(
        0, named=True
    )
    return check["nulls"] == 0 and bool(check["ordered"])
