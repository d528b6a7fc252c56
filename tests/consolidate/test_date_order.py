"""Day-first or month-first: a date text that both orders read, to different dates, is never guessed.

The default formats hold both orders of the slash formats (`%d/%m/%Y` and `%m/%d/%Y`, and the timestamps'), so
per column the values decide: a first field above 12 is evidence of day-first, a second field above 12 of
month-first. A column with evidence of one order only is read in it; otherwise the values the two orders read
differently are quarantined as `ambiguous_date`, unless `consolidation.date_order` states the column's order.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from ector.consolidate import consolidate, rules
from ector.errors import ConfigError
from ector.materialise import InMemory
from ector.settings import ConsolidationSettings
from tests.consolidate.frames import RUN_DATE, gold, run


def _onsets(*texts: str | None) -> dict[str, pl.DataFrame]:
    """The tiny Gold layer with complications whose onset dates are `texts` (one complication each)."""
    tables = gold("complications")
    first = tables["complications"].head(1).with_columns(pl.col("onset_date").cast(pl.String))
    tables["complications"] = pl.concat(
        first.with_columns(complication_id=pl.lit(f"K{i + 1}"), onset_date=pl.lit(text, dtype=pl.String))
        for i, text in enumerate(texts)
    )
    return tables


def _onset_dates(clean: pl.DataFrame) -> dict[str, date]:
    return dict(zip(clean["complication_id"].to_list(), clean["onset_date"].to_list(), strict=True))


def test_a_first_field_above_12_makes_the_column_day_first() -> None:
    outcome = run(_onsets("06/03/2019", "25/03/2019"))

    assert _onset_dates(outcome.clean["complications"]) == {"K1": date(2019, 3, 6), "K2": date(2019, 3, 25)}
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 2
    assert outcome.quarantine["complications"].height == 0


def test_a_second_field_above_12_makes_the_column_month_first() -> None:
    # Before: K2 was unparseable and K1 silently became the 6th of March.
    outcome = run(_onsets("06/03/2019", "03/25/2019"))

    assert _onset_dates(outcome.clean["complications"]) == {"K1": date(2019, 6, 3), "K2": date(2019, 3, 25)}
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 2
    assert outcome.quarantine["complications"].height == 0


def test_dates_both_orders_read_differently_are_quarantined_without_evidence() -> None:
    outcome = run(_onsets("06/03/2019", "05/05/2019", "2019-03-07"))

    assert outcome.quarantined("complications") == {"K1": [rules.AMBIGUOUS_DATE]}
    assert outcome.reason("complications", "K1") == "ambiguous_date: onset_date '06/03/2019'"
    assert outcome.count("complications", rules.AMBIGUOUS_DATE, "quarantine") == 1
    assert outcome.count("complications", rules.UNPARSEABLE_DATE, "quarantine") == 0
    # The 5th of May reads the same in both orders; ISO text is never ambiguous.
    assert _onset_dates(outcome.clean["complications"]) == {"K2": date(2019, 5, 5), "K3": date(2019, 3, 7)}
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 1


def test_evidence_of_both_orders_reads_each_value_in_the_only_order_it_fits() -> None:
    outcome = run(_onsets("25/03/2019", "03/25/2019", "06/03/2019"))

    assert _onset_dates(outcome.clean["complications"]) == {"K1": date(2019, 3, 25), "K2": date(2019, 3, 25)}
    assert outcome.quarantined("complications") == {"K3": [rules.AMBIGUOUS_DATE]}


@pytest.mark.parametrize(("order", "read"), [("day_first", date(2019, 3, 6)), ("month_first", date(2019, 6, 3))])
def test_the_stated_order_reads_the_column(order: str, read: date) -> None:
    outcome = run(_onsets("06/03/2019"), date_order={"complications": {"onset_date": order}})

    assert _onset_dates(outcome.clean["complications"]) == {"K1": read}
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 1


def test_a_value_against_the_stated_order_is_unparseable() -> None:
    outcome = run(_onsets("06/03/2019", "03/25/2019"), date_order={"complications": {"onset_date": "day_first"}})

    assert _onset_dates(outcome.clean["complications"]) == {"K1": date(2019, 3, 6)}
    assert outcome.quarantined("complications") == {"K2": [rules.UNPARSEABLE_DATE]}


def test_iso_dates_are_read_as_they_are() -> None:
    outcome = run(_onsets("2019-03-06", "2019-06-03", "2019-12-25", None))

    assert _onset_dates(outcome.clean["complications"]) == {
        "K1": date(2019, 3, 6),
        "K2": date(2019, 6, 3),
        "K3": date(2019, 12, 25),
        "K4": None,
    }
    assert outcome.count("complications", rules.DATE_FORMAT, "repair") == 0
    assert outcome.quarantine["complications"].height == 0


def test_formats_of_one_order_state_it() -> None:
    outcome = run(_onsets("06/03/2019"), date_formats=["%Y-%m-%d", "%d/%m/%Y"])

    assert _onset_dates(outcome.clean["complications"]) == {"K1": date(2019, 3, 6)}


def test_each_column_has_its_own_evidence() -> None:
    tables = gold("cases")
    cases = tables["cases"].with_columns(pl.col("admission_date", "discharge_date").cast(pl.String))
    admissions = ["13/01/2024", "02/01/2024", "02/01/2024", "02/01/2024"]
    discharges = ["01/14/2024", "01/03/2024", "01/03/2024", None]
    tables["cases"] = cases.with_columns(
        admission_date=pl.Series(admissions, dtype=pl.String), discharge_date=pl.Series(discharges, dtype=pl.String)
    )

    outcome = run(tables)

    clean = outcome.clean["cases"].sort("case_id")
    assert clean["admission_date"].to_list() == [date(2024, 1, 13), *[date(2024, 1, 2)] * 3]
    assert clean["discharge_date"].to_list() == [date(2024, 1, 14), date(2024, 1, 3), date(2024, 1, 3), None]


def test_ambiguous_timestamp_is_quarantined_and_a_stated_order_reads_it() -> None:
    tables = gold("cases")
    starts = tables["cases"]["surgery_start"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list()
    starts[0] = "01/10/2024 08:00"  # C1 started on the 10th of January
    tables["cases"] = tables["cases"].with_columns(surgery_start=pl.Series(starts, dtype=pl.String))

    assert run(tables).quarantined("cases") == {"C1": [rules.AMBIGUOUS_DATE]}
    stated = run(tables, date_order={"cases": {"surgery_start": "month_first"}})
    assert stated.clean["cases"].sort("case_id")["surgery_start"][0] == datetime(2024, 1, 10, 8)
    assert stated.quarantine["cases"].height == 0


def test_evidence_is_gathered_over_the_whole_table_not_a_chunk() -> None:
    tables = _onsets("06/03/2019", "07/03/2019", "08/03/2019", "25/03/2019")
    memory = InMemory()

    consolidate({k: v.lazy() for k, v in tables.items()}, ConsolidationSettings(), RUN_DATE, memory, chunk_rows=1)

    clean = memory.outputs["complications"]
    assert clean["onset_date"].to_list() == [date(2019, 3, d) for d in (6, 7, 8, 25)]


def test_a_stated_order_without_formats_of_both_orders_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"consolidation\.date_order\.complications\.onset_date"):
        run(
            _onsets("06/03/2019"),
            date_formats=["%Y-%m-%d", "%d/%m/%Y"],
            timestamp_formats=["%Y-%m-%d %H:%M:%S"],
            date_order={"complications": {"onset_date": "month_first"}},
        )
