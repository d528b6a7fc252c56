"""The planted dirt against the data itself: counted by an independent reference consolidation."""

from __future__ import annotations

import tempfile
from datetime import date, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ector.consolidate import codes, rules
from ector.contract import TABLE_NAMES, TABLES
from ector.demo import variants, write_demo
from ector.demo.dirt import QUARANTINE_TABLES, plan
from tests.demo.conftest import Demo, read_parquet_layer
from tests.demo.reference import Consolidated, consolidate


@pytest.fixture(scope="module")
def consolidated(dirty_demo: Demo) -> dict[str, Consolidated]:
    return consolidate(dirty_demo.tables, dirty_demo.run_date)


def _assert_truth_matches(truth: dict[str, object], result: dict[str, Consolidated]) -> None:
    expected = truth["expected"]
    assert isinstance(expected, dict)
    for name in TABLE_NAMES:
        table, counted = expected[name], result[name]
        assert table["rows_in"] == counted.rows_in, name
        assert table["duplicates_by_rule"] == counted.duplicates_by_rule, name
        assert table["repairs"] == counted.repairs, name
        assert {r: n for r, n in table["quarantine_by_rule"].items() if n} == counted.quarantine_by_rule, name
        assert table["quarantined"] == counted.quarantined, name
        assert table["rows_out"] == counted.frame.height, name
        optional = [c.name for c in TABLES[name].columns if not c.required]
        nulls = {c: counted.frame.get_column(c).null_count() for c in optional}
        assert table["notes"]["missing_optional_by_column"] == nulls, name


def test_truth_counts_equal_what_a_reference_consolidation_counts(
    dirty_demo: Demo, consolidated: dict[str, Consolidated]
) -> None:
    _assert_truth_matches(dirty_demo.truth, consolidated)


def test_every_broken_row_breaks_exactly_one_rule(consolidated: dict[str, Consolidated]) -> None:
    for name, result in consolidated.items():
        assert result.rows_breaking_several_rules == 0, name
        assert result.repaired_rows_not_kept == 0, name


def test_consolidating_the_dirty_layer_gives_the_clean_layer_less_its_quarantine(
    clean_demo: Demo, consolidated: dict[str, Consolidated]
) -> None:
    for name, table in TABLES.items():
        lost = consolidated[name].quarantined_keys
        clean = clean_demo.tables[name].filter(~pl.col(table.key).is_in(list(lost))).sort(table.key)
        assert consolidated[name].frame.equals(clean), name


def test_dirt_counts_are_the_planted_kinds_of_each_table(dirty_demo: Demo) -> None:
    for name, table in TABLES.items():
        assert set(dirty_demo.truth["dirt"][name]) == {p.rule for p in plan(table)}, name
        for rule, count in dirty_demo.truth["dirt"][name].items():
            assert sum(dirty_demo.truth["dirt_by_column"][name].get(rule, {}).values()) == count, (name, rule)


def test_rows_balance_in_every_table(dirty_demo: Demo) -> None:
    for name, e in dirty_demo.truth["expected"].items():
        assert e["rows_in"] == e["rows_out"] + e["duplicates_merged"] + e["quarantined"], name


@pytest.mark.parametrize("fixture", ["dirty_demo", "default_demo"])
def test_quarantine_with_cascades_stays_well_under_five_percent(fixture: str, request: pytest.FixtureRequest) -> None:
    demo: Demo = request.getfixturevalue(fixture)
    for name, e in demo.truth["expected"].items():
        assert e["quarantined"] / e["rows_in"] < 0.04, name


def test_default_layer_plants_every_kind_and_cascades(default_demo: Demo) -> None:
    truth = default_demo.truth
    for name in QUARANTINE_TABLES:
        assert all(count > 0 for count in truth["dirt"][name].values()), (name, truth["dirt"][name])
        if name != "patients":
            assert truth["expected"][name]["quarantine_by_rule"][rules.PARENT_QUARANTINED] > 0, name
    for name in ("sites", "surgeons"):
        assert truth["dirt"][name][rules.DUPLICATE_EXACT] > 0 and truth["dirt"][name][rules.KEY_VARIANT] > 0


def test_default_layer_truth_equals_a_reference_consolidation(default_demo: Demo) -> None:
    _assert_truth_matches(default_demo.truth, consolidate(default_demo.tables, default_demo.run_date))


def test_clean_layer_has_no_dirt(clean_demo: Demo) -> None:
    truth = clean_demo.truth
    assert all(n == 0 for kinds in truth["dirt"].values() for n in kinds.values())
    result = consolidate(clean_demo.tables, clean_demo.run_date)
    for name, table in TABLES.items():
        frame = clean_demo.tables[name]
        expected = truth["expected"][name]
        assert expected["rows_in"] == expected["rows_out"] == frame.height, name
        assert result[name].frame.equals(frame.sort(table.key)), name  # nothing repaired, merged, quarantined
        assert result[name].quarantine_by_rule == {} and sum(result[name].repairs.values()) == 0, name
        assert frame.get_column(table.key).is_unique().all(), name
        for column in table.columns:
            if column.codes is not None:
                assert set(frame.get_column(column.name).drop_nulls().unique()) <= set(column.codes), column.name
            if column.required:
                assert frame.get_column(column.name).null_count() == 0, (name, column.name)


