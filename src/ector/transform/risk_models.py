"""Risk models of the case mart: the expected risk of each case, and how good it is (docs/methods.md).

Per outcome with an expected column, the case mart's expected risk comes from (`analysis.risk_model`):
- `logistic` (default): a logistic regression on `analysis.risk_factors`, fitted on covariate patterns
  (`stats.logistic`); with fewer than `analysis.min_events_per_parameter` events (or non-events) per parameter,
  or a fit that does not converge, the outcome falls back to strata;
- `strata`: the stratum rate over `analysis.risk_strata` (indirect standardisation).
A supplied per-case risk (mortality: `predicted_mortality`) stays the expected risk where given; the fitted model
fills the cases without one and is reported beside it.

Everything is computed from one table of counts: events and known cases of each outcome per combination of the
factors and strata (`pattern_counts`, a few thousand rows at any scale), plus the supplied risks grouped to 1e-6
(`supplied_counts`). `fit_risk_models` returns the rates to join back to the mart, `risk_models` (one summary
row per outcome and model, `term` null, then one row per term) and `risk_calibration` (observed against
expected by tenth of predicted risk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from ector.errors import ConfigError
from ector.settings import REFUSED_RISK_FACTORS, AnalysisSettings
from ector.stats.calibration import by_tenth, calibration
from ector.stats.discrimination import c_statistic
from ector.stats.logistic import UNKNOWN, LogisticFit, design_factors, expit, fit_patterns, parameter_count

SUPPLIED_DECIMALS: Final = 6  # supplied risks are grouped to 1e-6 for their c-statistic and calibration
MODELS_SCHEMA: Final = pl.Schema(
    {
        "outcome": pl.String(),
        "model": pl.String(),  # logistic | strata | supplied
        "used": pl.Boolean(),  # the expected risk comes from this model (where no risk is supplied, but supplied)
        "term": pl.String(),  # null on the model's summary row
        "factor": pl.String(),
        "level": pl.String(),
        "reference": pl.String(),
        "coefficient": pl.Float64(),
        "std_error": pl.Float64(),
        "odds_ratio": pl.Float64(),
        "odds_ratio_lower": pl.Float64(),
        "odds_ratio_upper": pl.Float64(),
        "cases": pl.Int64(),
        "events": pl.Int64(),
        "parameters": pl.Int64(),
        "c_statistic": pl.Float64(),
        "c_statistic_lower": pl.Float64(),
        "c_statistic_upper": pl.Float64(),
        "calibration_intercept": pl.Float64(),
        "calibration_slope": pl.Float64(),
        "brier": pl.Float64(),
        "note": pl.String(),
    }
)
CALIBRATION_SCHEMA: Final = pl.Schema(
    {
        "outcome": pl.String(),
        "model": pl.String(),
        "tenth": pl.Int8(),
        "cases": pl.Int64(),
        "events": pl.Int64(),
        "observed": pl.Float64(),
        "expected": pl.Float64(),
    }
)


@dataclass(frozen=True)
class ExpectedRates:
    """The expected risk to join to the mart: per combination of `keys`, the rate (column `rate`)."""

    keys: list[str]
    rates: pl.DataFrame


@dataclass(frozen=True)
class RiskModels:
    """The expected rates per expected column, and the two tables that describe the models."""

    expected: dict[str, ExpectedRates]
    models: pl.DataFrame
    calibration: pl.DataFrame


def check_factors(factors: Sequence[str], columns: Sequence[str], outcomes: Sequence[str]) -> list[str]:
    """Return `factors` as a list; ConfigError for a factor that is not a mart column, an outcome, or refused."""
    for factor in factors:
        if factor in REFUSED_RISK_FACTORS:
            raise ConfigError(
                f"analysis.risk_factors names {factor!r}: the surgeon, the site and the approach are what is compared",
                "use patient factors, e.g. age_band, sex, asa_class, urgency, procedure_family",
            )
        if factor not in columns:
            raise ConfigError(
                f"analysis.risk_factors names {factor!r}, which is not a case-mart column",
                "use columns of docs/data-dictionary.md, e.g. age_band, sex, asa_class, urgency, procedure_family",
            )
        if factor in outcomes:
            raise ConfigError(f"analysis.risk_factors names {factor!r}, an outcome", "use factors known before surgery")
    if len(set(factors)) != len(factors):
        raise ConfigError("analysis.risk_factors lists a column twice", "list each risk factor once")
    return list(factors)


def pattern_columns(analysis: AnalysisSettings) -> list[str]:
    """Return the columns the counts are kept by: the risk factors (logistic) and the strata (the fallback)."""
    factors = analysis.risk_factors if analysis.risk_model == "logistic" else []
    return list(dict.fromkeys([*factors, *analysis.risk_strata]))


def pattern_counts(mart: pl.LazyFrame, outcomes: Sequence[str], columns: Sequence[str]) -> pl.LazyFrame:
    """Return per combination of `columns` (nulls a level): `<outcome>__cases` (known) and `<outcome>__events`."""
    counts = [
        expr
        for outcome in outcomes
        for expr in (
            pl.col(outcome).is_not_null().sum().cast(pl.Int64).alias(f"{outcome}__cases"),
            pl.col(outcome).cast(pl.Int64).sum().alias(f"{outcome}__events"),
        )
    ]
    return mart.group_by(list(columns)).agg(counts) if columns else mart.select(counts)


def supplied_counts(mart: pl.LazyFrame, outcome: str, given: str) -> pl.LazyFrame:
    """Return `risk` (the supplied risk rounded to 1e-6), `cases` and `events` of the cases with both known, sorted
    by risk: the fits sum over the rows in their order, and a group-by's order changes from run to run."""
    known = mart.filter(pl.col(outcome).is_not_null() & pl.col(given).is_not_null())
    grouped = known.group_by(pl.col(given).round(SUPPLIED_DECIMALS).alias("risk")).agg(
        cases=pl.len().cast(pl.Int64), events=pl.col(outcome).cast(pl.Int64).sum()
    )
    return grouped.sort("risk")


