"""Disclosure control on tiny hand-made frames: small counts, complements, dependent rates, pseudonyms, dates."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ector.errors import EXIT_USAGE, ConfigError, EctorError
from ector.report import disclosure
from ector.report.disclosure import (
    COMPLEMENTARY,
    SMALL,
    disclosure_for,
    identifiers_found,
    months_only,
    pseudonym,
    pseudonymise,
    suppress_counts,
    top_code_ages,
)
from ector.settings import load_settings

K = 11


def _withheld(frame: pl.DataFrame, column: str) -> list[str | None]:
    return frame[f"{column}__withheld"].to_list()


def test_counts_one_to_k_minus_one_are_withheld_and_zero_and_k_shown() -> None:
    frame = pl.DataFrame({"unit": ["a", "b", "c", "d", "e"], "events": [0, 1, 10, 11, 250]})

    result = suppress_counts(frame, ["events"], K)

    assert result["events"].to_list()[0] == 0
    assert _withheld(result, "events")[:3] == [None, SMALL, SMALL]
    assert result["events"].to_list()[1:3] == [None, None]
    # 11 and 250 stay; one of them may be withheld as a complement, but never shown as small.
    assert SMALL not in _withheld(result, "events")[3:]


def test_a_single_small_count_gets_a_complement_so_the_total_cannot_reveal_it() -> None:
    frame = pl.DataFrame({"unit": ["a", "b", "c", "d"], "events": [3, 40, 25, 100]})

    result = suppress_counts(frame, ["events"], K)

    assert _withheld(result, "events") == [SMALL, None, COMPLEMENTARY, None]  # the smallest visible cell, 25
    shown = sum(v for v in result["events"].to_list() if v is not None)
    hidden_total = 168 - shown  # what a reader gets from the published total
    assert hidden_total == 28  # 3 + 25: cannot be split back into 3 and 25 (any 1..10 fits with a 25-ish)


def test_two_small_cells_that_pin_each_other_get_a_complement() -> None:
    # Two withheld cells summing to 2 can only be 1 and 1: a third cell must go.
    frame = pl.DataFrame({"events": [1, 1, 30, 50]})

    result = suppress_counts(frame, ["events"], K)

    assert _withheld(result, "events") == [SMALL, SMALL, COMPLEMENTARY, None]


def test_complements_are_chosen_within_each_line_only() -> None:
    frame = pl.DataFrame({"outcome": ["death", "death", "stroke", "stroke"], "events": [2, 30, 40, 50]})

    result = suppress_counts(frame, ["events"], K, lines=[["outcome"]])

    assert _withheld(result, "events") == [SMALL, COMPLEMENTARY, None, None]


def test_a_line_whose_every_count_is_small_needs_no_complement_beyond_itself() -> None:
    # 4 + 5: the line's total (9) is itself small, so it is withheld wherever it is published.
    frame = pl.DataFrame({"events": [4, 5, 0]})

    result = suppress_counts(frame, ["events"], K)

    assert _withheld(result, "events") == [SMALL, SMALL, None]
    assert result["events"].to_list() == [None, None, 0]


def test_rates_of_a_withheld_count_are_withheld_too() -> None:
    frame = pl.DataFrame(
        {"events": [3, 50, 60], "cases": [200, 300, 400], "rate": [0.015, 0.167, 0.15], "rate_lower": [0.01, 0.1, 0.1]}
    )

    result = suppress_counts(frame, ["events"], K, dependents={"events": ["rate", "rate_lower"]})

    assert result["rate"].to_list() == [None, None, pytest.approx(0.15)]  # the complement's rate goes as well
    assert result["rate_lower"].to_list()[:2] == [None, None]
    assert result["cases"].to_list() == [200, 300, 400]


def test_unknown_counts_are_neither_withheld_nor_used_as_complements() -> None:
    frame = pl.DataFrame({"events": [3, None, 20, 30]}, schema={"events": pl.Int64})

    result = suppress_counts(frame, ["events"], K)

    assert _withheld(result, "events") == [SMALL, None, COMPLEMENTARY, None]


def _possible_values(kinds: list[str], total: int, k: int, i: int) -> int:
    """Return how many values cell i can take given the withheld cells' sum: a small cell lies in 1..k-1, a
    complement in k.. (a visible non-zero count is at least k). Ranges are intervals, so their sums are too."""
    low = {SMALL: 1, COMPLEMENTARY: k}
    others = [kind for j, kind in enumerate(kinds) if j != i]
    others_min = sum(low[kind] for kind in others)
    others_max = float("inf") if COMPLEMENTARY in others else sum(k - 1 for _ in others)
    cell_low, cell_high = low[kinds[i]], (k - 1 if kinds[i] == SMALL else float("inf"))
    start, stop = max(cell_low, total - others_max), min(cell_high, total - others_min)
    return 0 if stop < start else int(min(stop - start + 1, 2))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12),
    st.integers(min_value=3, max_value=15),  # with k = 2, `<2` can only mean 1: no rule can hide it
)
def test_no_withheld_count_can_be_worked_out_from_the_line_total(values: list[int], k: int) -> None:
    result = suppress_counts(pl.DataFrame({"n": values}), ["n"], k)
    kinds = _withheld(result, "n")

    assert all(kind == SMALL for v, kind in zip(values, kinds, strict=True) if 1 <= v < k)
    hidden = [(v, kind) for v, kind in zip(values, kinds, strict=True) if kind is not None]
    visible_nonzero = any(kind is None and v > 0 for v, kind in zip(values, kinds, strict=True))
    if hidden and sum(values) >= k and visible_nonzero:
        hidden_kinds = [kind for _, kind in hidden]
        hidden_sum = sum(v for v, _ in hidden)  # what the published total gives away
        assert all(_possible_values(hidden_kinds, hidden_sum, k, i) >= 2 for i in range(len(hidden)))


def test_pseudonyms_are_stable_for_a_key_and_differ_between_keys() -> None:
    key, other = b"a-secret-key-for-tests", b"another-secret-key-for-tests"
    ids = ["S0001", "S0002", "12345"]

    first = [pseudonym(i, key) for i in ids]

    assert first == [pseudonym(i, key) for i in ids]
    assert len(set(first)) == len(ids)
    assert all(a != b for a, b in zip(first, [pseudonym(i, other) for i in ids], strict=True))
    assert all(code.startswith("SRG-") and len(code) == len("SRG-XXXX-XXXX") for code in first)
    assert not any(i in code for i in ids for code in first)


def test_pseudonymise_replaces_every_id_and_keeps_nulls() -> None:
    frame = pl.DataFrame({"unit_id": ["S0001", None, "S0001", "S0002"]})

    result = pseudonymise(frame, "unit_id", b"a-secret-key-for-tests")

    assert result["unit_id"].to_list() == [
        pseudonym("S0001", b"a-secret-key-for-tests"),
        None,
        pseudonym("S0001", b"a-secret-key-for-tests"),
        pseudonym("S0002", b"a-secret-key-for-tests"),
    ]


def test_two_ids_sharing_a_pseudonym_stop_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure, "pseudonym", lambda surgeon_id, key: "SRG-SAME-CODE")

    with pytest.raises(EctorError, match="share a pseudonym"):
        pseudonymise(pl.DataFrame({"unit_id": ["a", "b"]}), "unit_id", b"k" * 16)


def test_external_report_without_a_key_is_a_configuration_error_naming_the_variable() -> None:
    settings = load_settings(overrides={"report.audience": "external"})

    with pytest.raises(ConfigError) as error:
        disclosure_for(settings)

    assert error.value.exit_code == EXIT_USAGE
    assert "ECTOR_PRIVACY__PSEUDONYM_KEY" in str(error.value)


def test_a_short_pseudonym_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECTOR_PRIVACY__PSEUDONYM_KEY", "tiny-key-7")

    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        disclosure_for(load_settings(), "external")


def test_internal_report_needs_no_key_and_the_audience_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECTOR_REPORT__AUDIENCE", "external")

    rules = disclosure_for(load_settings(), "internal")

    assert not rules.external
    assert rules.pseudonym("S0001") == "S0001"


def test_dates_are_cut_to_the_month() -> None:
    frame = pl.DataFrame({"first": [date(2024, 12, 31)], "at": [datetime(2023, 3, 9, 14, 5)], "n": [3]})

    result = months_only(frame)

    assert result.row(0) == ("2024-12", "2023-03", 3)


def test_ages_over_89_are_shown_as_90_plus() -> None:
    frame = pl.DataFrame({"age": [45, 89, 90, 103]})

    assert top_code_ages(frame, ["age"])["age"].to_list() == ["45", "89", "90+", "90+"]


def test_identifiers_are_found_as_whole_words_outside_embedded_images() -> None:
    texts = [
        '<td>S0012</td><img src="data:image/png;base64,QUFBUzAwMTNBQUE=S0013">',
        "<p>Dr Ann Quillfeather operated</p>",
    ]

    found = identifiers_found(texts, ["S0012", "S0013", "S001", "Ann Quillfeather", "Bo"])

    assert found == ["Ann Quillfeather", "S0012"]
