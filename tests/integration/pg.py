"""Load canonical frames into PostgreSQL with COPY (fast; no ORM)."""

from __future__ import annotations

import polars as pl

_PG_TYPES = {
    pl.String: "text",
    pl.Date: "date",
    pl.Datetime: "timestamp",
    pl.Boolean: "boolean",
    pl.Float64: "double precision",
    pl.Int8: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
}


def load_postgres(
    uri: str,
    schema: str,
    tables: dict[str, pl.DataFrame],
    names: dict[str, str] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
) -> None:
    import psycopg

    names, columns = names or {}, columns or {}
    with psycopg.connect(uri, autocommit=True) as db:
        for table, frame in tables.items():
            renamed = frame.rename(columns.get(table, {}))
            target = f"{schema}.{names.get(table, table)}"
            declared = ", ".join(f"{c} {_PG_TYPES[type(t)]}" for c, t in renamed.schema.items())
            db.execute(f"CREATE TABLE {target} ({declared})")
            with db.cursor().copy(f"COPY {target} ({', '.join(renamed.columns)}) FROM STDIN") as copy:
                for row in renamed.iter_rows():
                    copy.write_row(row)
