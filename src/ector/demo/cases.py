"""One chunk of patients and their cases, drawn from the model as numpy arrays (clean: no dirt here).

A chunk holds whole patients, so everything that links a patient's cases (ages, deaths, reoperations)
stays inside it. Cases come out in surgery_start order and patients in order of their first case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ector.contract import DISCHARGE_DESTINATIONS, SITE_TYPES
from ector.demo import course, model
from ector.demo.families import FAMILY_TABLE as F
from ector.demo.streams import categorical, expit
from ector.demo.world import DAY_US, NO_DAY, World

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
HOME, FACILITY, DIED = (DISCHARGE_DESTINATIONS.index(d) for d in ("home", "facility", "died"))
# Cuts of the latent ASA score: a 60-year-old elective patient is mostly ASA 2, emergencies skew to 3-4.
_ASA_CUTS = np.array([-0.9, 0.7, 2.3, 3.7])


@dataclass(frozen=True)
class CaseChunk:
    """The cases of one chunk in surgery_start order, and their patients in order of first case."""

    # cases
    case_number: IntArray  # global, 1-based
    patient: IntArray  # row of the patient in the patient arrays below
    surgeon: IntArray
    site: IntArray
    family: IntArray
    approach: IntArray
    urgency: IntArray
    asa: IntArray
    asa_recorded: BoolArray  # False: ASA class not recorded (an optional column)
    procedure_code: npt.NDArray[np.str_]
    admission_day: IntArray
    surgery_day: IntArray
    start_us: IntArray
    end_us: IntArray
    discharge_day: IntArray  # NO_DAY: still in hospital on the run date
    converted: npt.NDArray[np.int8]  # -1: not applicable (open), 0, 1
    blood_loss_ml: FloatArray  # nan: not recorded
    destination: IntArray  # -1: still in hospital
    predicted_mortality: FloatArray
    updated_us: IntArray
    major: BoolArray  # a major complication happens
    minor: IntArray  # number of minor complications
    died: BoolArray  # the 30-day death drawn for this case (known before the run date)
    # patients
    patient_number: IntArray  # global, 1-based
    birth_day: IntArray
    sex: IntArray
    death_day: IntArray  # NO_DAY: not known to have died
    patient_updated_us: IntArray


def generate_cases(
    world: World, rng: np.random.Generator, chunk: int, cases: int, first_case: int, first_patient: int
) -> CaseChunk:
    """Returns `cases` cases and their patients, numbered from `first_case` and `first_patient`."""
    run_day = world.run_day
    last_day = int(world.calendar.days[-1])
    patient, starts = _patients_per_case(rng, cases)
    n_patients = len(starts)
    sex = categorical(rng, np.tile(np.array(model.SEX_SHARES), (n_patients, 1)))
    family = _families(rng, sex[patient], patient, starts)
    urgency = categorical(rng, F.urgency[family])
    day = _surgery_days(rng, world, urgency)
    order = np.lexsort((day, patient))  # a patient's cases in date order; patients stay grouped
    family, urgency, day = family[order], urgency[order], day[order]
    day = _spread(patient, starts, day, last_day)
    birth = _birth_days(rng, family[starts], day[starts])
    age = (day - birth[patient]) / 365.25
    asa = _asa(rng, age, family, urgency)
    surgeon = _surgeons(rng, world, chunk, family)
    site = _sites(rng, world, family, urgency, surgeon)
    approach = _approaches(rng, world, family, urgency, surgeon, day)
    code = _codes(rng, family, approach)
    start = day * DAY_US + _start_minutes(rng, urgency) * MINUTE_US
    laparoscopic_or_robotic = approach != model.OPEN
    converted = laparoscopic_or_robotic & (
        rng.random(cases) < F.conversion[family] * np.where(urgency == model.EMERGENCY, 2.0, 1.0)
    )
    minutes = _operative_minutes(rng, world, chunk, family, approach, asa, converted, surgeon, start)
    end = start + minutes * MINUTE_US

    mortality_lp = course.linear_predictor(model.MORTALITY_MODEL, F.mortality_intercept, family, age, asa, urgency)
    predicted = expit(mortality_lp)
    site_effect = np.where(np.isin(site, world.planted.high_mortality_sites), np.log(model.MORTALITY_ODDS_RATIO), 0)
    died = rng.random(cases) < expit(mortality_lp + site_effect)
    surgeon_effect = np.where(
        np.isin(surgeon, world.planted.high_complication_surgeons), np.log(model.COMPLICATION_ODDS_RATIO), 0.0
    )
    major_lp = course.linear_predictor(model.MAJOR_COMPLICATION_MODEL, F.major_intercept, family, age, asa, urgency)
    major = rng.random(cases) < expit(major_lp + surgeon_effect)
    minor = np.minimum(rng.poisson(F.minor_rate[family] * np.exp(model.MINOR_COMPLICATION_ASA * (asa - 2))), 3)

    end_day = end // DAY_US
    admission = day - course.days_admitted_before(rng, family, urgency)
    day_centre = world.sites.types[site] == SITE_TYPES.index("ambulatory")
    los = course.length_of_stay(rng, family, approach, asa, urgency, major, minor, day_centre)
    discharge = np.maximum(day + los, end_day)
    # 30-day deaths: within 0-29 days of surgery; before discharge means in hospital.
    death = np.maximum(day + np.minimum(np.floor(rng.gamma(1.3, 6.0, cases)), 29).astype(np.int64), end_day)
    in_hospital = died & (death <= discharge)
    discharge = np.where(in_hospital, death, discharge)
    facility = rng.random(cases) < expit(
        -2.2 + F.facility_logit[family] + 0.06 * (age - 70) + 0.5 * (urgency == model.EMERGENCY) + 1.0 * major
    )
    destination = np.where(in_hospital, DIED, np.where(facility, FACILITY, HOME))
    blood = (
        np.round(
            F.blood_loss_ml[family, approach] * np.exp(rng.normal(0, 0.5, cases)) * np.where(converted, 1.8, 1.0) / 10
        )
        * 10
    )
    blood[rng.random(cases) < 0.02] = np.nan  # not recorded
    asa_recorded = rng.random(cases) >= 0.002

    # A patient who dies after a case has no later case: later cases belong to another patient.
    patient, source_patient = course.split_after_death(patient, starts, died)
    death_of_patient = np.full(len(source_patient), NO_DAY, dtype=np.int64)
    death_of_patient[patient[died]] = death[died]
    later = course.later_deaths(rng, patient, age, day, discharge, death_of_patient)
    death_of_patient = np.where(death_of_patient == NO_DAY, later, death_of_patient)

    # Censoring at the run date: what happens on or after it is not known yet.
    still_in = discharge >= run_day
    discharge = np.where(still_in, NO_DAY, discharge)
    destination = np.where(still_in, -1, destination)
    death_of_patient = np.where(death_of_patient >= run_day, NO_DAY, death_of_patient)
    died = died & (death < run_day)

    updated = _updated(rng, np.maximum(end, np.where(still_in, 0, discharge * DAY_US + 17 * HOUR_US)), world)
    patient_updated = np.zeros(len(source_patient), dtype=np.int64)
    np.maximum.at(patient_updated, patient, updated)
    patient_updated = _updated(
        rng, np.maximum(patient_updated, np.where(death_of_patient == NO_DAY, 0, death_of_patient * DAY_US)), world
    )

    # Number cases by surgery_start, patients by their first case.
    by_time = np.lexsort((np.arange(cases), start))
    patient_rank = _rank_by_first_case(patient[by_time], len(source_patient))
    patients_in_order = np.argsort(patient_rank)
    return CaseChunk(
        case_number=first_case + np.arange(cases, dtype=np.int64),
        patient=patient_rank[patient[by_time]],
        surgeon=surgeon[by_time],
        site=site[by_time],
        family=family[by_time],
        approach=approach[by_time],
        urgency=urgency[by_time],
        asa=asa[by_time],
        asa_recorded=asa_recorded[by_time],
        procedure_code=code[by_time],
        admission_day=admission[by_time],
        surgery_day=day[by_time],
        start_us=start[by_time],
        end_us=end[by_time],
        discharge_day=discharge[by_time],
        converted=np.where(laparoscopic_or_robotic, converted, -1).astype(np.int8)[by_time],
        blood_loss_ml=blood[by_time],
        destination=destination[by_time],
        predicted_mortality=predicted[by_time],
        updated_us=updated[by_time],
        major=major[by_time],
        minor=minor[by_time],
        died=died[by_time],
        patient_number=first_patient + np.arange(len(source_patient), dtype=np.int64),
        birth_day=birth[source_patient][patients_in_order],
        sex=sex[source_patient][patients_in_order],
        death_day=death_of_patient[patients_in_order],
        patient_updated_us=patient_updated[patients_in_order],
    )


def _patients_per_case(rng: np.random.Generator, cases: int) -> tuple[IntArray, IntArray]:
    """Returns each case's patient (grouped, 0-based) and each patient's first row."""
    per_patient = np.minimum(1 + rng.poisson(model.CASES_PER_PATIENT - 1, cases), model.MAX_CASES_PER_PATIENT)
    total = np.cumsum(per_patient)
    n = int(np.searchsorted(total, cases)) + 1
    per_patient = per_patient[:n]
    per_patient[-1] -= total[n - 1] - cases  # trim the last patient so the total is exact
    starts = np.concatenate(([0], np.cumsum(per_patient)[:-1])).astype(np.int64)
    return np.repeat(np.arange(n, dtype=np.int64), per_patient), starts


def _families(rng: np.random.Generator, sex: IntArray, patient: IntArray, starts: IntArray) -> IntArray:
    """Returns a family per case, compatible with the patient's sex; 40% of repeat cases repeat the first."""
    weights = F.share[None, :] * F.sex_weight.T  # sex x family
    family = categorical(rng, weights[sex])
    first = starts[patient]
    repeat = (np.arange(len(patient)) != first) & (rng.random(len(patient)) < 0.4)
    return np.where(repeat, family[first], family)


