"""Thinned monitoring series: bounded length, exact values, final values and alarms kept."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ector.settings import AnalysisSettings, CusumSettings
from ector.stats.cusum import risk_adjusted_cusum, vlad
from ector.stats.learning_curve import learning_curve
from ector.workflows import site_view, surgeon_view
from ector.workflows.thinning import BINS, thin_series
from tests.workflows.marts import make_mart

ORDER = ["surgery_start", "case_id"]
# A limit no chart reaches: the charts never restart, so they equal the closed form of the stats functions.
NO_RESTART = AnalysisSettings(cusum=CusumSettings(h=1000))


def _full_cusum(mart: pl.DataFrame, unit: str, outcome: str, risk: str) -> pl.DataFrame:
    """The unthinned series, straight from the stats functions (their own tests check the formulas)."""
    cases = mart.select(
        pl.col(unit).alias("unit_id"),
        "case_id",
        "surgery_start",
        pl.col(risk).alias("risk"),
        pl.col(outcome).alias("observed"),
    ).filter(pl.col("risk").is_not_null() & pl.col("observed").is_not_null())
    series = risk_adjusted_cusum(cases, unit="unit_id", order=ORDER, risk="risk", outcome="observed")
    series = vlad(series, unit="unit_id", order=ORDER, risk="risk", outcome="observed")
    series = series.rename({"cusum": "cusum_upper"})
    return series.with_columns(seq=pl.int_range(1, pl.len() + 1).over("unit_id", order_by=ORDER)).sort("unit_id", "seq")


@pytest.fixture(scope="module")
def long_mart() -> pl.DataFrame:
    # 2 sites of 3 surgeons x 1,500 cases: site series of 4,500 cases, far longer than BINS.
    return make_mart(3, 1500, n_sites=2, seed=5, complication_major_factor={"S01": 3.0})


def test_thinned_site_cusum_keeps_exact_rows_final_values_and_extremes(long_mart: pl.DataFrame) -> None:
    full = _full_cusum(long_mart, "site_id", "complication_major", "expected_complication_major")
    thinned = site_view(long_mart.lazy(), NO_RESTART)["cusum"].lazy().collect()
    thinned = thinned.filter(outcome="complication_major")
    assert thinned.height < full.height
    for site, series in full.group_by("unit_id"):
        kept = thinned.filter(unit_id=site[0])
        n = series.height
        # Bounded: at most 7 rows a bin (end, max and min of three columns) and the first row.
        assert n > BINS and kept.height <= 7 * BINS + 1
        # Every kept row is the full series' row at that seq, values unchanged.
        joined = kept.join(series, on="seq", suffix="_full")
        assert joined.height == kept.height
        for column in ("cusum_upper", "vlad", "cusum_weight", "risk"):
            assert joined[column].to_list() == joined[f"{column}_full"].to_list()
        # The final value and length are exact; the peak and trough of CUSUM and VLAD are kept.
        assert kept["seq"].max() == n
        assert kept.row(-1, named=True)["cusum_upper"] == series["cusum_upper"][-1]
        assert kept.row(-1, named=True)["vlad"] == series["vlad"][-1]
        for column in ("cusum_upper", "vlad"):
            assert kept[column].max() == series[column].max()
            assert kept[column].min() == series[column].min()


def test_thinned_cusum_signals_every_alarm_within_one_bin(long_mart: pl.DataFrame) -> None:
    full = _full_cusum(long_mart, "site_id", "complication_major", "expected_complication_major")
    thinned = site_view(long_mart.lazy(), NO_RESTART)["cusum"].lazy().collect()
    thinned = thinned.filter(outcome="complication_major")
    for site, series in full.group_by("unit_id"):
        kept = thinned.filter(unit_id=site[0])
        width = -(-series.height // BINS)
        peak = series["cusum_upper"].max()
        assert peak > 1.0  # the planted surgeon makes the chart climb: the alarms below are real
        for threshold in np.linspace(0.5, peak, 7):
            first = series.filter(pl.col("cusum_upper") >= threshold)["seq"].min()
            signalled = kept.filter(pl.col("cusum_upper") >= threshold)["seq"].min()
            # Never early (kept rows are real rows), never later than the end of the alarm's bin.
            assert first <= signalled < first + width


def test_thinned_learning_curves_keep_final_values_and_peaks() -> None:
    mart = make_mart(2, 3000, seed=3, learning=True)
    cases = mart.select(
        pl.col("surgeon_id").alias("unit_id"), "procedure_family", "case_id", "surgery_start", "operative_minutes"
    )
    full = learning_curve(cases, by=["unit_id", "procedure_family"], order=ORDER)
    thinned = surgeon_view(mart.lazy(), AnalysisSettings())["learning_curve"].lazy().collect()
    assert thinned.height < full.height
    keys = ["unit_id", "procedure_family"]
    joined = thinned.join(full, on=[*keys, "case_sequence"], suffix="_full")
    assert joined.height == thinned.height
    for column in ("moving_median", "operative_minutes", "cases_used", "case_id"):
        assert joined[column].to_list() == joined[f"{column}_full"].to_list()
    # The series mean is summed in another order than the reference's window: equal to the last bits.
    assert joined["cusum"].to_numpy() == pytest.approx(joined["cusum_full"].to_numpy(), rel=1e-12, abs=1e-9)
    ends = lambda frame: frame.group_by(keys).agg(  # noqa: E731
        last=pl.col("case_sequence").max(),
        final=pl.col("cusum").sort_by("case_sequence").last(),
        peak=pl.col("cusum").max(),
        trough=pl.col("cusum").min(),
        fastest=pl.col("moving_median").min(),
        slowest=pl.col("moving_median").max(),
        used=pl.col("cases_used").first(),
        n=pl.len(),
    )
    mine, theirs = ends(thinned).sort(keys), ends(full).sort(keys)
    exact = ["last", "fastest", "slowest", "used"]
    assert mine.select(keys, *exact).equals(theirs.select(keys, *exact))
    for column in ("final", "peak", "trough"):
        assert mine[column].to_numpy() == pytest.approx(theirs[column].to_numpy(), rel=1e-12, abs=1e-9)
    assert (mine["n"] <= 5 * BINS + 1).all()


def test_short_series_are_kept_whole_and_bins_are_bounded() -> None:
    frame = pl.LazyFrame({"unit": ["a"] * 7 + ["b"] * 100, "x": [float(i % 13) for i in range(107)]})
    kept = thin_series(frame, by=["unit"], watch=["x"], bins=10).collect()
    assert kept.filter(unit="a").height == 7  # 7 <= 10 bins: whole
    b = kept.filter(unit="b")
    assert 10 < b.height <= 10 * 3 + 1
    assert b["x"][-1] == frame.collect()["x"][-1]
    with pytest.raises(ValueError, match="at least 1 bin"):
        thin_series(frame, by=["unit"], watch=["x"], bins=0)


def test_thinning_keeps_every_signal_of_a_restarting_chart(long_mart: pl.DataFrame) -> None:
    full = _full_cusum(long_mart, "site_id", "complication_major", "expected_complication_major")
    thinned = site_view(long_mart.lazy(), AnalysisSettings(cusum=CusumSettings(h=2.0)))["cusum"].lazy().collect()
    thinned = thinned.filter(outcome="complication_major")
    signals = 0
    for site, series in full.group_by("unit_id"):
        x, expected = 0.0, []
        for seq, weight in series.select("seq", "cusum_weight").iter_rows():  # the recursion, restarting
            x = max(0.0, x + weight)
            if x > 2.0:
                expected.append(seq)
                x = 0.0
        assert thinned.filter(unit_id=site[0]).filter("signal_upper")["seq"].to_list() == expected
        signals += len(expected)
    assert signals > 3  # the planted surgeon makes the site's chart signal again and again
