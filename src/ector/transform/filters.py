"""Row filters over the case mart: date range, procedure family, site, surgeon, approach, and a SQL predicate.

The named filters return Polars expressions, to combine freely (`&`, `|`) or hand to `LazyFrame.filter`.
`where` takes one SQL expression from a user (`ector transform --where ...`) and refuses anything but a single
row predicate over known columns: no statements, no subqueries, no table functions, no aggregates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from datetime import date

import polars as pl
from polars.exceptions import PolarsError

from ector.errors import ConfigError
from ector.transform.dictionary import MART_COLUMN_NAMES

_HINT = "give one SQL condition over the table's columns, e.g. --where \"approach = 'robotic' AND asa_class >= 3\""
# Quoted text is blanked before the keyword scan, so 'select' inside a string literal is no subquery.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_SUBQUERY = re.compile(r"\b(select|from|with|union|intersect|except|exists|values|table|lateral)\b", re.IGNORECASE)
# Conversions in a condition whose failure depends on the values converted.
_CAST = re.compile(r"\b(?:try_)?cast\b|::|\bstrptime\b|\bto_date\b|\bto_timestamp\b|\bdate\s*\(", re.IGNORECASE)
_FILE_FUNCTION = re.compile(r"\b((?:read|scan)_\w+)\s*\(", re.IGNORECASE)


def date_range(since: date | None = None, until: date | None = None, column: str = "surgery_date") -> pl.Expr:
    """Return a predicate keeping rows whose `column` lies in since..until, both inclusive; None is unbounded."""
    predicate = pl.lit(True)
    if since is not None:
        predicate &= pl.col(column) >= since
    if until is not None:
        predicate &= pl.col(column) <= until
    return predicate


def _one_of(column: str, values: Iterable[str]) -> pl.Expr:
    return pl.col(column).is_in(list(values))


def procedure_family(*families: str) -> pl.Expr:
    """Return a predicate keeping cases of any of the given procedure families."""
    return _one_of("procedure_family", families)


def site(*site_ids: str) -> pl.Expr:
    """Return a predicate keeping cases operated at any of the given sites."""
    return _one_of("site_id", site_ids)


def surgeon(*surgeon_ids: str) -> pl.Expr:
    """Return a predicate keeping cases of any of the given operating surgeons."""
    return _one_of("surgeon_id", surgeon_ids)


def approach(*approaches: str) -> pl.Expr:
    """Return a predicate keeping cases done by any of the given approaches (open, laparoscopic, robotic)."""
    return _one_of("approach", approaches)


def parse_where(sql: str, allowed_columns: Collection[str]) -> pl.Expr:
    """Return the Polars expression of one SQL condition; ConfigError naming what is wrong with it.

    Refused: an empty condition, `;` or several statements, comments, subqueries (SELECT, EXISTS, ...), table
    functions (read_parquet, read_csv, ...), aggregates and windows, and columns not in `allowed_columns`.
    """
    text = sql.strip()
    if not text:
        raise ConfigError("--where is empty", _HINT)
    bare = _QUOTED.sub("''", text)
    if ";" in bare:
        raise ConfigError("--where takes one SQL expression, not statements: remove the ';'", _HINT)
    if "--" in bare or "/*" in bare:
        raise ConfigError("--where may not contain SQL comments", _HINT)
    if match := _FILE_FUNCTION.search(bare):
        raise ConfigError(f"--where may not call table functions such as {match[1]}(...)", _HINT)
    if match := _SUBQUERY.search(bare):
        raise ConfigError(f"--where may not contain subqueries or statements ({match[1].upper()})", _HINT)
    try:
        expression = pl.sql_expr(text)
        _check_expression(expression, allowed_columns)
    except PolarsError as exc:
        raise ConfigError(f"--where is not a valid SQL expression: {_first_line(exc)}", _HINT) from None
    except RecursionError:
        # Hundreds of ORs nest as deep as they are long, deeper than Python walks the expression's tree.
        raise ConfigError(
            "--where is nested too deeply to check", "test a list of values with IN (...) instead of many ORs"
        ) from None
    return expression


def _check_expression(expression: pl.Expr, allowed_columns: Collection[str]) -> None:
    nodes = _node_types(json.loads(expression.meta.serialize(format="json")))
    # A second line of defence behind the keyword scan: a subquery that got through shows up in the tree.
    if "SubPlan" in nodes:
        raise ConfigError("--where may not contain subqueries", _HINT)
    if nodes & {"Agg", "Len", "Window"}:
        raise ConfigError("--where must test each case on its own: no aggregates or window functions", _HINT)
    unknown = sorted({c for c in expression.meta.root_names() if c not in allowed_columns})
    if unknown:
        raise ConfigError(
            f"--where names unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}",
            f"known columns: {', '.join(sorted(allowed_columns))}",
        )


def _node_types(tree: object) -> set[str]:
    """Return the node names of a serialized expression tree (dict keys and unit variants), literals skipped."""
    if isinstance(tree, str):
        return {tree}
    if isinstance(tree, list):
        return set().union(*(_node_types(item) for item in tree)) if tree else set()
    if isinstance(tree, dict):
        found = set(tree)
        for key, value in tree.items():
            if key != "Literal":  # a string literal such as 'Len' is data, not a node
                found |= _node_types(value)
        return found
    return set()


def filter_where(frame: pl.LazyFrame, sql: str, allowed_columns: Collection[str] | None = None) -> pl.LazyFrame:
    """Return `frame` filtered by one SQL condition (see `parse_where`); columns default to the frame's own.

    The condition must be true/false; ConfigError otherwise. It is applied through Polars SQL, so a date
    column compares with a date string as in any SQL engine (`surgery_date >= '2024-01-01'`).
    """
    parse_where(sql, frame.collect_schema().names() if allowed_columns is None else allowed_columns)
    # Safe to splice: parse_where has proved `sql` is exactly one expression, with nothing before or after it.
    context = pl.SQLContext({"mart": frame}, eager=False)
    try:
        dtype = context.execute(f"SELECT ({sql}) AS keep FROM mart").collect_schema()["keep"]
        if dtype == pl.Boolean:
            _check_on_a_row(frame.collect_schema(), sql)
            return context.execute(f"SELECT * FROM mart WHERE ({sql})")
    except PolarsError as exc:
        raise ConfigError(f"--where cannot be applied: {_first_line(exc)}", _HINT) from None
    raise ConfigError(f"--where must be a true/false condition, but gives {dtype}", _HINT)


def _check_on_a_row(schema: pl.Schema, sql: str) -> None:
    """Evaluate the condition on one row of nulls: what fails whatever the data (an invalid regex, a text compared
    with a number, a literal that is no date) fails here, before anything is read, and not deep in a stage."""
    row = pl.DataFrame([pl.Series(name, [None], dtype=dtype) for name, dtype in schema.items()])
    pl.SQLContext({"mart": row}, eager=True).execute(f"SELECT * FROM mart WHERE ({sql})")


def where_failed(error: Exception, sql: str) -> ConfigError | None:
    """The error to show when a plan filtered by condition `sql` failed with `error` because of the data, else None.

    What a row of nulls cannot show (`_check_on_a_row`): a cast in the condition that some value does not survive,
    named by Polars with its column (`CAST(case_id AS INT)` of 'C000051'; Parquet statistics as 'case_id_min'),
    or a text cast to a date whose values fit no date format (Polars names no column then).
    """
    text = str(error)
    if isinstance(error, pl.exceptions.InvalidOperationError):
        try:
            columns = pl.sql_expr(sql).meta.root_names()
        except PolarsError:
            return None
        ours = any(f"in column '{column}" in text for column in columns)
    else:
        ours = isinstance(error, pl.exceptions.ComputeError) and bool(_CAST.search(_QUOTED.sub("''", sql)))
    if not ours:
        return None
    return ConfigError(
        f"--where cannot be evaluated on the rows: {_first_line(error)}",
        "compare each column with values of its own type, e.g. asa_class >= 3 or case_id = 'C000051'",
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_selection(where: str | None, since: date | None, until: date | None) -> None:
    """Raise ConfigError when --where is not one valid condition over mart columns, or since is after until."""
    if where is not None:
        parse_where(where, MART_COLUMN_NAMES)
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since} is after --until {until}", "give a since date on or before until")


def select_cases(
    mart: pl.LazyFrame, *, where: str | None = None, since: date | None = None, until: date | None = None
) -> pl.LazyFrame:
    """Return the mart's cases with surgery_date in since..until (inclusive) that satisfy the SQL `where`.

    Applied after the mart is built, so outcomes and expected rates are those of the whole mart: a case's
    reoperation after `until` still counts, and stratum rates do not depend on the selection.
    """
    selected = mart if since is None and until is None else mart.filter(date_range(since, until))
    return selected if where is None else filter_where(selected, where, MART_COLUMN_NAMES)