def _surgery_days(rng: np.random.Generator, world: World, urgency: IntArray) -> IntArray:
    """Returns surgery days: electives follow the working week and the seasons, emergencies less so."""
    calendar = world.calendar
    u = rng.random(len(urgency))
    index = np.where(
        urgency == model.ELECTIVE,
        np.searchsorted(calendar.elective_cdf, u, side="right"),
        np.searchsorted(calendar.nonelective_cdf, u, side="right"),
    )
    return calendar.days[np.minimum(index, len(calendar.days) - 1)]


def _spread(patient: IntArray, starts: IntArray, day: IntArray, last_day: int) -> IntArray:
    """Returns the days pushed apart so a patient's cases are at least MIN_DAYS_BETWEEN_CASES apart."""
    gap = model.MIN_DAYS_BETWEEN_CASES
    rank = np.arange(len(day)) - starts[patient]
    # A running maximum per patient: offset each patient far above the previous one.
    offset = patient * (10 * (last_day + 1_000_000))
    running = np.maximum.accumulate(day - gap * rank + offset) - offset
    return np.minimum(running + gap * rank, last_day)


def _birth_days(rng: np.random.Generator, first_family: IntArray, first_day: IntArray) -> IntArray:
    """Returns birth days giving each patient the family's age profile at their first case."""
    age = np.clip(rng.normal(F.age_mean[first_family], F.age_sd[first_family]), 18, 95)
    days = np.round(np.floor(age) * 365.25).astype(np.int64) + rng.integers(0, 365, len(age))
    return first_day - days


