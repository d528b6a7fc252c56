"""Polars frames of the canonical Gold tables from the generated numpy arrays (clean, contract dtypes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ector.contract import (
    APPROACHES,
    CASES,
    CLAVIEN_DINDO,
    COMPLICATIONS,
    DISCHARGE_DESTINATIONS,
    ENCOUNTERS,
    PATIENTS,
    SEXES,
    SITE_TYPES,
    SITES,
    SURGEONS,
    URGENCIES,
    Table,
)
from ector.demo import model
from ector.demo.cases import CaseChunk
from ector.demo.events import Complications, Encounters
from ector.demo.world import DAY_US, NO_DAY, World, day_number

ID_PREFIXES = {"sites": "H", "surgeons": "S", "patients": "P", "cases": "C", "complications": "CX", "encounters": "E"}


def ids(table: str, numbers: npt.NDArray[np.int64], width: int) -> pl.Series:
    """Returns canonical keys of `table` (prefix + zero-padded number), e.g. C0000042."""
    return ID_PREFIXES[table] + pl.Series(numbers).cast(pl.String).str.zfill(width)


def _pick(
    labels: Sequence[str | None], index: npt.NDArray[Any], null: npt.NDArray[np.bool_] | None = None
) -> pl.Series:
    series = pl.Series(list(labels), dtype=pl.String).gather(np.where(null, 0, index) if null is not None else index)
    return _with_nulls(series, null)


def _with_nulls(series: pl.Series, null: npt.NDArray[np.bool_] | None) -> pl.Series:
    if null is None or not null.any():
        return series
    return series.scatter(np.flatnonzero(null), None)


def _dates(days: npt.NDArray[np.int64]) -> pl.Series:
    null = days == NO_DAY
    return _with_nulls(pl.Series(np.where(null, 0, days)).cast(pl.Int32).cast(pl.Date), null)


def _timestamps(us: npt.NDArray[np.int64]) -> pl.Series:
    return pl.Series(us).cast(pl.Datetime("us"))


def _conform(table: Table, columns: dict[str, pl.Series]) -> pl.DataFrame:
    """Returns the columns as a frame in contract order and contract dtypes."""
    frame = pl.DataFrame({name: series.alias(name) for name, series in columns.items()})
    return frame.select(pl.col(c.name).cast(c.dtype) for c in table.columns)


def site_frame(world: World) -> pl.DataFrame:
    """Returns the sites table."""
    sites = world.sites
    n = len(sites.ids)
    # Registered before the period, one site a week: fixed, so reruns give the same rows.
    registered = (day_number(world.first_day) - 30 - 7 * np.arange(n)) * DAY_US + 9 * 3_600_000_000
    return _conform(
        SITES,
        {
            SITES.key: pl.Series(sites.ids),
            "site_name": pl.Series(sites.names),
            "region": pl.Series(sites.regions, dtype=pl.String),
            "site_type": _pick(SITE_TYPES, sites.types),
            "updated_at": _timestamps(registered.astype(np.int64)),
        },
    )


def surgeon_frame(world: World) -> pl.DataFrame:
    """Returns the surgeons table."""
    surgeons = world.surgeons
    n = len(surgeons.ids)
    registered = (day_number(world.first_day) - 20 - 3 * np.arange(n)) * DAY_US + 10 * 3_600_000_000
    return _conform(
        SURGEONS,
        {
            SURGEONS.key: pl.Series(surgeons.ids),
            "surgeon_name": pl.Series(surgeons.names),
            "specialty": _pick(model.SPECIALTIES, surgeons.specialty),
            "primary_site_id": _pick(world.sites.ids, surgeons.primary_site),
            "first_year_in_practice": pl.Series(surgeons.first_year),
            "updated_at": _timestamps(registered.astype(np.int64)),
        },
    )


def patient_frame(world: World, chunk: CaseChunk) -> pl.DataFrame:
    """Returns the patients of one chunk."""
    return _conform(
        PATIENTS,
        {
            PATIENTS.key: ids("patients", chunk.patient_number, world.id_width),
            "birth_date": _dates(chunk.birth_day),
            "sex": _pick(SEXES, chunk.sex),
            "death_date": _dates(chunk.death_day),
            "updated_at": _timestamps(chunk.patient_updated_us),
        },
    )


def case_frame(world: World, chunk: CaseChunk) -> pl.DataFrame:
    """Returns the cases of one chunk."""
    not_applicable = chunk.converted < 0
    in_hospital = chunk.destination < 0
    return _conform(
        CASES,
        {
            CASES.key: ids("cases", chunk.case_number, world.id_width),
            "patient_id": ids("patients", chunk.patient_number[chunk.patient], world.id_width),
            "surgeon_id": _pick(world.surgeons.ids, chunk.surgeon),
            "site_id": _pick(world.sites.ids, chunk.site),
            "procedure_code": pl.Series(chunk.procedure_code),
            "procedure_family": _pick(model.FAMILY_NAMES, chunk.family),
            "approach": _pick(APPROACHES, chunk.approach),
            "urgency": _pick(URGENCIES, chunk.urgency),
            "asa_class": _with_nulls(pl.Series(chunk.asa), ~chunk.asa_recorded),
            "admission_date": _dates(chunk.admission_day),
            "surgery_start": _timestamps(chunk.start_us),
            "surgery_end": _timestamps(chunk.end_us),
            "discharge_date": _dates(chunk.discharge_day),
            "converted_to_open": _with_nulls(pl.Series(chunk.converted == 1), not_applicable),
            "blood_loss_ml": pl.Series(chunk.blood_loss_ml, nan_to_null=True),
            "discharge_destination": _pick(DISCHARGE_DESTINATIONS, chunk.destination, in_hospital),
            "predicted_mortality": pl.Series(chunk.predicted_mortality),
            "source_system": _pick(world.sites.systems, chunk.site),
            "updated_at": _timestamps(chunk.updated_us),
        },
    )


def complication_frame(world: World, chunk: CaseChunk, complications: Complications) -> pl.DataFrame:
    """Returns the complications of one chunk."""
    return _conform(
        COMPLICATIONS,
        {
            COMPLICATIONS.key: ids("complications", complications.number, world.id_width),
            "case_id": ids("cases", chunk.case_number[complications.case_row], world.id_width),
            "complication_type": _pick(model.COMPLICATION_TYPES, complications.type),
            "clavien_dindo": _pick(CLAVIEN_DINDO, complications.grade),
            "onset_date": _dates(complications.onset_day),
            "updated_at": _timestamps(complications.updated_us),
        },
    )


def encounter_frame(world: World, chunk: CaseChunk, encounters: Encounters) -> pl.DataFrame:
    """Returns the encounters of one chunk."""
    return _conform(
        ENCOUNTERS,
        {
            ENCOUNTERS.key: ids("encounters", encounters.number, world.id_width),
            "patient_id": ids("patients", chunk.patient_number[encounters.patient_row], world.id_width),
            "site_id": _pick(world.sites.ids, encounters.site),
            "admission_date": _dates(encounters.admission_day),
            "discharge_date": _dates(encounters.discharge_day),
            "planned": pl.Series(encounters.planned),
            "updated_at": _timestamps(encounters.updated_us),
        },
    )
