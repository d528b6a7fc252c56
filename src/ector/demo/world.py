"""The fixed world every chunk of cases is drawn in: the calendar, the sites, the surgeons, the planted units.

The world is small (at most 40 sites and 2,000 surgeons) and built once per run from its own random stream,
so every chunk of cases sees the same sites and surgeons whatever the chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from ector.contract import SITE_TYPES
from ector.demo import model
from ector.demo.streams import Stream, generator

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EPOCH: date = date(1970, 1, 1)
DAY_US: int = 86_400_000_000
NEVER: int = 2**40  # a day number later than any date: a surgeon who never operates robotically
NO_DAY: int = -(2**40)  # a null date in the day-number arrays

# Arthurian places, for site names (Igraine was Arthur's mother; Ector his foster father).
_PLACES = (
    "Camelot", "Tintagel", "Caerleon", "Astolat", "Carbonek", "Lyonesse", "Benwick", "Orkney", "Lothian",
    "Gore", "Sorelois", "Listeneise", "Carlisle", "Logres", "Cameliard", "Northgalis", "Estrangore", "Garlot",
    "Kernow", "Norgales", "Rheged", "Elmet", "Gwynedd", "Dyfed", "Powys", "Dumnonia", "Lindsey", "Deira",
    "Bernicia", "Strathclyde", "Galloway", "Celliwig", "Glastonbury", "Amesbury", "Winchester", "Caerwent",
    "Dinas Emrys", "Joyous Gard", "Lonazep", "Avalon",
)  # fmt: skip
_SITE_KIND_NAMES = {
    "teaching": "University Hospital",
    "community": "General Hospital",
    "ambulatory": "Day Surgery Centre",
}
_REGIONS = ("North", "South", "East", "West", "Central")
_SURNAMES = (
    "Pendragon", "Gawain", "Bedivere", "Kay", "Lancelot", "Galahad", "Percival", "Tristram", "Gareth", "Gaheris",
    "Agravaine", "Mordred", "Lamorak", "Pellinore", "Bors", "Lionel", "Ector", "Dagonet", "Palamedes", "Safir",
    "Ywain", "Erec", "Geraint", "Enid", "Vivian", "Nimue", "Morgan", "Elaine", "Lynette", "Lyonors",
    "Ragnelle", "Brangaine", "Isolde", "Guinevere", "Igraine", "Uther", "Gorlois", "Leodegrance", "Bagdemagus",
    "Meliagaunt", "Caradoc", "Sagramore", "Dinadan", "Ozanna", "Aglovale", "Tor", "Hoel", "Urien", "Lot", "Anna",
)  # fmt: skip
_INITIALS = "ABCDEFGHIJKLMNOPRSTVW"


def day_number(d: date) -> int:
    """Returns the days since 1970-01-01 of `d` (the storage of a polars Date)."""
    return (d - EPOCH).days


@dataclass(frozen=True)
class Calendar:
    """Surgery days of the period and the cumulative probability of each, for elective and other cases."""

    days: IntArray  # day numbers, first to last surgery day
    elective_cdf: FloatArray
    nonelective_cdf: FloatArray


@dataclass(frozen=True)
class Sites:
    """The sites, by index: the i-th id, name, region, type, volume weight and source stream."""

    ids: list[str]
    names: list[str]
    regions: list[str | None]
    types: IntArray  # index into contract.SITE_TYPES
    weights: FloatArray  # relative case volume
    systems: list[str]  # the source stream each site's rows arrive by


@dataclass(frozen=True)
class Surgeons:
    """The surgeons, by index."""

    ids: list[str]
    names: list[str]
    specialty: IntArray  # index into model.SPECIALTIES
    primary_site: IntArray
    first_year: IntArray
    weights: FloatArray
    robotic_since: IntArray  # day number from which the surgeon operates robotically (NEVER: not at all)


@dataclass(frozen=True)
class Planted:
    """The planted units, as indices into sites and surgeons."""

    high_complication_surgeons: list[int]
    high_mortality_sites: list[int]
    learning_curve_surgeons: list[int]
    learning_curve_families: list[int]  # the family each learning surgeon learns, same order


@dataclass(frozen=True)
class World:
    """Everything shared by all chunks of one run."""

    cases: int
    seed: int
    run_date: date
    first_day: date
    last_day: date
    id_width: int
    chunks: list[int]  # cases per chunk
    calendar: Calendar
    sites: Sites
    surgeons: Surgeons
    planted: Planted

    @property
    def run_day(self) -> int:
        """Returns the run date as a day number."""
        return day_number(self.run_date)


def build_world(cases: int, seed: int, run_date: date) -> World:
    """Returns the world of a demo run: calendar, sites, surgeons and planted units, all seeded by `seed`."""
    rng = generator(seed, Stream.WORLD)
    first, last = model.period(run_date)
    calendar = _calendar(first, last)
    sites = _sites(rng, model.site_count(cases))
    surgeons = _surgeons(rng, model.surgeon_count(cases), sites, first, last)
    planted = _plant_units(sites, surgeons, first)
    surgeons = _apply_planted_volumes(surgeons, planted, first)
    return World(
        cases=cases,
        seed=seed,
        run_date=run_date,
        first_day=first,
        last_day=last,
        id_width=model.id_width(cases),
        chunks=model.chunk_sizes(cases),
        calendar=calendar,
        sites=sites,
        surgeons=surgeons,
        planted=planted,
    )


def _calendar(first: date, last: date) -> Calendar:
    """Returns day weights with a trend, seasons, weekends, holidays and the 2020 pandemic pause."""
    days = np.arange(day_number(first), day_number(last) + 1, dtype=np.int64)
    as_dates = days.astype("datetime64[D]")
    month = as_dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    day_of_month = (as_dates - as_dates.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (days + 3) % 7  # 0 = Monday; 1970-01-01 was a Thursday
    years = (days - days[0]) / 365.25
    trend = 1.0 + 0.03 * years  # volume grows ~3% a year
    seasons = np.array([0.95, 1.0, 1.05, 1.0, 1.0, 1.0, 0.9, 0.8, 1.05, 1.1, 1.1, 0.85])[month]
    elective = trend * seasons * np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.08, 0.03))
    other = trend * np.where(weekday < 5, 1.0, 0.85)
    holidays = ((month == 11) & (day_of_month >= 24)) | ((month == 0) & (day_of_month == 1))
    elective = np.where(holidays, elective * 0.3, elective)
    pandemic = (as_dates >= np.datetime64("2020-03-20")) & (as_dates < np.datetime64("2020-06-01"))
    second_wave = (as_dates >= np.datetime64("2020-11-01")) & (as_dates < np.datetime64("2021-02-01"))
    elective = elective * np.where(pandemic, 0.25, np.where(second_wave, 0.7, 1.0))
    other = other * np.where(pandemic, 0.8, 1.0)
    return Calendar(days, _cdf(elective), _cdf(other))


def _cdf(weights: FloatArray) -> FloatArray:
    cdf = np.cumsum(weights)
    result: FloatArray = cdf / cdf[-1]
    return result


def _sites(rng: np.random.Generator, n: int) -> Sites:
    teaching = max(1, round(0.3 * n))
    ambulatory = max(1, round(0.2 * n))
    types = np.array(
        [SITE_TYPES.index("teaching")] * teaching
        + [SITE_TYPES.index("community")] * (n - teaching - ambulatory)
        + [SITE_TYPES.index("ambulatory")] * ambulatory,
        dtype=np.int64,
    )
    base = np.array([3.0, 1.4, 0.5])[types]  # teaching, community, ambulatory in SITE_TYPES order
    weights = base * rng.lognormal(0.0, 0.3, n)
    places = rng.permutation(len(_PLACES))[:n]
    names = [f"{_PLACES[p]} {_SITE_KIND_NAMES[SITE_TYPES[t]]}" for p, t in zip(places, types, strict=True)]
    regions: list[str | None] = [_REGIONS[i % len(_REGIONS)] for i in range(n)]
    regions[-1] = None  # one site never told the registry its region (an optional column)
    systems = [f"igraine_{_REGIONS[i % len(_REGIONS)].lower()}" for i in range(n)]
    ids = [f"H{i + 1:0{model.SITE_ID_WIDTH}d}" for i in range(n)]
    return Sites(ids, names, regions, types, weights, systems)


def _surgeons(rng: np.random.Generator, n: int, sites: Sites, first: date, last: date) -> Surgeons:
    counts = [max(2, round(share * n)) for share in model.SPECIALTY_SHARES]
    counts[0] += n - sum(counts)  # general surgery absorbs the rounding
    specialty = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    weights = rng.lognormal(0.0, 0.45, n)
    cardiac = model.SPECIALTIES.index("cardiothoracic")
    teaching = SITE_TYPES.index("teaching")
    ambulatory = SITE_TYPES.index("ambulatory")
    # Cardiac surgeons work at teaching sites; everyone else at a teaching or community site.
    primary = np.empty(n, dtype=np.int64)
    for is_cardiac in (True, False):
        rows = np.flatnonzero((specialty == cardiac) == is_cardiac)
        allowed = sites.types == teaching if is_cardiac else sites.types != ambulatory
        p = np.where(allowed, sites.weights, 0.0)
        primary[rows] = rng.choice(len(p), size=len(rows), p=p / p.sum())
    first_year = rng.integers(1978, first.year - 1, size=n, endpoint=True)
    robotic = rng.random(n) < np.array(model.ROBOTIC_SURGEON_SHARE)[specialty]
    # A third of the robotic surgeons already were at the start; the others take it up during the period.
    span = day_number(last) - day_number(first)
    since = np.where(rng.random(n) < 1 / 3, day_number(first) - 1, day_number(first) + rng.integers(0, span, size=n))
    robotic_since = np.where(robotic, since, NEVER).astype(np.int64)
    names = [
        f"{_INITIALS[i]}. {_SURNAMES[s]}"
        for i, s in zip(rng.integers(0, len(_INITIALS), n), rng.integers(0, len(_SURNAMES), n), strict=True)
    ]
    ids = [f"S{i + 1:0{model.SURGEON_ID_WIDTH}d}" for i in range(n)]
    return Surgeons(ids, names, specialty, primary, first_year.astype(np.int64), weights, robotic_since)


def _plant_units(sites: Sites, surgeons: Surgeons, first: date) -> Planted:
    """Returns the planted units: chosen by rule, not by chance, so each has the volume to be found."""
    teaching = np.flatnonzero(sites.types == SITE_TYPES.index("teaching"))
    mortality_site = int(teaching[np.argmax(sites.weights[teaching])])
    general = model.SPECIALTIES.index("general")
    # The complication surgeon works elsewhere than the mortality site, so the two effects stay apart.
    candidates = np.flatnonzero((surgeons.specialty == general) & (surgeons.primary_site != mortality_site))
    if len(candidates) == 0:
        candidates = np.flatnonzero(surgeons.specialty == general)
    complication_surgeon = int(candidates[np.argmax(surgeons.weights[candidates])])
    learners, families = [], []
    for family_name in model.LEARNING_CURVE_FAMILIES:
        family = model.FAMILY_NAMES.index(family_name)
        specialty = model.SPECIALTIES.index(model.FAMILIES[family].specialty)
        pool = np.flatnonzero(surgeons.specialty == specialty)
        learners.append(int(pool[np.argmax(surgeons.weights[pool])]))
        families.append(family)
    return Planted([complication_surgeon], [mortality_site], learners, families)


def _apply_planted_volumes(surgeons: Surgeons, planted: Planted, first: date) -> Surgeons:
    """Returns the surgeons with the planted ones given a high volume, and the learners starting out."""
    weights = surgeons.weights.copy()
    first_year = surgeons.first_year.copy()
    robotic_since = surgeons.robotic_since.copy()
    for s in planted.high_complication_surgeons + planted.learning_curve_surgeons:
        peers = surgeons.specialty == surgeons.specialty[s]
        weights[s] = max(weights[s], model.HIGH_VOLUME_WEIGHT * float(np.median(surgeons.weights[peers])))
    for s in planted.learning_curve_surgeons:
        # New consultants who operate robotically from their very first case in the data.
        first_year[s] = first.year
        robotic_since[s] = day_number(first) - 1
    return Surgeons(
        surgeons.ids, surgeons.names, surgeons.specialty, surgeons.primary_site, first_year, weights, robotic_since
    )
