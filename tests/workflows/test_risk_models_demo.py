"""The fitted risk models on a 200,000-case demo, against the demo's generating model (its truth file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy.special import expit

from ector.demo import write_demo
from ector.settings import AnalysisSettings
from ector.stats.logistic import Factor, design_matrix
from ector.workflows import site_view, surgeon_view
from tests.gold import run_to_mart

HIGH = ["high_alert", "high_alarm"]


FACTORS = ["age_band", "sex", "asa_class", "urgency", "procedure_family"]
MODELS = {"mortality_30d": "mortality_model", "complication_major": "major_complication_model"}


def _band_odds_ratios(
    mart: pl.LazyFrame, models: pl.DataFrame, truth: dict[str, Any], outcome: str
) -> dict[str, float]:
    """Return the true odds ratio of each age band against the fitted model's reference band.

    Age enters the generating model linearly, within bands whose age mix differs by procedure family, so a
    band's odds ratio is what the banded model converges to on the true risks: the same design fitted, with
    statsmodels, to the expected events of the generating model (its planted surgeon and site included) instead
    of the drawn ones.
    """
    parameters = truth["parameters"][MODELS[outcome]]
    planted = truth["planted"]
    known = mart.filter(*(pl.col(c).is_not_null() for c in [*FACTORS, outcome])).collect()
    intercept = known["procedure_family"].replace_strict(parameters["intercept"], return_dtype=pl.Float64)
    age = (known["age_at_surgery"].cast(pl.Float64) + 0.5 - parameters["reference_age"]) / 10  # mid-year
    lp = (
        intercept.to_numpy()
        + parameters["age_per_decade"] * age.to_numpy()
        + parameters["asa_per_class"] * (known["asa_class"].to_numpy() - parameters["reference_asa"])
        + parameters["urgent"] * (known["urgency"] == "urgent").to_numpy()
        + parameters["emergency"] * (known["urgency"] == "emergency").to_numpy()
    )
    if outcome == "mortality_30d":
        lp += (
            np.log(planted["mortality_odds_ratio"]) * known["site_id"].is_in(planted["high_mortality_sites"]).to_numpy()
        )
    else:
        planted_surgeon = known["surgeon_id"].is_in(planted["high_complication_surgeons"]).to_numpy()
        lp += np.log(planted["complication_odds_ratio"]) * planted_surgeon
    patterns = (
        known.select(*FACTORS, risk=pl.Series(expit(lp)))
        .group_by(FACTORS)
        .agg(expected=pl.col("risk").sum(), cases=pl.len())
    )
    terms = models.filter(pl.col("factor").is_not_null(), outcome=outcome, model="logistic")
    factors = [
        Factor(name, rows["reference"][0], tuple(rows.filter(pl.col("coefficient").is_not_null())["level"]))
        for name in FACTORS
        for rows in [terms.filter(factor=name)]
    ]
    levels = {f: patterns[f].cast(pl.String).to_numpy() for f in FACTORS}
    design = design_matrix(factors, levels, patterns.height)
    keep = [0, *(i for i, column in enumerate(design.T) if i and column.any())]  # no column for `unknown`
    expected, cases = patterns["expected"].to_numpy(), patterns["cases"].to_numpy()
    fit = sm.GLM(np.column_stack([expected, cases - expected]), design[:, keep], family=sm.families.Binomial())
    coefficients = dict(zip([0, *keep[1:]], fit.fit(tol=1e-12).params, strict=True))
    names = [None, *(f"{f.name}={level}" for f in factors for level in f.levels)]
    band = factors[0]
    result = {band.reference: 1.0}
    for index, name in enumerate(names):
        if name and name.startswith("age_band=") and index in coefficients:
            result[name.removeprefix("age_band=")] = float(np.exp(coefficients[index]))
    return result


@pytest.mark.slow
def test_demo_planted_odds_ratios_lie_in_their_intervals_and_planted_units_are_still_flagged(tmp_path: Path) -> None:
    demo = write_demo(tmp_path / "gold.sqlite", cases=200_000, seed=7)
    work = tmp_path / "ector-work"
    mart = pl.scan_parquet(run_to_mart(demo.source_uri, work))
    models = pl.read_parquet(work / "transform" / "risk_models.parquet")
    truth = demo.truth["parameters"]["true_odds_ratios"]
    inside, terms = 0, 0
    for outcome, odds in truth.items():
        bands = _band_odds_ratios(mart, models, demo.truth, outcome)
        fitted = models.filter(pl.col("coefficient").is_not_null(), pl.col("factor").is_not_null())
        for row in fitted.filter(outcome=outcome, model="logistic").iter_rows(named=True):
            factor, level, reference = row["factor"], row["level"], row["reference"]
            if "unknown" in (level, reference):
                continue  # a missing value has no true effect
            true = bands[level] if factor == "age_band" else odds[factor][level] / odds[factor][reference]
            terms += 1
            inside += row["odds_ratio_lower"] <= true <= row["odds_ratio_upper"]
    assert terms >= 30  # both outcomes, every factor
    assert inside >= 0.9 * terms, f"{inside} of {terms} planted odds ratios inside their 95% intervals"
    summary = models.filter(pl.col("term").is_null(), model="logistic")
    assert summary["c_statistic"].min() > 0.6
    planted = demo.truth["planted"]
    surgeons = surgeon_view(mart, AnalysisSettings())["funnel"].lazy().collect()
    flagged = surgeons.filter(pl.col("outcome") == "complication_major", pl.col("flag").is_in(HIGH))
    assert set(planted["high_complication_surgeons"]) <= set(flagged["unit_id"])
    sites = site_view(mart, AnalysisSettings())["funnel"].lazy().collect()
    flagged = sites.filter(pl.col("outcome") == "mortality_30d", pl.col("flag").is_in(HIGH))
    assert set(planted["high_mortality_sites"]) <= set(flagged["unit_id"])
