"""Independent, reproducible random streams: one per purpose and chunk, all derived from the user's seed.

Separate streams keep the clean data identical whether or not dirt is planted, and keep each chunk's cases
independent of how many chunks came before it.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Stream(IntEnum):
    """What a random stream is for; with the chunk number it keys the stream."""

    WORLD = 0  # sites, surgeons
    CASES = 1  # patients, cases, complications, encounters of one chunk
    DIRT = 2  # dirt planted in one chunk
    SMALL_TABLE_DIRT = 3  # dirt planted in sites and surgeons


def generator(seed: int, stream: Stream, chunk: int = 0) -> np.random.Generator:
    """Returns the PCG64 generator of `stream` (and `chunk`) for `seed`."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(stream), chunk))))


def categorical(rng: np.random.Generator, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Returns one category index per row of `probabilities` (rows need not be normalised)."""
    cdf = np.cumsum(probabilities, axis=1)
    u = rng.random(len(cdf)) * cdf[:, -1]
    result: npt.NDArray[np.int64] = (u[:, None] >= cdf[:, :-1]).sum(axis=1).astype(np.int64)
    return result


def expit(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Returns the logistic function of `x`."""
    result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-x))
    return result