def _asa(rng: np.random.Generator, age: FloatArray, family: IntArray, urgency: IntArray) -> IntArray:
    latent = (
        0.045 * (age - 60)
        + F.asa_shift[family]
        + 0.5 * (urgency == model.URGENT)
        + 1.1 * (urgency == model.EMERGENCY)
        + rng.normal(0, 1, len(age))
    )
    asa: IntArray = 1 + (latent[:, None] > _ASA_CUTS[None, :]).sum(axis=1).astype(np.int64)
    return asa


def _surgeons(rng: np.random.Generator, world: World, chunk: int, family: IntArray) -> IntArray:
    """Returns a surgeon of the family's specialty per case, by surgeon volume weight.

    The learning surgeons operate in the first chunk only (with their weight times the number of chunks), so
    their case sequence, which the learning curve follows, is complete inside one chunk.
    """
    surgeons = world.surgeons
    weights = surgeons.weights.copy()
    learners = world.planted.learning_curve_surgeons
    weights[learners] = weights[learners] * len(world.chunks) if chunk == 0 else 0.0
    result = np.empty(len(family), dtype=np.int64)
    for f in range(len(model.FAMILIES)):
        rows = np.flatnonzero(family == f)
        pool = np.flatnonzero(surgeons.specialty == F.specialty[f])
        result[rows] = _weighted_choice(rng, pool, weights[pool], len(rows))
    return result


def _weighted_choice(rng: np.random.Generator, pool: IntArray, weights: FloatArray, size: int) -> IntArray:
    cdf = np.cumsum(weights)
    index = np.searchsorted(cdf / cdf[-1], rng.random(size), side="right")
    chosen: IntArray = pool[np.minimum(index, len(pool) - 1)]
    return chosen


def _sites(rng: np.random.Generator, world: World, family: IntArray, urgency: IntArray, surgeon: IntArray) -> IntArray:
    """Returns the site per case: a quarter of the elective day-case families go to a day surgery centre; the
    rest mostly to the surgeon's primary site, else to another site that does the family.

    Ambulatory sites take elective cases only.
    """
    sites = world.sites
    ambulatory = SITE_TYPES.index("ambulatory")
    elective = urgency == model.ELECTIVE
    primary = world.surgeons.primary_site[surgeon]
    primary_type = sites.types[primary]
    allowed_at_primary = F.site_type_allowed[family, primary_type] & (elective | (primary_type != ambulatory))
    stay = allowed_at_primary & (rng.random(len(family)) < 0.85)
    site = primary.copy()
    for f in range(len(model.FAMILIES)):
        for is_elective in (True, False):
            rows = np.flatnonzero(~stay & (family == f) & (elective == is_elective))
            allowed = F.site_type_allowed[f, sites.types] & (is_elective | (sites.types != ambulatory))
            pool = np.flatnonzero(allowed)
            if len(rows) and len(pool):
                site[rows] = _weighted_choice(rng, pool, sites.weights[pool], len(rows))
    centres = np.flatnonzero(sites.types == ambulatory)
    day_case = np.flatnonzero(elective & F.site_type_allowed[family, ambulatory] & (rng.random(len(family)) < 0.25))
    site[day_case] = _weighted_choice(rng, centres, sites.weights[centres], len(day_case))
    return site


