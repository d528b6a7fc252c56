"""demo -> ingest -> consolidate -> transform -> workflows on demo data, against the demo's planted truth.

The stages run through the CLI, the path users take; the views are then called on transform/cases.parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from scipy.stats import binom

from ector.demo import write_demo
from ector.settings import AnalysisSettings
from ector.workflows import site_view, surgeon_view
from tests.gold import run_to_mart

HIGH = ["high_alert", "high_alarm"]
ALARMS = ["high_alarm", "low_alarm"]
DEMO_CASES = 20_000


def _pipeline(work: Path, seed: int) -> tuple[pl.LazyFrame, dict[str, Any]]:
    """Run demo and the stages up to transform; return the case mart and the planted truth."""
    demo = write_demo(work / "gold.sqlite", cases=DEMO_CASES, seed=seed)
    mart = pl.scan_parquet(run_to_mart(demo.source_uri, work / "ector-work"))
    return mart, demo.truth["planted"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.LazyFrame, dict[str, Any]]:
    return _pipeline(tmp_path_factory.mktemp("demo"), seed=7)


def test_demo_planted_high_complication_surgeons_are_flagged(demo: tuple[pl.LazyFrame, dict[str, Any]]) -> None:
    mart, planted = demo
    funnel = surgeon_view(mart, AnalysisSettings())["funnel"].lazy().collect()
    flagged = funnel.filter(pl.col("outcome") == "complication_major", pl.col("flag").is_in(HIGH))
    assert set(planted["high_complication_surgeons"]) <= set(flagged["unit_id"])


def test_demo_planted_high_mortality_sites_are_flagged(demo: tuple[pl.LazyFrame, dict[str, Any]]) -> None:
    mart, planted = demo
    funnel = site_view(mart, AnalysisSettings())["funnel"].lazy().collect()
    flagged = funnel.filter(pl.col("outcome") == "mortality_30d", pl.col("flag").is_in(HIGH))
    assert set(planted["high_mortality_sites"]) <= set(flagged["unit_id"])


def test_demo_planted_robotic_learning_curves_decrease(demo: tuple[pl.LazyFrame, dict[str, Any]]) -> None:
    mart, planted = demo
    curve = surgeon_view(mart, AnalysisSettings())["learning_curve"].lazy().collect()
    families = pl.DataFrame(
        list(planted["learning_curve_families"].items()), schema=["unit_id", "procedure_family"], orient="row"
    )
    robotic = curve.join(families, on=["unit_id", "procedure_family"]).filter(approach="robotic")
    middle = pl.col("case_sequence").median()
    halves = robotic.group_by("unit_id", "procedure_family").agg(
        early=pl.col("operative_minutes").filter(pl.col("case_sequence") <= middle).median(),
        late=pl.col("operative_minutes").filter(pl.col("case_sequence") > middle).median(),
    )
    assert halves.height == families.height
    assert (halves["late"] < halves["early"]).all()


@pytest.mark.slow
def test_demo_clean_surgeons_alarm_at_998_no_more_often_than_chance(tmp_path: Path) -> None:
    # Risk-adjusted (O/E) funnels only: crude proportions differ by case mix, which is what they show.
    alarms = trials = 0
    for seed in (11, 12, 13):
        mart, planted = _pipeline(tmp_path / str(seed), seed)
        at_planted_site = (
            mart.filter(pl.col("site_id").is_in(planted["high_mortality_sites"]))
            .select("surgeon_id")
            .unique()
            .collect()["surgeon_id"]
            .implode()
        )
        funnel = surgeon_view(mart, AnalysisSettings())["funnel"].lazy().collect()
        complication = pl.col("outcome").str.starts_with("complication")
        clean = funnel.filter(
            pl.col("measure") == "oe_ratio",
            pl.col("flag") != "too_few_cases",
            ~(complication & pl.col("unit_id").is_in(planted["high_complication_surgeons"])),
            ~((pl.col("outcome") == "mortality_30d") & pl.col("unit_id").is_in(at_planted_site)),
        )
        trials += clean.height
        alarms += int(clean["flag"].is_in(ALARMS).sum())
    assert trials > 0
    assert alarms <= binom.ppf(1 - 1e-4, trials, 0.002)


SEEDS = range(101, 121)  # 20 demo layers at the default size


@pytest.mark.slow
def test_on_20_demo_seeds_the_cusum_finds_the_planted_surgeon_and_clean_ones_rarely_signal(tmp_path: Path) -> None:
    from ector.report.disclosure import Disclosure
    from ector.report.prepare import units_table
    from ector.report.tables import units_gt

    analysis = AnalysisSettings()
    found = charts = false_signals = 0
    for seed in SEEDS:
        mart, planted = _pipeline(tmp_path / str(seed), seed)
        tables = surgeon_view(mart, analysis)
        signals = tables["signals"].lazy().collect()
        cusum = tables["cusum"].lazy().collect()
        bad = planted["high_complication_surgeons"]
        upper = signals.filter(chart="cusum_upper", outcome="complication_major")
        found += set(bad) <= set(upper["unit_id"])
        # Clean: every surgeon's major-complication charts but the planted one's (mortality is planted per site,
        # and a surgeon's cases there carry it). A chart, upper or lower, counts once: a false signal is one within
        # its first analysis.cusum.horizon_cases cases, where P(signal) is 1% by the choice of h (less for a
        # surgeon with fewer cases).
        clean = cusum.filter(pl.col("outcome") == "complication_major", ~pl.col("unit_id").is_in(bad))
        charts += 2 * clean["unit_id"].n_unique()
        clean_signals = signals.filter(
            pl.col("outcome") == "complication_major",
            pl.col("chart").is_in(["cusum_upper", "cusum_lower"]),
            pl.col("case_seq") <= analysis.cusum.horizon_cases,
            ~pl.col("unit_id").is_in(bad),
        )
        false_signals += clean_signals.select("unit_id", "chart").n_unique()
        # Fair colours: only O/E cells are coloured, so no crude rate of a cardiothoracic surgeon is set against
        # the other specialties'.
        summary, funnel = tables["summary"].lazy().collect(), tables["funnel"].lazy().collect()
        outcomes = funnel["outcome"].unique().sort().to_list()
        labels = {u: u for u in summary["unit_id"].to_list()}
        frame = units_table(summary, funnel, outcomes, labels, Disclosure("internal", 11))
        bulk = units_gt(frame, outcomes, k=11, external=False, unit_noun="surgeon", attributes=["specialty"],
                        table_id="s", title="Surgeons")  # fmt: skip
        assert "cardiothoracic" in summary["specialty"].to_list()
        coloured = [column for column, fill in bulk.fills.items() if fill.is_not_null().any()]
        assert coloured and all(column.endswith("__oe") for column in coloured)
    print(f"planted found in {found} of {len(SEEDS)}; {false_signals} false signals in {charts} clean charts")
    assert found >= 18
    # At most 1% of clean charts, plus three standard errors of a binomial share (Monte Carlo error).
    assert false_signals <= charts * 0.01 + 3 * (charts * 0.01 * 0.99) ** 0.5, (false_signals, charts)