def test_clean_layer_chronology_holds(clean_demo: Demo) -> None:
    cases = clean_demo.tables["cases"]
    assert cases.filter(pl.col("surgery_end") < pl.col("surgery_start")).height == 0
    assert cases.filter(pl.col("discharge_date") < pl.col("admission_date")).height == 0
    assert cases.filter(pl.col("surgery_start").dt.date() < pl.col("admission_date")).height == 0
    assert cases.filter(pl.col("discharge_date") < pl.col("surgery_end").dt.date()).height == 0
    encounters = clean_demo.tables["encounters"]
    assert encounters.filter(pl.col("discharge_date") < pl.col("admission_date")).height == 0
    onset = clean_demo.tables["complications"].join(cases, on="case_id")
    assert onset.filter(pl.col("onset_date") < pl.col("surgery_start").dt.date()).height == 0


def test_repairable_values_come_from_consolidations_own_maps_and_formats(dirty_demo: Demo) -> None:
    cases = dirty_demo.tables["cases"]
    approaches = set(cases.get_column("approach").drop_nulls().unique())
    assert approaches - set(codes.APPROACH.values())  # some variants were planted...
    mapped = {a for a in approaches if a.strip().lower() in codes.APPROACH}
    assert approaches - mapped <= set(variants.UNMAPPED["approach"])  # ...and every other value is unmapped on purpose
    starts = cases.get_column("surgery_start").drop_nulls()
    formats = (variants.ISO_TIMESTAMP, *variants.TIMESTAMP_TEXT_FORMATS, variants.NAMED_MONTH_TIMESTAMP)
    assert all(not variants.unparseable(s, formats) for s in starts.to_list())


def test_garbage_dates_parse_in_no_configured_format() -> None:
    for text in variants.GARBAGE_DATES:
        assert variants.unparseable(text, codes.DATE_FORMATS), text
    for text in variants.GARBAGE_TIMESTAMPS:
        assert variants.unparseable(text, codes.TIMESTAMP_FORMATS), text


@pytest.mark.parametrize("dtype", [pl.Date(), pl.Datetime("us")])
def test_planted_slash_dates_are_ambiguous_only_beside_a_day_above_12(dtype: pl.DataType) -> None:
    # Every day 12 or less, none the 3rd (03/03 reads as one date either way).
    early = pl.Series([date(2024, 3, d) for d in range(1, 13) if d != 3] * 4).cast(dtype)
    late = pl.concat([early, pl.Series([date(2024, 3, 25)]).cast(dtype)])

    alone = variants.date_texts(early, np.random.default_rng(1))
    beside = variants.date_texts(late, np.random.default_rng(1))

    slash = r"^\d{2}/\d{2}/"
    assert not alone.str.contains(slash).any()  # each would read as two dates: written with the month's name
    assert alone.str.contains("-Mar-2024").sum() > 0
    assert beside.str.contains(slash).sum() > 1  # the 25th is evidence: day-first slash text is read as such


def test_unmapped_codes_are_in_no_map() -> None:
    for column, values in variants.UNMAPPED.items():
        for value in values:
            assert value.strip().lower() not in codes.CODE_MAPS[column], (column, value)


def test_planted_text_formats_are_configured_non_iso_formats() -> None:
    assert {*variants.DATE_TEXT_FORMATS, variants.NAMED_MONTH_DATE} <= set(codes.DATE_FORMATS[1:])
    assert {*variants.TIMESTAMP_TEXT_FORMATS, variants.NAMED_MONTH_TIMESTAMP} <= set(codes.TIMESTAMP_FORMATS[1:])
    moment = datetime(2024, 11, 30, 14, 5)
    for fmt in variants.DATE_TEXT_FORMATS:
        assert datetime.strptime(moment.strftime(fmt), fmt).date() == date(2024, 11, 30)


def test_every_code_variant_maps_back_to_its_canonical_value() -> None:
    for column in codes.CODE_MAPS:
        for canonical, spellings in variants.variants_of(column, boolean=False).items():
            assert all(codes.CODE_MAPS[column][s.strip().lower()] == canonical for s in spellings)
            assert canonical not in spellings


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.integers(min_value=100, max_value=2_500), seed=st.integers(min_value=0, max_value=2**32))
def test_truth_matches_the_data_for_any_seed_and_size(cases: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = write_demo(f"{folder}/", cases=cases, seed=seed)
        tables = read_parquet_layer(result.truth_path.parent)
    counted = consolidate(tables, date.fromisoformat(result.truth["run_date"]))
    _assert_truth_matches(result.truth, counted)
    assert all(c.rows_breaking_several_rules == 0 for c in counted.values())
