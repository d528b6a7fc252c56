"""What follows a chunk's cases: complications (with onset dates) and later hospital encounters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ector.contract import CLAVIEN_DINDO, SITE_TYPES
from ector.demo import model
from ector.demo.cases import DIED, HOUR_US, CaseChunk
from ector.demo.families import FAMILY_TABLE as F
from ector.demo.streams import categorical
from ector.demo.world import DAY_US, NO_DAY, World

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MAJOR = np.array([CLAVIEN_DINDO.index(g) for g in model.MAJOR_GRADES])
_MINOR = np.array([CLAVIEN_DINDO.index(g) for g in model.MINOR_GRADES])
_GRADE_V = CLAVIEN_DINDO.index(model.DEATH_GRADE)


@dataclass(frozen=True)
class Complications:
    """The complications of one chunk, in case and onset order."""

    number: IntArray  # global, 1-based
    case_row: IntArray  # row in the CaseChunk
    type: IntArray  # index into model.COMPLICATION_TYPES
    grade: IntArray  # index into contract.CLAVIEN_DINDO
    onset_day: IntArray  # NO_DAY: not recorded
    updated_us: IntArray


@dataclass(frozen=True)
class Encounters:
    """The later admissions of one chunk's patients, in admission order."""

    number: IntArray  # global, 1-based
    patient_row: IntArray  # row in the CaseChunk's patient arrays
    site: IntArray
    admission_day: IntArray
    discharge_day: IntArray  # NO_DAY: still in hospital on the run date
    planned: BoolArray
    updated_us: IntArray


def generate_complications(world: World, rng: np.random.Generator, chunk: CaseChunk, first: int) -> Complications:
    """Returns the complications of the chunk's cases, numbered from `first` in case and onset order."""
    major_rows = np.flatnonzero(chunk.major)
    minor_rows = np.repeat(np.arange(len(chunk.minor)), chunk.minor)
    case_row = np.concatenate((major_rows, minor_rows))
    n, n_major = len(case_row), len(major_rows)
    is_major = np.arange(n) < n_major
    grade = np.where(
        is_major,
        _MAJOR[categorical(rng, np.tile(np.array(model.MAJOR_GRADE_SHARES), (n, 1)))],
        _MINOR[categorical(rng, np.tile(np.array(model.MINOR_GRADE_SHARES), (n, 1)))],
    )
    death = chunk.death_day[chunk.patient[case_row]]
    fatal = is_major & chunk.died[case_row] & (rng.random(n) < model.DEATH_AS_GRADE_V)
    grade = np.where(fatal, _GRADE_V, grade)
    offset = np.where(is_major, np.floor(rng.gamma(2.0, 2.5, n)), np.floor(rng.gamma(1.5, 5.0, n)))
    late = rng.random(n) < model.LATE_ONSET_SHARE
    offset = np.where(late, rng.integers(31, 76, n), offset).astype(np.int64)
    onset = chunk.surgery_day[case_row] + offset
    onset = np.where(fatal, death, np.where(death != NO_DAY, np.minimum(onset, death), onset))
    unrecorded = ~fatal & (rng.random(n) < model.NO_ONSET_SHARE)
    onset = np.where(unrecorded, NO_DAY, onset)
    complication_type = categorical(rng, F.complication_types[chunk.family[case_row]])
    # Not yet happened on the run date: not in the data.
    keep = onset < world.run_day
    case_row, grade, onset, complication_type = case_row[keep], grade[keep], onset[keep], complication_type[keep]
    order = np.lexsort((complication_type, np.where(onset == NO_DAY, 2**40, onset), case_row))
    case_row, grade, onset, complication_type = case_row[order], grade[order], onset[order], complication_type[order]
    seen = np.where(onset == NO_DAY, chunk.surgery_day[case_row], onset) * DAY_US + 10 * HOUR_US
    return Complications(
        number=first + np.arange(len(case_row), dtype=np.int64),
        case_row=case_row,
        type=complication_type,
        grade=grade,
        onset_day=onset,
        updated_us=_updated(rng, seen, world),
    )


def generate_encounters(world: World, rng: np.random.Generator, chunk: CaseChunk, first: int) -> Encounters:
    """Returns later admissions of the chunk's patients: readmissions within and after 30 days of a case's
    discharge, and planned admissions, numbered from `first` in admission order."""
    discharged = np.flatnonzero((chunk.discharge_day != NO_DAY) & (chunk.destination != DIED))
    family = chunk.family[discharged]
    n = len(discharged)
    complicated = chunk.major[discharged] | (chunk.minor[discharged] > 0)
    readmitted = rng.random(n) < F.readmission[family] * np.where(complicated, 2.5, 1.0)
    late = rng.random(n) < 0.03
    planned = rng.random(n) < F.planned_encounter[family]
    case_row = np.concatenate((discharged[readmitted], discharged[late], discharged[planned]))
    gap = np.concatenate(
        (
            np.minimum(1 + np.floor(rng.exponential(7.0, int(readmitted.sum()))), 30),
            rng.integers(31, 181, int(late.sum())),
            rng.integers(20, 366, int(planned.sum())),
        )
    ).astype(np.int64)
    is_planned = np.arange(len(case_row)) >= len(case_row) - int(planned.sum())
    patient = chunk.patient[case_row]
    admission = chunk.discharge_day[case_row] + gap
    stay = 1 + np.where(is_planned, rng.poisson(1.0, len(case_row)), rng.poisson(3.0, len(case_row)))
    discharge = admission + stay
    death = chunk.death_day[patient]
    dead = death != NO_DAY
    keep = ~(dead & (admission > death)) & (admission < world.run_day)
    discharge = np.where(dead, np.minimum(discharge, death), discharge)
    discharge = np.where(discharge >= world.run_day, NO_DAY, discharge)
    site = _encounter_sites(rng, world, chunk.site[case_row])
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((is_planned[rows], case_row[rows], patient[rows], admission[rows]))]
    last_seen = np.where(discharge == NO_DAY, admission, discharge) * DAY_US + 14 * HOUR_US
    return Encounters(
        number=first + np.arange(len(rows), dtype=np.int64),
        patient_row=patient[rows],
        site=site[rows],
        admission_day=admission[rows],
        discharge_day=discharge[rows],
        planned=is_planned[rows],
        updated_us=_updated(rng, last_seen[rows], world),
    )


def _encounter_sites(rng: np.random.Generator, world: World, case_site: IntArray) -> IntArray:
    """Returns the admitting site: mostly the site of the surgery, else any hospital with beds."""
    inpatient = np.flatnonzero(world.sites.types != SITE_TYPES.index("ambulatory"))
    elsewhere = inpatient[rng.integers(0, len(inpatient), len(case_site))]
    stays = (rng.random(len(case_site)) < 0.8) & (world.sites.types[case_site] != SITE_TYPES.index("ambulatory"))
    result: IntArray = np.where(stays, case_site, elsewhere)
    return result


def _updated(rng: np.random.Generator, after_us: IntArray, world: World) -> IntArray:
    lag = rng.integers(3_600, 240 * 3_600, len(after_us)) * 1_000_000
    result: IntArray = np.minimum(after_us + lag, world.run_day * DAY_US - 1_000_000)
    return result
