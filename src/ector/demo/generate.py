"""The clean Gold tables, chunk by chunk: sites and surgeons once, then patients, cases, complications and
encounters for each chunk of cases."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from ector.demo.cases import generate_cases
from ector.demo.events import generate_complications, generate_encounters
from ector.demo.frames import (
    case_frame,
    complication_frame,
    encounter_frame,
    patient_frame,
    site_frame,
    surgeon_frame,
)
from ector.demo.streams import Stream, generator
from ector.demo.world import World

Tables = dict[str, pl.DataFrame]


def world_tables(world: World) -> Tables:
    """Returns the sites and surgeons tables."""
    return {"sites": site_frame(world), "surgeons": surgeon_frame(world)}


def chunk_tables(world: World) -> Iterator[Tables]:
    """Yields, per chunk, its patients, cases, complications and encounters (ids continue across chunks)."""
    first_case = first_patient = first_complication = first_encounter = 1
    for index, size in enumerate(world.chunks):
        rng = generator(world.seed, Stream.CASES, index)
        chunk = generate_cases(world, rng, index, size, first_case, first_patient)
        complications = generate_complications(world, rng, chunk, first_complication)
        encounters = generate_encounters(world, rng, chunk, first_encounter)
        yield {
            "patients": patient_frame(world, chunk),
            "cases": case_frame(world, chunk),
            "complications": complication_frame(world, chunk, complications),
            "encounters": encounter_frame(world, chunk, encounters),
        }
        first_case += size
        first_patient += len(chunk.patient_number)
        first_complication += len(complications.number)
        first_encounter += len(encounters.number)
