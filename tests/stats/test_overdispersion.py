"""phi and tau2 on small examples worked by hand (winsorised PR, truncated SHMI)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ector.stats.overdispersion import DampingMethod, overdispersion


def _estimate(z: list[float], s: list[float], method: DampingMethod, outcome: str = "death") -> tuple[float, float]:
    units = pl.LazyFrame({"outcome": [outcome] * len(z), "z": z, "s": s})
    row = overdispersion(units, by=["outcome"], method=method).collect()
    assert row.height == 1
    return row["phi"][0], row["tau2"][0]


def test_winsorised_phi_and_tau2_match_a_hand_worked_example() -> None:
    # z sorted: -3, -1, 0, 1, 4. R type-7 quantiles: 10% at position 0.4 -> -3 + 0.4*2 = -2.2,
    # 90% at position 3.6 -> 1 + 0.6*3 = 2.8. Winsorised z^2: 4.84 + 1 + 0 + 1 + 7.84 = 14.68, phi = 2.936.
    z = [1.0, -3.0, 4.0, 0.0, -1.0]
    s = [0.05, 0.1, 0.1, 0.1, 0.2]  # w = 400, 100, 100, 100, 25
    phi, tau2 = _estimate(z, s, "winsorise")
    assert phi == pytest.approx(2.936, rel=1e-12)
    sum_w, sum_w2 = 725.0, 160_000 + 3 * 10_000 + 625.0
    assert tau2 == pytest.approx((5 * 2.936 - 4) / (sum_w - sum_w2 / sum_w), rel=1e-12)
    assert tau2 == pytest.approx(0.0231134, abs=1e-7)


def test_tau2_is_zero_when_n_phi_is_below_n_minus_one() -> None:
    # phi is tiny: n*phi = 0.14 < n - 1 = 3, the units agree better than chance.
    phi, tau2 = _estimate([0.1, -0.2, 0.3, 0.0], [0.1, 0.1, 0.1, 0.1], "winsorise")
    assert 4 * phi < 3
    assert tau2 == 0.0


def test_tau2_is_zero_for_a_single_unit() -> None:
    phi, tau2 = _estimate([5.0], [0.1], "winsorise")
    assert phi == pytest.approx(25.0)
    assert tau2 == 0.0


def test_truncation_drops_the_bottom_and_top_tenth_by_rank() -> None:
    # 20 units: band = floor(rank * 10 / 21); ranks 1-2 fall in band 0, ranks 19-20 in band 9: dropped.
    z = [float(v) for v in [7, -2, 12, 3, 0, 18, -5, 9, 1, 15, -1, 4, 11, 6, -9, 2, 14, 8, 5, 10]]
    s = [1 / math.sqrt(e) for e in range(10, 30)]
    ranked = sorted(zip(z, s, strict=True))
    kept = ranked[2:18]
    phi, tau2 = _estimate(z, s, "truncate")
    assert phi == pytest.approx(sum(v * v for v, _ in kept) / 16, rel=1e-12)
    w = [1 / (se * se) for _, se in kept]
    excess = 16 * phi - 15
    assert tau2 == pytest.approx(excess / (sum(w) - sum(x * x for x in w) / sum(w)), rel=1e-12)


def test_truncation_drops_a_unit_without_events_first() -> None:
    # O = 0 gives z = -inf on the log scale: the lowest rank, truncated, so phi stays finite.
    z = [float(v) for v in range(1, 20)] + [-math.inf]
    phi, _ = _estimate(z, [0.2] * 20, "truncate")
    kept = sorted(z)[2:18]
    assert phi == pytest.approx(sum(v * v for v in kept) / 16, rel=1e-12)


def test_overdispersion_is_estimated_per_group() -> None:
    units = pl.LazyFrame(
        {
            "outcome": ["a"] * 5 + ["b"] * 4,
            "z": [1.0, -3.0, 4.0, 0.0, -1.0, 0.1, -0.2, 0.3, 0.0],
            "s": [0.05, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1],
        }
    )
    result = overdispersion(units, by=["outcome"], method="winsorise").collect().sort("outcome")
    assert result["outcome"].to_list() == ["a", "b"]
    assert result["phi"][0] == pytest.approx(2.936)
    assert result["tau2"][1] == 0.0


@pytest.mark.parametrize("trim", [0.0, 0.5, 0.15])
def test_truncation_rejects_a_trim_without_whole_bands(trim: float) -> None:
    units = pl.LazyFrame({"outcome": ["a"], "z": [1.0], "s": [1.0]})
    with pytest.raises(ValueError, match="trim"):
        overdispersion(units, by=["outcome"], method="truncate", trim=trim).collect()
