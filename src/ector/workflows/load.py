"""The case mart as a view reads it: the columns it needs, once, in memory, in the mart's own time order.

Every aggregate of a view is computed from this one projection (group-bys, distinct counts, quantiles and the
per-case series in one pass each), instead of each aggregate reading the mart again. The mart written by
`ector transform` is sorted by surgery_start then case_id, the order every monitoring series runs in; a mart
from elsewhere (`-i`) is sorted so when it is not already.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import polars as pl

from ector.errors import ConfigError
from ector.materialise import Materialiser
from ector.settings import AnalysisSettings
from ector.workflows.mart import PROBED, Availability, conform_mart
from ector.workflows.order import as_keys

TIME_ORDER = ("surgery_start", "case_id")
READ_ROWS = 2_000_000  # rows of the mart read at a time
# A view holds its projection of the mart in memory (about 0.25 GB per million cases at 10M). Above this many cases
# it works a part of the mart at a time, each part whole units (or patients): every table is the same.
PART_CASES = 20_000_000


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
    loaded = list(dict.fromkeys([*TIME_ORDER, *columns, *analysis.risk_strata]))
    schema = conformed.collect_schema()
    text_keys = [k for k in dict.fromkeys(keys) if schema[k] == pl.String()]
    frame = _read(conformed.select(loaded), text_keys, out)
    if not _in_time_order(frame):
        frame = frame.sort(TIME_ORDER, nulls_last=True)
    probed = list(dict.fromkeys([*PROBED, *analysis.risk_strata]))
    # Inputs the view does not read are only probed: their null counts, which polars reads from the Parquet
    # statistics of a mart file (0.02 s at 10M cases), where loading them took memory for nothing.
    others = [c for c in probed if c not in loaded]
    nulls = out.collect(conformed.select(pl.len(), *(pl.col(c).null_count() for c in others))).row(0, named=True)
    available = {c: (frame[c].null_count() if c in loaded else nulls[c]) < frame.height for c in probed}
    return as_keys(frame, keys), Availability(available, frame.height)


def _read(projection: pl.LazyFrame, keys: Sequence[str], out: Materialiser) -> pl.DataFrame:
    """Return `projection` in memory, read a slice of rows at a time with the text `keys` as Categoricals.

    A text value takes 16 bytes a row in memory, a Categorical code 4: read whole, the surgeon view's projection
    of the 10M-case mart took 1.9 GB, its key columns 0.9 GB of it.
    """
    rows = out.collect(projection.select(pl.len())).item()
    categorical = [pl.col(k).cast(pl.Categorical) for k in keys]
    slices = [
        out.collect(projection.slice(offset, READ_ROWS).with_columns(categorical))
        for offset in range(0, max(rows, 1), READ_ROWS)
    ]
    return pl.concat(slices)


def _in_time_order(frame: pl.DataFrame) -> bool:
    """Whether `frame` is sorted by surgery_start then case_id, without nulls in either."""
    start, case = pl.col("surgery_start"), pl.col("case_id")
    later = (start > start.shift(1)) | ((start == start.shift(1)) & (case >= case.shift(1)))
    check = frame.select(nulls=start.null_count() + case.null_count(), ordered=later.fill_null(value=True).all()).row(
        0, named=True
    )
    return check["nulls"] == 0 and bool(check["ordered"])


def probe_availability(mart: pl.LazyFrame, analysis: AnalysisSettings, out: Materialiser) -> Availability:
    """Which probed inputs (and risk strata) hold a value anywhere in the mart: its null counts, which polars reads
    from the Parquet statistics of a mart file. For a view that loads the mart a part at a time."""
    conformed = conform_mart(mart, analysis.period)
    probed = list(dict.fromkeys([*PROBED, *analysis.risk_strata]))
    counts = out.collect(conformed.select(pl.len(), *(pl.col(c).null_count() for c in probed))).row(0, named=True)
    return Availability({c: counts[c] < counts["len"] for c in probed}, counts["len"])


def parts_by(mart: pl.LazyFrame, column: str, part_cases: int, out: Materialiser) -> list[pl.Expr]:
    """Filters that cut the mart into parts of about `part_cases` cases, each holding whole values of `column`
    (units, or patients, in sorted order: the parts' tables concatenate in order). One filter, `True`, when the
    mart fits one part. Cases whose `column` is null fall in the last part."""
    if column not in mart.collect_schema().names():
        return [pl.lit(value=True)]  # load_view names the missing column
    if out.collect(mart.select(pl.len())).item() <= part_cases:
        return [pl.lit(value=True)]  # the row count of a Parquet file is in its footer: no scan for a small mart
    counts = out.collect(mart.group_by(column).len().sort(column, nulls_last=True))
    values, ends = counts[column], counts["len"].cum_sum()
    filters, start, limit = [], 0, part_cases
    for index, end in enumerate(ends):
        if end >= limit or index == len(ends) - 1:
            filters.append(pl.col(column).is_in(values.slice(start, index + 1 - start).drop_nulls().implode()))
            start, limit = index + 1, end + part_cases
    if values.null_count():
        filters[-1] = filters[-1] | pl.col(column).is_null()
    return filters


def ranges_by(mart: pl.LazyFrame, column: str, part_cases: int, out: Materialiser) -> list[pl.Expr]:
    """Filters that cut the mart into ranges of `column` (patient ids: too many to count one by one) of about
    `part_cases` cases each, in sorted order; the bounds are quantiles of a sample of the cases' values. One
    filter, `True`, when the mart fits one part. Cases whose `column` is null fall in the last range."""
    rows = out.collect(mart.select(pl.len())).item()
    count = -(-rows // part_cases)
    if count <= 1 or column not in mart.collect_schema().names():
        return [pl.lit(value=True)]
    every = max(1, rows // 100_000)
    sample = out.collect(mart.select(pl.col(column).gather_every(every)))[column].drop_nulls().sort()
    bounds = sorted({sample[len(sample) * i // count] for i in range(1, count)}) if len(sample) else []
    value = pl.col(column)
    filters = [value < bounds[0]] if bounds else []
    filters += [(value >= low) & (value < high) for low, high in pairwise(bounds)]
    filters.append((value >= bounds[-1]) | value.is_null() if bounds else pl.lit(value=True))
    return filters
