"""Learning curve: sequence numbers, trailing moving median, CUSUM of (x - mean), cases used."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ector.stats.learning_curve import learning_curve


def _cases() -> pl.DataFrame:
    minutes = [130, 125, None, 150, 110, 100, 95, 105, 90, 85]
    return pl.DataFrame(
        {
            "surgeon_id": ["s1"] * 10 + ["s2"] * 3,
            "case_id": list(range(13)),
            "surgery_start": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 2, 1, 0],  # newest first
            "operative_minutes": [*minutes[::-1], 60, 70, 80],
        }
    )


def test_case_sequence_counts_every_case_but_only_cases_with_minutes_are_kept() -> None:
    curve = learning_curve(_cases(), by="surgeon_id", order=["surgery_start", "case_id"], window=3)
    s1 = curve.filter(pl.col("surgeon_id") == "s1")
    assert s1["case_sequence"].to_list() == [1, 2, 4, 5, 6, 7, 8, 9, 10]  # case 3 has no minutes
    assert s1["cases_used"].unique().to_list() == [9]


def test_moving_median_is_trailing_and_starts_when_the_window_is_full() -> None:
    curve = learning_curve(_cases(), by="surgeon_id", order="surgery_start", window=3)
    s1 = curve.filter(pl.col("surgeon_id") == "s1")
    x = [130, 125, 150, 110, 100, 95, 105, 90, 85]
    expected = [None, None] + [float(np.median(x[i - 2 : i + 1])) for i in range(2, len(x))]
    assert s1["moving_median"].to_list() == expected


def test_cusum_is_the_running_sum_of_deviations_from_the_surgeons_mean() -> None:
    curve = learning_curve(_cases(), by="surgeon_id", order="surgery_start", window=3)
    for surgeon, x in [("s1", [130, 125, 150, 110, 100, 95, 105, 90, 85]), ("s2", [80, 70, 60])]:
        series = curve.filter(pl.col("surgeon_id") == surgeon)["cusum"].to_numpy()
        assert series == pytest.approx(np.cumsum(np.array(x) - np.mean(x)))
        assert series[-1] == pytest.approx(0.0, abs=1e-9)


def test_learning_curve_accepts_a_lazy_frame_and_no_rows() -> None:
    empty = _cases().clear().lazy()
    curve = learning_curve(empty, by=["surgeon_id"], order="surgery_start").collect()
    assert curve.height == 0
    assert {"case_sequence", "moving_median", "cusum", "cases_used"} <= set(curve.columns)


def test_window_must_hold_a_case() -> None:
    with pytest.raises(ValueError, match="window"):
        learning_curve(_cases(), by="surgeon_id", order="surgery_start", window=0)
