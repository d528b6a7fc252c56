"""What a view returns: its tables by name, each collected, or a plan the runner sinks."""

from __future__ import annotations

import polars as pl

Frame = pl.LazyFrame | pl.DataFrame
