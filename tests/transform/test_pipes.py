"""Pipe I/O helpers (ector.pipes): round trips through in-memory streams, format sniffing, clean failures."""

from __future__ import annotations

import io
from typing import BinaryIO, cast

import polars as pl
import pytest
from tests.gold import tiny_gold
from tests.transform.frames import mart

from ector.errors import ConfigError, InputError
from ector.pipes import STREAM_FORMATS, StreamFormat, guess_format, read_stream, write_stream
from ector.transform import MART_SCHEMA


class _Pipe(io.RawIOBase):
    """A read-only, unseekable stream without peek, like a pipe behind a thin wrapper."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


def _through(frame: pl.DataFrame, fmt: StreamFormat) -> io.BytesIO:
    buffer = io.BytesIO()
    write_stream(frame, fmt, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_binary_formats_round_trip_the_mart_exactly(fmt: StreamFormat) -> None:
    frame = mart(tiny_gold())
    assert read_stream(_through(frame, fmt)).equals(frame)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_text_formats_round_trip_with_the_mart_schema(fmt: StreamFormat) -> None:
    frame = mart(tiny_gold())
    back = read_stream(_through(frame, fmt), schema=MART_SCHEMA)
    assert back.schema == MART_SCHEMA
    assert back.equals(frame)


@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_format_is_recognised_from_the_first_bytes(fmt: StreamFormat) -> None:
    assert guess_format(_through(mart(tiny_gold()), fmt).read(8)) == fmt


@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_unseekable_stream_without_peek_is_read_whole(fmt: StreamFormat) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]})
    data = _through(frame, fmt).getvalue()
    assert read_stream(cast(BinaryIO, _Pipe(data))).equals(frame)


def test_buffered_pipe_is_sniffed_with_peek() -> None:
    frame = pl.DataFrame({"a": list(range(1000))})
    stream = io.BufferedReader(_Pipe(_through(frame, "arrow").getvalue()))
    assert read_stream(cast(BinaryIO, stream)).equals(frame)


def test_empty_stream_is_an_input_error() -> None:
    with pytest.raises(InputError, match="empty"):
        read_stream(io.BytesIO(b""))


def test_garbage_named_as_arrow_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not a readable arrow table"):
        read_stream(io.BytesIO(b"this is not arrow at all"), "arrow")


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="xlsx"):
        write_stream(pl.DataFrame({"a": [1]}), "xlsx", io.BytesIO())  # type: ignore[arg-type]
