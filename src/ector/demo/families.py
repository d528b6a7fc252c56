"""The procedure families of `model.FAMILIES` as numpy arrays, for vectorised lookups by family index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ector.contract import SITE_TYPES
from ector.demo import model

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FamilyTable:
    """One row per family (in model.FAMILIES order); per-approach and per-urgency values as columns."""

    share: FloatArray
    sex_weight: FloatArray  # family x sex
    age_mean: FloatArray
    age_sd: FloatArray
    urgency: FloatArray  # family x urgency
    approach_robotic_surgeon: FloatArray  # family x approach
    approach_other_surgeon: FloatArray
    has_codes: BoolArray  # family x approach
    minutes: FloatArray  # family x approach
    los_days: FloatArray
    blood_loss_ml: FloatArray
    conversion: FloatArray
    major_intercept: FloatArray
    minor_rate: FloatArray
    mortality_intercept: FloatArray
    readmission: FloatArray
    planned_encounter: FloatArray
    facility_logit: FloatArray
    asa_shift: FloatArray
    admit_day_before: FloatArray
    complication_types: FloatArray  # family x complication type
    specialty: IntArray  # index into model.SPECIALTIES
    site_type_allowed: BoolArray  # family x site type


def _column(name: str) -> FloatArray:
    return np.array([getattr(f, name) for f in model.FAMILIES], dtype=np.float64)


def build_family_table() -> FamilyTable:
    """Returns the families of the model as arrays."""
    families = model.FAMILIES
    return FamilyTable(
        share=_column("share"),
        sex_weight=_column("sex_weight"),
        age_mean=_column("age_mean"),
        age_sd=_column("age_sd"),
        urgency=_column("urgency"),
        approach_robotic_surgeon=_column("approach_robotic_surgeon"),
        approach_other_surgeon=_column("approach_other_surgeon"),
        has_codes=np.array([[len(codes) > 0 for codes in f.codes] for f in families]),
        minutes=_column("minutes"),
        los_days=_column("los_days"),
        blood_loss_ml=_column("blood_loss_ml"),
        conversion=_column("conversion"),
        major_intercept=_column("major_intercept"),
        minor_rate=_column("minor_rate"),
        mortality_intercept=_column("mortality_intercept"),
        readmission=_column("readmission"),
        planned_encounter=_column("planned_encounter"),
        facility_logit=_column("facility_logit"),
        asa_shift=_column("asa_shift"),
        admit_day_before=_column("admit_day_before"),
        complication_types=_column("complication_types"),
        specialty=np.array([model.SPECIALTIES.index(f.specialty) for f in families], dtype=np.int64),
        site_type_allowed=np.array([[t in f.site_types for t in SITE_TYPES] for f in families]),
    )


FAMILY_TABLE = build_family_table()