def fit_risk_models(
    patterns: pl.DataFrame,
    wanted: Mapping[str, tuple[str, str | None]],
    analysis: AnalysisSettings,
    supplied: Mapping[str, pl.DataFrame] | None = None,
) -> RiskModels:
    """Return the risk models of each expected column of `wanted` (name -> (outcome, supplied risk column)).

    `patterns` is `pattern_counts` of the mart over `pattern_columns(analysis)`; `supplied` holds
    `supplied_counts` per expected column with a supplied risk.
    """
    supplied = supplied or {}
    expected: dict[str, ExpectedRates] = {}
    rows: list[dict[str, Any]] = []
    tenths: list[pl.DataFrame] = []
    # The fits multiply matrices of a few thousand rows by a few dozen columns: on one thread in the BLAS they take
    # milliseconds, while its threads beside polars' on a busy machine took 200 times as long (issue #19 notes).
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (outcome, given) in wanted.items():
            own = supplied.get(name)
            supplied_cases = 0
            if given is not None and own is not None and own.height:
                risk, events, cases = (own[c].to_numpy() for c in ("risk", "events", "cases"))
                supplied_cases = int(cases.sum())
                rows.append(_summary(outcome, "supplied", True, risk, events, cases, f"the supplied risk, {given}"))
                tenths.append(_tenths(outcome, "supplied", risk, events, cases))
            counts = _counts(patterns, outcome, analysis.risk_factors if analysis.risk_model == "logistic" else [])
            fills = int(counts["cases"].sum()) > supplied_cases  # some cases have no supplied risk
            fitted, note = (None, "") if analysis.risk_model == "strata" else _fit(counts, analysis)
            if fitted is not None:
                factors = list(analysis.risk_factors)
                risk = expit(fitted.linear_predictor(_levels(counts, factors), counts.height))
                expected[name] = ExpectedRates(factors, counts.select(*factors, rate=pl.Series(risk).fill_nan(None)))
                events, cases = counts["events"].to_numpy(), counts["cases"].to_numpy()
                rows.append(_summary(outcome, "logistic", fills, risk, events, cases, "", parameters=fitted.parameters))
                rows += _terms(outcome, fills, fitted)
                tenths.append(_tenths(outcome, "logistic", risk, events, cases))
                continue
            strata = list(analysis.risk_strata)
            by_stratum = _counts(patterns, outcome, strata)
            rate = pl.when(pl.col("cases") > 0).then(pl.col("events") / pl.col("cases"))
            rates = by_stratum.select(*strata, rate=rate)
            expected[name] = ExpectedRates(strata, rates)
            risk = rates["rate"].to_numpy().astype(np.float64)
            events, cases = by_stratum["events"].to_numpy(), by_stratum["cases"].to_numpy()
            strata_note = f"indirect standardisation over {' x '.join(strata) or 'no strata (the overall rate)'}"
            parameters = int((by_stratum["cases"] > 0).sum())
            rows.append(
                _summary(outcome, "strata", fills, risk, events, cases, _join(note, strata_note), parameters=parameters)
            )
            tenths.append(_tenths(outcome, "strata", risk, events, cases))
    models = pl.DataFrame(rows, schema=MODELS_SCHEMA) if rows else MODELS_SCHEMA.to_frame()
    calibration_table = pl.concat(tenths) if tenths else CALIBRATION_SCHEMA.to_frame()
    return RiskModels(expected, models, calibration_table)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _counts(patterns: pl.DataFrame, outcome: str, columns: Sequence[str]) -> pl.DataFrame:
    """Return `cases` and `events` of `outcome` per combination of `columns`, sorted by them (nulls last)."""
    sums = [
        pl.col(f"{outcome}__cases").sum().alias("cases"),
        pl.col(f"{outcome}__events").sum().alias("events"),
    ]
    if not columns:
        return patterns.select(sums)
    return patterns.group_by(list(columns)).agg(sums).sort(list(columns), nulls_last=True)


