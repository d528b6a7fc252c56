"""The hospital course of a chunk's cases: admission, length of stay, risk, and deaths (numpy, vectorised)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ector.demo import model
from ector.demo.families import FAMILY_TABLE as F
from ector.demo.world import NO_DAY

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def linear_predictor(
    risk: model.RiskModel, intercept: FloatArray, family: IntArray, age: FloatArray, asa: IntArray, urgency: IntArray
) -> FloatArray:
    """Returns the log-odds of `risk` per case (see model.RiskModel for the formula)."""
    result: FloatArray = (
        intercept[family]
        + risk.age_per_decade * (age - risk.reference_age) / 10
        + risk.asa_per_class * (asa - risk.reference_asa)
        + risk.urgent * (urgency == model.URGENT)
        + risk.emergency * (urgency == model.EMERGENCY)
    )
    return result


def days_admitted_before(rng: np.random.Generator, family: IntArray, urgency: IntArray) -> IntArray:
    """Returns the nights between admission and surgery: electives mostly none, urgent cases up to three."""
    n = len(family)
    elective = (rng.random(n) < F.admit_day_before[family]).astype(np.int64)
    urgent = np.minimum(rng.poisson(1.0, n), 3)
    emergency = (rng.random(n) < 0.3).astype(np.int64)
    result: IntArray = np.select(
        [urgency == model.ELECTIVE, urgency == model.URGENT], [elective, urgent], emergency
    ).astype(np.int64)
    return result


def length_of_stay(
    rng: np.random.Generator,
    family: IntArray,
    approach: IntArray,
    asa: IntArray,
    urgency: IntArray,
    major: BoolArray,
    minor: IntArray,
    day_centre: BoolArray,
) -> IntArray:
    """Returns post-operative nights: the family's median, longer for sicker, urgent or complicated cases,
    mostly none at a day surgery centre."""
    n = len(family)
    days = (
        F.los_days[family, approach]
        * np.where(day_centre, 0.3, 1.0)
        * np.exp(rng.normal(0, 0.45, n))
        * (1 + 0.12 * (asa - 2))
        * np.array([1.0, 1.3, 1.6])[urgency]
        + major * rng.gamma(2.0, 3.0, n)
        + minor * 1.0
    )
    result: IntArray = np.maximum(np.floor(days + 0.5), 0).astype(np.int64)
    return result


def split_after_death(patient: IntArray, starts: IntArray, died: BoolArray) -> tuple[IntArray, IntArray]:
    """Returns new patient indices, where the cases after a fatal case go to a new patient, and for each
    new patient the original patient whose birth date and sex it inherits."""
    deaths = np.cumsum(died, dtype=np.int64)
    before: IntArray = deaths - died - (deaths[starts] - died[starts])[patient]  # deaths earlier in the same patient
    is_first = np.arange(len(patient)) == starts[patient]
    new_segment = is_first | (before != np.concatenate(([-1], before[:-1])))
    segment = np.cumsum(new_segment) - 1
    return segment.astype(np.int64), patient[new_segment]


def later_deaths(
    rng: np.random.Generator, patient: IntArray, age: FloatArray, day: IntArray, discharge: IntArray, known: IntArray
) -> IntArray:
    """Returns a death day per patient from background mortality, at least 31 days after their last case
    (so never a 30-day death) and after its discharge; NO_DAY when none is drawn in time."""
    # Rows are grouped by patient in date order: a patient's last row is where the next patient starts.
    last = np.flatnonzero(np.concatenate((patient[1:] != patient[:-1], [True])))
    hazard = 0.012 * np.exp(0.075 * (age[last] - 65))  # deaths per person-year
    years = rng.exponential(1.0 / hazard)
    death = np.maximum(day[last] + 31 + np.round(years * 365.25).astype(np.int64), discharge[last] + 1)
    return np.where(known == NO_DAY, death, NO_DAY)
