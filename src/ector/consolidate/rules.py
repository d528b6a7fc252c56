"""The names of everything consolidation repairs, merges or quarantines.

These names are a contract between consolidation, its summary table, the demo's truth file and the report:
a planted dirt kind in the demo is counted under the rule of the same name here.
"""

from __future__ import annotations

from typing import Final

# Repairs: the row is kept, the value is fixed, the repair is counted.
KEY_VARIANT: Final = "key_variant"  # a key or reference with stray whitespace or lower case
CODE_VARIANT: Final = "code_variant"  # a coded value spelled another way (`female`, `LAP`, `3a`, `Y`)
DATE_FORMAT: Final = "date_format"  # a date or timestamp given as text in a format other than ISO 8601
REPAIRS: Final = (KEY_VARIANT, CODE_VARIANT, DATE_FORMAT)

# Merges: the row is folded into another row with the same key.
DUPLICATE_EXACT: Final = "duplicate_exact"  # the same key and the same values, delivered again
DUPLICATE_RESENT: Final = "duplicate_resent"  # the same key re-sent with other values: the latest updated_at wins
MERGES: Final = (DUPLICATE_EXACT, DUPLICATE_RESENT)

# Quarantine: the row cannot be repaired and is set aside with every rule it broke.
MISSING_REQUIRED: Final = "missing_required"  # a required value is null or blank
UNPARSEABLE_DATE: Final = "unparseable_date"  # a date or timestamp in none of the configured formats
# A date text that day-first and month-first formats read as different dates, in a column whose values give no
# evidence of its order and whose order settings do not state (`06/03/2019`): never guessed.
AMBIGUOUS_DATE: Final = "ambiguous_date"
UNMAPPED_CODE: Final = "unmapped_code"  # a coded value that no code map knows: never guessed
INVALID_NUMBER: Final = "invalid_number"  # a numeric column whose text is not a number
FUTURE_DATE: Final = "future_date"  # a date or timestamp after the run date
END_BEFORE_START: Final = "end_before_start"  # surgery_end before surgery_start
DISCHARGE_BEFORE_ADMISSION: Final = "discharge_before_admission"  # discharge_date before admission_date
AGE_OUT_OF_RANGE: Final = "age_out_of_range"  # a birth date that makes the patient older than 120 or unborn
ASA_OUT_OF_RANGE: Final = "asa_out_of_range"  # ASA class outside 1-5
OPERATIVE_TIME_OUT_OF_RANGE: Final = "operative_time_out_of_range"  # surgery longer than 24 hours
NEGATIVE_BLOOD_LOSS: Final = "negative_blood_loss"
RISK_OUT_OF_RANGE: Final = "risk_out_of_range"  # predicted_mortality outside 0-1
ORPHAN_PATIENT: Final = "orphan_patient"  # refers to a patient not in the patients table
ORPHAN_SURGEON: Final = "orphan_surgeon"
ORPHAN_SITE: Final = "orphan_site"
ORPHAN_CASE: Final = "orphan_case"
PARENT_QUARANTINED: Final = "parent_quarantined"  # its parent row exists but was quarantined

# Notes: the row is kept as it is, and the count is shown so that nothing changes or goes missing unseen.
MISSING_OPTIONAL: Final = "missing_optional"  # an optional value is null: kept null, never imputed
DANGLING_OPTIONAL_REFERENCE: Final = "dangling_optional_reference"  # an optional reference to no clean parent row
NOTES: Final = (MISSING_OPTIONAL, DANGLING_OPTIONAL_REFERENCE)

ORPHAN_RULE_BY_PARENT: Final = {
    "patients": ORPHAN_PATIENT,
    "surgeons": ORPHAN_SURGEON,
    "sites": ORPHAN_SITE,
    "cases": ORPHAN_CASE,
}
