"""Tables through pipes: write a frame to a byte stream (`-o -`) and read one back (`-i -`).

Arrow IPC stream is the binary pipe format (typed, no footer, so it streams); CSV and NDJSON (`json`) serve text
tools; Parquet for a file-like target. Reading guesses the format from the first bytes when none is given:
Parquet starts with `PAR1`, an Arrow IPC stream with the continuation marker FF FF FF FF, NDJSON with `{`, and
anything else is read as CSV.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Literal, get_args

import polars as pl
from polars.exceptions import PolarsError

from ector.errors import ConfigError, InputError

StreamFormat = Literal["arrow", "csv", "json", "parquet"]
STREAM_FORMATS: tuple[str, ...] = get_args(StreamFormat)

_PARQUET_MAGIC = b"PAR1"
_ARROW_CONTINUATION = b"\xff\xff\xff\xff"
_SNIFF_BYTES = 8


def check_format(fmt: str) -> StreamFormat:
    """Return `fmt` as a stream format; ConfigError listing the choices when it is not one."""
    if fmt not in STREAM_FORMATS:
        raise ConfigError(f"unknown format {fmt!r}", f"choose one of {', '.join(STREAM_FORMATS)}")
    return fmt  # type: ignore[return-value]  # checked against the Literal's own values just above


LIST_SEPARATOR = "; "


def as_text_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each list column (a quarantined row's rules) joined into one text value, `a; b`, for the
    formats that hold no nested data (CSV, a table on a terminal); JSON, Arrow and Parquet keep the lists."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if not lists:
        return frame
    return frame.with_columns(
        pl.col(name).list.eval(pl.element().cast(pl.String)).list.join(LIST_SEPARATOR) for name in lists
    )


def write_stream(frame: pl.DataFrame, fmt: StreamFormat, stream: BinaryIO) -> None:
    """Write `frame` to the binary `stream` as an Arrow IPC stream, CSV, NDJSON (`json`) or Parquet."""
    check_format(fmt)
    if fmt == "arrow":
        frame.write_ipc_stream(stream)
    elif fmt == "csv":
        as_text_lists(frame).write_csv(stream)
    elif fmt == "json":
        frame.write_ndjson(stream)
    else:
        frame.write_parquet(stream)
    stream.flush()


def read_stream(stream: BinaryIO, fmt: StreamFormat | None = None, schema: pl.Schema | None = None) -> pl.DataFrame:
    """Return the table in the binary `stream`, in `fmt` or, when None, the format its first bytes show.

    Text formats lose dtypes (NDJSON has no dates): with `schema`, the columns it names are converted back to
    its dtypes. InputError when the stream is empty, not a readable table, or not convertible to `schema`.
    """
    frame = _read(stream, fmt)
    return frame if schema is None else conform(frame, schema)


def conform(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Return `frame` with the columns `schema` names first, in its order and dtypes (text parsed as dates).

    Other columns follow unchanged; NDJSON readers order keys as they first meet them, hence the reordering.
    """
    columns = []
    for name in frame.columns:
        target = schema.get(name)
        if target is None or frame.schema[name] == target:
            continue
        column = pl.col(name)
        if frame.schema[name] == pl.String and target == pl.Date:
            columns.append(column.str.to_date())
        elif frame.schema[name] == pl.String and isinstance(target, pl.Datetime):
            columns.append(column.str.to_datetime(time_unit=target.time_unit, time_zone=target.time_zone))
        else:
            columns.append(column.cast(target))
    order = [c for c in schema if c in frame.columns] + [c for c in frame.columns if c not in schema]
    try:
        return frame.with_columns(columns).select(order)
    except PolarsError as exc:
        raise InputError(f"the input stream does not fit the expected columns: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read(stream: BinaryIO, fmt: StreamFormat | None) -> pl.DataFrame:
    source, head = _sniff(stream)
    if not head:
        raise InputError("the input stream is empty", "pipe a table in, e.g. `ector transform -o - | ...`")
    chosen = check_format(fmt) if fmt is not None else guess_format(head)
    try:
        if chosen == "arrow":
            return pl.read_ipc_stream(source)
        if chosen == "parquet":
            return pl.read_parquet(source)
        if chosen == "json":
            return pl.read_ndjson(source)
        return pl.read_csv(source, try_parse_dates=True)
    except (PolarsError, OSError, ValueError) as exc:
        raise InputError(
            f"the input stream is not a readable {chosen} table: {_first_line(exc)}",
            "give --format to name the format, or check the producer of the stream",
        ) from None


def guess_format(head: bytes) -> StreamFormat:
    """Return the format a stream starting with `head` is in: parquet, arrow, json or (otherwise) csv."""
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ARROW_CONTINUATION):
        return "arrow"
    if head.lstrip().startswith(b"{"):
        return "json"
    return "csv"


def _sniff(stream: BinaryIO) -> tuple[BinaryIO, bytes]:
    """Return a stream positioned at the start of the data, and its first bytes, without losing any of them."""
    if stream.seekable():
        start = stream.tell()
        head = stream.read(_SNIFF_BYTES)
        stream.seek(start)
        return stream, head
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        if len(head) >= _SNIFF_BYTES:
            return stream, head
    # A pipe that cannot show enough bytes ahead: hold the whole input in memory to read it twice.
    data = stream.read()
    return io.BytesIO(data), data[:_SNIFF_BYTES]