def _levels(counts: pl.DataFrame, factors: Sequence[str]) -> dict[str, Any]:
    """Return each factor's level per pattern as text, a missing value being the level `unknown`."""
    return {f: counts[f].cast(pl.String).fill_null(UNKNOWN).to_numpy() for f in factors}


def _fit(counts: pl.DataFrame, analysis: AnalysisSettings) -> tuple[LogisticFit | None, str]:
    """Return the logistic fit of the counts, or None and why it is not used."""
    factors = list(analysis.risk_factors)
    events, cases = counts["events"].to_numpy().astype(np.float64), counts["cases"].to_numpy().astype(np.float64)
    levels = _levels(counts, factors)
    design = design_factors(levels, events, cases)
    parameters = parameter_count(design)
    fewest = min(events.sum(), cases.sum() - events.sum())
    minimum = analysis.min_events_per_parameter
    if fewest < minimum * parameters:
        return None, f"too few events for the logistic model: fewer than {minimum:g} per parameter"
    fitted = fit_patterns(levels, events, cases, design)
    if not fitted.converged or not np.all(np.isfinite(fitted.coefficients)):
        return None, "the logistic model did not converge"
    return fitted, ""


def _summary(
    outcome: str,
    model: str,
    used: bool,
    risk: Any,
    events: Any,
    cases: Any,
    note: str,
    *,
    parameters: int | None = None,
) -> dict[str, Any]:
    """Return the summary row of a model: counts, c-statistic with interval, calibration, Brier score."""
    risk, events, cases = (np.asarray(a, dtype=np.float64) for a in (risk, events, cases))
    known = (cases > 0) & np.isfinite(risk)
    with np.errstate(all="ignore"):  # a supplied risk outside [0, 1] gives no finite figure: null, below
        c = c_statistic(risk[known], events[known], cases[known])
        fit = calibration(risk[known], events[known], cases[known])
    return {
        "outcome": outcome,
        "model": model,
        "used": used,
        "cases": int(cases.sum()),
        "events": int(events.sum()),
        "parameters": parameters if parameters is not None else 1,
        "c_statistic": _number(c.value),
        "c_statistic_lower": _number(c.lower),
        "c_statistic_upper": _number(c.upper),
        "calibration_intercept": _number(fit.intercept),
        "calibration_slope": _number(fit.slope),
        "brier": _number(fit.brier),
        "note": note or None,
    }


def _terms(outcome: str, used: bool, fitted: LogisticFit) -> list[dict[str, Any]]:
    """Return one row per term of the fit: the intercept, each factor's reference, levels and pooled levels."""
    ratio, lower, upper = fitted.odds_ratios()
    base = {"outcome": outcome, "model": "logistic", "used": used}
    rows = [
        base
        | {
            "term": "(intercept)",
            "coefficient": float(fitted.coefficients[0]),
            "std_error": float(fitted.std_errors[0]),
            "odds_ratio": float(ratio[0]),
            "odds_ratio_lower": float(lower[0]),
            "odds_ratio_upper": float(upper[0]),
            "note": "odds of the event for a case at every reference level",
        }
    ]
    index = 1
    for factor in fitted.factors:
        where = {"factor": factor.name, "reference": factor.reference}
        rows.append(base | where | {"term": factor.term(factor.reference), "level": factor.reference} | _REFERENCE)
        for level in factor.levels:
            rows.append(
                base
                | where
                | {
                    "term": factor.term(level),
                    "level": level,
                    "coefficient": float(fitted.coefficients[index]),
                    "std_error": float(fitted.std_errors[index]),
                    "odds_ratio": float(ratio[index]),
                    "odds_ratio_lower": float(lower[index]),
                    "odds_ratio_upper": float(upper[index]),
                }
            )
            index += 1
        for level in factor.pooled:
            note = "pooled with the reference level: no events, or no non-events, at this level"
            rows.append(base | where | {"term": factor.term(level), "level": level, "note": note})
        for level in factor.aliased:
            note = "aliased with an earlier term (the same cases): its effect is in that term's"
            rows.append(base | where | {"term": factor.term(level), "level": level, "note": note})
    return rows


_REFERENCE: Final = {"odds_ratio": 1.0, "note": "reference level"}


def _tenths(outcome: str, model: str, risk: Any, events: Any, cases: Any) -> pl.DataFrame:
    """Return the calibration rows of a model: observed against expected by tenth of predicted risk."""
    risk, events, cases = (np.asarray(a, dtype=np.float64) for a in (risk, events, cases))
    table = by_tenth(risk, events, cases)
    return pl.DataFrame(
        {
            "outcome": outcome,
            "model": model,
            "tenth": table["tenth"],
            "cases": table["cases"],
            "events": table["events"],
            "observed": table["observed"],
            "expected": table["expected"],
        }
    ).cast(CALIBRATION_SCHEMA)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