def _approaches(
    rng: np.random.Generator, world: World, family: IntArray, urgency: IntArray, surgeon: IntArray, day: IntArray
) -> IntArray:
    """Returns the approach per case: the surgeon's robotic practice, the family's mix, the urgency."""
    robotic_now = world.surgeons.robotic_since[surgeon] <= day
    mix = np.where(robotic_now[:, None], F.approach_robotic_surgeon[family], F.approach_other_surgeon[family])
    approach = categorical(rng, mix)
    # Out of hours there is no robot list: urgent robotic cases go laparoscopic, emergencies mostly open.
    approach = np.where((urgency == model.URGENT) & (approach == model.ROBOTIC), model.LAPAROSCOPIC, approach)
    emergency = urgency == model.EMERGENCY
    approach = np.where(emergency & (approach == model.ROBOTIC), model.OPEN, approach)
    approach = np.where(
        emergency & (approach == model.LAPAROSCOPIC) & (rng.random(len(family)) < 0.4), model.OPEN, approach
    )
    for s, f in zip(world.planted.learning_curve_surgeons, world.planted.learning_curve_families, strict=True):
        approach = np.where((surgeon == s) & (family == f), model.ROBOTIC, approach)
    # A family without a code for the approach (no laparoscopic knee) is done open.
    return np.where(F.has_codes[family, approach], approach, model.OPEN)


def _codes(rng: np.random.Generator, family: IntArray, approach: IntArray) -> npt.NDArray[np.str_]:
    code = np.empty(len(family), dtype="<U8")
    for f, spec in enumerate(model.FAMILIES):
        for a, options in enumerate(spec.codes):
            rows = np.flatnonzero((family == f) & (approach == a))
            if len(rows):
                code[rows] = np.array(options)[rng.integers(0, len(options), len(rows))]
    return code


def _start_minutes(rng: np.random.Generator, urgency: IntArray) -> IntArray:
    """Returns knife-to-skin minutes after midnight: lists 07:30-16:30, emergencies round the clock."""
    listed = 450 + 5 * rng.integers(0, 109, len(urgency))
    any_time = 5 * rng.integers(0, 288, len(urgency))
    result: IntArray = np.where(urgency == model.ELECTIVE, listed, any_time).astype(np.int64)
    return result


def _operative_minutes(
    rng: np.random.Generator,
    world: World,
    chunk: int,
    family: IntArray,
    approach: IntArray,
    asa: IntArray,
    converted: BoolArray,
    surgeon: IntArray,
    start: IntArray,
) -> IntArray:
    """Returns operative minutes; a learning surgeon's early cases of the learned family take longer."""
    n = len(family)
    minutes = (
        F.minutes[family, approach]
        * np.exp(rng.normal(0, 0.22, n))
        * (1 + 0.04 * (asa - 2))
        * np.where(converted, 1.3, 1.0)
    )
    if chunk == 0:  # the learners operate in the first chunk only
        for s, f in zip(world.planted.learning_curve_surgeons, world.planted.learning_curve_families, strict=True):
            rows = np.flatnonzero((surgeon == s) & (family == f))
            rows = rows[np.lexsort((rows, start[rows]))]  # by surgery_start, ties by case
            sequence = np.arange(len(rows))
            excess = model.LEARNING_CURVE_EXCESS * np.exp(-sequence / model.LEARNING_CURVE_SCALE)
            minutes[rows] *= 1 + excess
    result: IntArray = np.maximum(np.round(minutes), 15).astype(np.int64)
    return result


def _updated(rng: np.random.Generator, after_us: IntArray, world: World) -> IntArray:
    """Returns update timestamps 1-72 hours after `after_us`, whole seconds, before the run date."""
    lag = rng.integers(3_600, 72 * 3_600, len(after_us)) * 1_000_000
    latest = world.run_day * DAY_US - 1_000_000
    result: IntArray = np.minimum(after_us + lag, latest)
    return result


def _rank_by_first_case(patient_in_time_order: IntArray, n_patients: int) -> IntArray:
    """Returns each patient's rank by the time of their first case."""
    _, first = np.unique(patient_in_time_order, return_index=True)
    values = patient_in_time_order[first]
    rank = np.empty(n_patients, dtype=np.int64)
    rank[values[np.argsort(first)]] = np.arange(len(values))
    return rank
