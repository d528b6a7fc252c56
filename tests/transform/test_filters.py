"""Row filters: named filters, date range, and the --where SQL predicate with everything it refuses."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from ector.errors import EXIT_USAGE, ConfigError
from ector.transform import filters
from ector.transform.dictionary import MART_COLUMN_NAMES


@pytest.fixture
def cases() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "case_id": ["a", "b", "c", "d"],
            "surgery_date": [date(2023, 12, 31), date(2024, 1, 1), date(2024, 6, 30), date(2024, 7, 1)],
            "procedure_family": ["colectomy", "cabg", "colectomy", "hip_replacement"],
            "site_id": ["H01", "H02", "H01", "H03"],
            "surgeon_id": ["S1", "S2", "S3", "S1"],
            "approach": ["robotic", "open", None, "laparoscopic"],
            "asa_class": pl.Series([1, 3, 4, None], dtype=pl.Int8),
            "note": ["x;y", "select", "--", "ok"],
        }
    )


def _ids(frame: pl.LazyFrame) -> list[str]:
    return sorted(frame.collect()["case_id"].to_list())


def test_date_range_is_inclusive_and_open_ended(cases: pl.LazyFrame) -> None:
    assert _ids(cases.filter(filters.date_range(date(2024, 1, 1), date(2024, 6, 30)))) == ["b", "c"]
    assert _ids(cases.filter(filters.date_range(since=date(2024, 6, 30)))) == ["c", "d"]
    assert _ids(cases.filter(filters.date_range(until=date(2023, 12, 31)))) == ["a"]
    assert _ids(cases.filter(filters.date_range())) == ["a", "b", "c", "d"]


def test_named_filters_combine(cases: pl.LazyFrame) -> None:
    assert _ids(cases.filter(filters.procedure_family("colectomy"))) == ["a", "c"]
    assert _ids(cases.filter(filters.site("H01", "H03"))) == ["a", "c", "d"]
    assert _ids(cases.filter(filters.surgeon("S1"))) == ["a", "d"]
    assert _ids(cases.filter(filters.approach("robotic", "laparoscopic"))) == ["a", "d"]
    assert _ids(cases.filter(filters.surgeon("S1") & filters.approach("robotic"))) == ["a"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("approach = 'robotic'", ["a"]),
        ("asa_class >= 3 OR approach IS NULL", ["b", "c"]),
        ("procedure_family IN ('cabg', 'hip_replacement') AND asa_class IS NULL", ["d"]),
        ("surgery_date BETWEEN '2024-01-01' AND '2024-06-30'", ["b", "c"]),  # date strings compare as dates
        ("surgery_date >= DATE '2024-07-01'", ["d"]),
        ("approach ILIKE 'LAP%'", ["d"]),
        ("note = 'x;y'", ["a"]),  # a ';' inside a string literal is data
        ("note = 'select'", ["b"]),
        ("note = '--'", ["c"]),
    ],
)
def test_where_keeps_matching_rows(cases: pl.LazyFrame, sql: str, expected: list[str]) -> None:
    assert _ids(filters.filter_where(cases, sql)) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("1=1; DROP TABLE x", "not statements"),
        ("approach = 'robotic';", "not statements"),
        ("read_parquet('x')", "table functions such as read_parquet"),
        ("read_csv('/etc/passwd') IS NOT NULL", "table functions such as read_csv"),
        ("case_id IN (SELECT case_id FROM cases)", "subqueries"),
        ("EXISTS (SELECT 1)", "subqueries"),
        ("asa_class > 1 AND (select 1)", "subqueries"),
        ("surgeon_name = 'Dr One'", "unknown column 'surgeon_name'"),
        ("bmi > 30 AND weight > 100", "unknown columns 'bmi', 'weight'"),
        ("asa_class > 1 -- and more", "comments"),
        ("asa_class > 1 /* x */", "comments"),
        ("count(*) > 10", "no aggregates"),
        ("asa_class > avg(asa_class) OVER (PARTITION BY site_id)", "no aggregates or window"),
        ("asa_class + 1", "true/false condition"),
        ("asa_class >", "not a valid SQL expression"),
        ("   ", "empty"),
    ],
)
def test_where_refuses_with_a_message_naming_the_problem(cases: pl.LazyFrame, sql: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        filters.filter_where(cases, sql)
    assert raised.value.exit_code == EXIT_USAGE


def test_where_checks_columns_against_the_given_list(cases: pl.LazyFrame) -> None:
    with pytest.raises(ConfigError, match="unknown column 'note'"):
        filters.filter_where(cases, "note = 'ok'", MART_COLUMN_NAMES)


def test_parse_where_accepts_mart_columns_without_a_frame() -> None:
    expression = filters.parse_where("mortality_30d AND age_band = '80+'", MART_COLUMN_NAMES)
    assert sorted(expression.meta.root_names()) == ["age_band", "mortality_30d"]
