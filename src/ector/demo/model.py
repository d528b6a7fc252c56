"""The demo's generative model: procedure families, risk models, planted effects, scale and dirt rates.

Every number that shapes the synthetic Gold layer lives here, so the truth file can record it and a reader
can see in one place why the data look the way they do. Nothing here draws a random number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Final

from ector.contract import APPROACHES, URGENCIES

SPECIALTIES: Final = ("general", "orthopaedic", "urology", "gynaecology", "cardiothoracic")
# Share of surgeons per specialty (close to the share of the case volume each one carries).
SPECIALTY_SHARES: Final = (0.46, 0.29, 0.07, 0.11, 0.07)
# Probability that a surgeon of the specialty operates robotically at some point of the period.
ROBOTIC_SURGEON_SHARE: Final = (0.35, 0.25, 0.75, 0.5, 0.0)

COMPLICATION_TYPES: Final = ("ssi", "bleeding", "vte", "pneumonia", "anastomotic_leak", "uti", "cardiac")
SEX_SHARES: Final = (0.51, 0.487, 0.003)  # F, M, U: in contract.SEXES order

# Approach vectors are in contract.APPROACHES order (open, laparoscopic, robotic), urgency vectors in
# contract.URGENCIES order (elective, urgent, emergency).
OPEN, LAPAROSCOPIC, ROBOTIC = (APPROACHES.index(a) for a in ("open", "laparoscopic", "robotic"))
ELECTIVE, URGENT, EMERGENCY = (URGENCIES.index(u) for u in ("elective", "urgent", "emergency"))

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class Family:
    """One procedure family: who does it, on whom, how, and how it goes."""

    name: str
    specialty: str
    share: float  # share of all cases
    sex_weight: Triple  # relative propensity of F, M, U patients (0: never, e.g. prostatectomy for F)
    age_mean: float
    age_sd: float
    urgency: Triple  # elective, urgent, emergency
    approach_robotic_surgeon: Triple  # approach mix of a surgeon who operates robotically
    approach_other_surgeon: Triple  # approach mix of everyone else
    codes: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # CPT codes per approach
    minutes: Triple  # median operative minutes per approach
    los_days: Triple  # median post-operative length of stay per approach
    blood_loss_ml: Triple  # median estimated blood loss per approach
    conversion: float  # probability a laparoscopic or robotic case is converted to open
    major_intercept: float  # logit of a major complication for the reference patient
    minor_rate: float  # mean number of minor (Clavien-Dindo I-II) complications for the reference patient
    mortality_intercept: float  # logit of 30-day death for the reference patient
    readmission: float  # probability of an unplanned readmission within 30 days of discharge
    planned_encounter: float  # probability of a planned later admission (stoma reversal, staged surgery)
    facility_logit: float  # shift of the odds of discharge to a facility
    asa_shift: float  # shift of the latent ASA score: cardiac patients are sicker
    admit_day_before: float  # probability an elective patient is admitted the day before surgery
    complication_types: tuple[float, ...]  # weights over COMPLICATION_TYPES
    site_types: tuple[str, ...]  # site types that perform the family


FAMILIES: Final = (
    Family(
        "cholecystectomy", "general", 0.17, (1.4, 0.75, 1.0), 53, 16, (0.68, 0.22, 0.10),
        (0.04, 0.81, 0.15), (0.06, 0.94, 0.0),
        (("47600", "47605"), ("47562", "47563"), ("47562", "47563")),
        (100, 70, 85), (3.5, 0.8, 0.8), (100, 20, 20), 0.04,
        -3.7, 0.06, -6.9, 0.04, 0.01, -0.8, 0.0, 0.02,
        (0.30, 0.20, 0.05, 0.15, 0.0, 0.15, 0.15), ("teaching", "community", "ambulatory"),
    ),
    Family(
        "hernia_repair", "general", 0.19, (0.6, 1.5, 1.0), 58, 16, (0.85, 0.10, 0.05),
        (0.40, 0.35, 0.25), (0.62, 0.38, 0.0),
        (("49505", "49507", "49591"), ("49650", "49651"), ("49650", "49651")),
        (65, 75, 90), (0.6, 0.7, 0.7), (15, 10, 10), 0.01,
        -4.1, 0.05, -7.2, 0.03, 0.01, -1.0, 0.0, 0.01,
        (0.35, 0.25, 0.05, 0.10, 0.0, 0.20, 0.05), ("teaching", "community", "ambulatory"),
    ),
    Family(
        "colectomy", "general", 0.10, (1.0, 1.0, 1.0), 66, 13, (0.62, 0.20, 0.18),
        (0.22, 0.38, 0.40), (0.40, 0.60, 0.0),
        (("44140", "44160"), ("44204", "44205"), ("44204", "44205")),
        (170, 190, 220), (7.0, 5.0, 4.5), (200, 100, 80), 0.10,
        -2.5, 0.25, -5.4, 0.11, 0.08, -0.3, 0.3, 0.20,
        (0.30, 0.10, 0.07, 0.13, 0.20, 0.12, 0.08), ("teaching", "community"),
    ),
    Family(
        "hip_replacement", "orthopaedic", 0.14, (1.3, 0.8, 1.0), 72, 11, (0.78, 0.19, 0.03),
        (1.0, 0.0, 0.0), (1.0, 0.0, 0.0),
        (("27130", "27125", "27236"), (), ()),
        (95, 95, 95), (3.8, 3.8, 3.8), (450, 450, 450), 0.0,
        -3.6, 0.10, -5.8, 0.06, 0.015, 0.6, 0.35, 0.10,
        (0.25, 0.20, 0.20, 0.12, 0.0, 0.15, 0.08), ("teaching", "community"),
    ),
    Family(
        "knee_replacement", "orthopaedic", 0.15, (1.2, 0.85, 1.0), 68, 9, (0.97, 0.02, 0.01),
        (0.65, 0.0, 0.35), (1.0, 0.0, 0.0),
        (("27447",), (), ("27447",)),
        (100, 100, 110), (2.6, 2.6, 2.3), (250, 250, 200), 0.0,
        -4.0, 0.08, -7.3, 0.045, 0.02, 0.0, 0.2, 0.05,
        (0.30, 0.15, 0.25, 0.08, 0.0, 0.14, 0.08), ("teaching", "community", "ambulatory"),
    ),
    Family(
        "prostatectomy", "urology", 0.07, (0.0, 1.0, 0.0), 63, 7, (0.99, 0.01, 0.0),
        (0.05, 0.05, 0.90), (0.60, 0.40, 0.0),
        (("55840", "55845"), ("55866",), ("55866",)),
        (170, 200, 180), (3.5, 2.0, 1.4), (700, 300, 200), 0.02,
        -3.5, 0.10, -7.8, 0.05, 0.01, -2.0, 0.0, 0.05,
        (0.15, 0.20, 0.10, 0.05, 0.15, 0.30, 0.05), ("teaching", "community"),
    ),
    Family(
        "hysterectomy", "gynaecology", 0.11, (1.0, 0.0, 0.0), 50, 11, (0.95, 0.04, 0.01),
        (0.18, 0.37, 0.45), (0.35, 0.65, 0.0),
        (("58150", "58180"), ("58571", "58573"), ("58571", "58573")),
        (110, 125, 140), (3.0, 1.2, 1.1), (300, 120, 80), 0.03,
        -3.4, 0.09, -7.8, 0.045, 0.01, -2.2, 0.0, 0.03,
        (0.30, 0.20, 0.08, 0.05, 0.0, 0.30, 0.07), ("teaching", "community"),
    ),
    Family(
        "cabg", "cardiothoracic", 0.07, (0.45, 1.6, 1.0), 66, 9, (0.60, 0.33, 0.07),
        (1.0, 0.0, 0.0), (1.0, 0.0, 0.0),
        (("33533", "33534", "33535"), (), ()),
        (240, 240, 240), (7.0, 7.0, 7.0), (650, 650, 650), 0.0,
        -2.4, 0.30, -5.1, 0.12, 0.01, 0.3, 1.0, 0.50,
        (0.20, 0.15, 0.05, 0.15, 0.0, 0.10, 0.35), ("teaching",),
    ),
)  # fmt: skip
FAMILY_NAMES: Final = tuple(f.name for f in FAMILIES)


@dataclass(frozen=True)
class RiskModel:
    """A logistic model: logit p = intercept[family] + age_per_decade * (age - 65) / 10
    + asa_per_class * (asa - 2) + urgent * [urgent] + emergency * [emergency]; age in fractional years."""

    age_per_decade: float
    asa_per_class: float
    urgent: float
    emergency: float
    reference_age: float = 65.0
    reference_asa: int = 2

    def describe(self, intercepts: dict[str, float]) -> dict[str, Any]:
        """The model as plain JSON-ready data, with its per-family intercepts."""
        return {
            "formula": "logit(p) = intercept[procedure_family] + age_per_decade * (age - reference_age) / 10"
            " + asa_per_class * (asa_class - reference_asa) + urgent * [urgency = urgent]"
            " + emergency * [urgency = emergency]; age in fractional years at surgery",
            **asdict(self),
            "intercept": intercepts,
        }


# `predicted_mortality` is this model; the true 30-day deaths are drawn from it too (times the planted site
# effect on the odds), so the O/E ratio of every unplanted unit is 1 in expectation.
MORTALITY_MODEL: Final = RiskModel(age_per_decade=0.55, asa_per_class=0.75, urgent=0.6, emergency=1.3)
# The odds of a major complication (Clavien-Dindo IIIa or worse); the planted surgeon multiplies them.
MAJOR_COMPLICATION_MODEL: Final = RiskModel(age_per_decade=0.25, asa_per_class=0.35, urgent=0.35, emergency=0.7)
MINOR_COMPLICATION_ASA: Final = 0.15  # log-rate of minor complications per ASA class above 2

MAJOR_GRADES: Final = ("IIIa", "IIIb", "IVa", "IVb")
MAJOR_GRADE_SHARES: Final = (0.45, 0.30, 0.17, 0.08)
MINOR_GRADES: Final = ("I", "II")
MINOR_GRADE_SHARES: Final = (0.55, 0.45)
DEATH_GRADE: Final = "V"
DEATH_AS_GRADE_V: Final = 0.7  # a death after a major complication records it as grade V
LATE_ONSET_SHARE: Final = 0.03  # complications first seen 31-75 days after surgery (outside the window)
NO_ONSET_SHARE: Final = 0.02  # complications recorded without an onset date

# Planted effects: large enough to be flagged by a 99.8% funnel at the default 20,000 cases.
# 2.0 was flagged at 95% in 20 of 20 seeds at 20,000 cases but at 99.8% in only 17: 2.5 is flagged at 99.8%
# in all 20 (crude proportion and O/E funnels), leaving room for overdispersion-widened limits.
COMPLICATION_ODDS_RATIO: Final = 2.5
MORTALITY_ODDS_RATIO: Final = 2.5
HIGH_VOLUME_WEIGHT: Final = 2.4  # planted surgeon's volume relative to the median surgeon of the specialty
LEARNING_CURVE_EXCESS: Final = 0.6  # operative time of a learning surgeon's first case: +60%
LEARNING_CURVE_SCALE: Final = 12.0  # cases; the excess decays as exp(-(seq - 1) / scale): ~1% at case 50
LEARNING_CURVE_FAMILIES: Final = ("prostatectomy", "hysterectomy")  # one new robotic surgeon each

# Scale.
YEARS: Final = 6
DEFAULT_RUN_DATE: Final = date(2025, 1, 1)  # the day after the default period 2019-01-01 .. 2024-12-31
MIN_CASES: Final = 100
CHUNK_CASES: Final = 500_000  # cases generated (and held in memory) at a time; fixed, so output is too
CASES_PER_PATIENT: Final = 1.6
MAX_CASES_PER_PATIENT: Final = 6
MIN_DAYS_BETWEEN_CASES: Final = 2


def site_count(cases: int) -> int:
    """Returns the number of sites for `cases` cases: one per 2,000 cases, between 5 and 40."""
    return min(40, max(5, round(cases / 2_000)))


def surgeon_count(cases: int) -> int:
    """Returns the number of surgeons for `cases` cases: one per 400 cases, between 20 and 2,000."""
    return min(2_000, max(20, round(cases / 400)))


def chunk_sizes(cases: int) -> list[int]:
    """Returns the number of cases of each generation chunk (all CHUNK_CASES but the last)."""
    full, rest = divmod(cases, CHUNK_CASES)
    return [CHUNK_CASES] * full + ([rest] if rest else [])


def id_width(cases: int) -> int:
    """Returns the digit count of patient, case, complication and encounter ids.

    One digit more than `cases` needs, so ids from the top of the range are free for planted orphans.
    """
    return max(6, len(str(cases)) + 1)


SITE_ID_WIDTH: Final = 2
SURGEON_ID_WIDTH: Final = 4


def period(run_date: date) -> tuple[date, date]:
    """Returns the first and last possible surgery dates for a run on `run_date`.

    Surgery ends two days before the run date so that nothing a clean row records (a late operation
    finishing after midnight included) is on or after the run date.
    """
    last = run_date - timedelta(days=2)
    return date(last.year - YEARS + 1, 1, 1), last


# Planted dirt, as a fraction of a table's rows per kind. Every planted row is broken in exactly one way.
REPAIR_RATE: Final = 0.004  # key_variant, code_variant, date_format
DUPLICATE_RATE: Final = 0.004  # duplicate_exact, duplicate_resent
QUARANTINE_RATE: Final = 0.001  # each quarantine kind
SMALL_TABLE_RATE: Final = 0.02  # sites and surgeons: a few of each kind
MIN_ROWS_FOR_EVERY_KIND: Final = 500  # a table this large gets at least one row of every kind


def planted_count(rate: float, rows: int) -> int:
    """Returns how many rows of a table of `rows` rows get one dirt kind planted at `rate`."""
    count = round(rate * rows)
    return max(count, 1) if rows >= MIN_ROWS_FOR_EVERY_KIND or rate >= SMALL_TABLE_RATE else count
