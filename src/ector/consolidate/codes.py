"""Default code maps: source spellings of coded values -> canonical values.

Matching is on the trimmed, lower-cased source text, so `Female`, ` FEMALE ` and `female` are one entry.
A value found in no map is not guessed: consolidation quarantines the row under `unmapped_code`.
Settings `consolidation.code_maps` extend or override these per column.
"""

from __future__ import annotations

from typing import Final

SEX: Final[dict[str, str]] = {
    "f": "F", "female": "F", "woman": "F", "2": "F",
    "m": "M", "male": "M", "man": "M", "1": "M",
    "u": "U", "unknown": "U", "unk": "U", "0": "U", "9": "U", "x": "U",
}  # fmt: skip

APPROACH: Final[dict[str, str]] = {
    "open": "open", "o": "open",
    "laparoscopic": "laparoscopic", "lap": "laparoscopic", "laparoscopy": "laparoscopic", "mis": "laparoscopic",
    "robotic": "robotic", "robot": "robotic", "robotic-assisted": "robotic", "robotic assisted": "robotic",
    "rob": "robotic",
}  # fmt: skip

URGENCY: Final[dict[str, str]] = {
    "elective": "elective", "elec": "elective", "e": "elective", "planned": "elective",
    "urgent": "urgent", "urg": "urgent", "u": "urgent",
    "emergency": "emergency", "emerg": "emergency", "emergent": "emergency", "em": "emergency",
}  # fmt: skip

# A bare `3` or `4` is recorded by some streams without the sub-grade. Both sub-grades of III are major, so
# `3` -> `IIIa` (the lower sub-grade) keeps complication_major right and never overstates severity.
CLAVIEN_DINDO: Final[dict[str, str]] = {
    "i": "I", "1": "I",
    "ii": "II", "2": "II",
    "iiia": "IIIa", "3a": "IIIa", "3": "IIIa", "iii": "IIIa",
    "iiib": "IIIb", "3b": "IIIb",
    "iva": "IVa", "4a": "IVa", "4": "IVa", "iv": "IVa",
    "ivb": "IVb", "4b": "IVb",
    "v": "V", "5": "V",
}  # fmt: skip

DISCHARGE_DESTINATION: Final[dict[str, str]] = {
    "home": "home", "usual residence": "home", "h": "home",
    "facility": "facility", "nursing home": "facility", "rehab": "facility", "rehabilitation": "facility",
    "transfer": "facility", "other facility": "facility",
    "died": "died", "dead": "died", "death": "died", "deceased": "died",
}  # fmt: skip

SITE_TYPE: Final[dict[str, str]] = {
    "teaching": "teaching", "academic": "teaching", "university": "teaching",
    "community": "community", "district": "community",
    "ambulatory": "ambulatory", "day surgery": "ambulatory", "asc": "ambulatory",
}  # fmt: skip

BOOLEAN: Final[dict[str, str]] = {
    "true": "true", "t": "true", "yes": "true", "y": "true", "1": "true",
    "false": "false", "f": "false", "no": "false", "n": "false", "0": "false",
}  # fmt: skip

# Coded string columns, by canonical column name.
CODE_MAPS: Final[dict[str, dict[str, str]]] = {
    "sex": SEX,
    "approach": APPROACH,
    "urgency": URGENCY,
    "clavien_dindo": CLAVIEN_DINDO,
    "discharge_destination": DISCHARGE_DESTINATION,
    "site_type": SITE_TYPE,
}

# Date and timestamp text formats tried in order (strftime). Both orders of the slash formats are listed: where
# day-first and month-first read a text as two different dates (`05/03/2024`), the column's other values, or
# `consolidation.date_order`, decide (see `dates`); nothing is guessed. Settings `consolidation.date_formats` /
# `timestamp_formats` replace these; a list holding one order only states that order.
DATE_FORMATS: Final = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d-%b-%Y")
TIMESTAMP_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d-%b-%Y %H:%M:%S",
    # Fractional seconds, as Polars and most databases write a timestamp cast to text (`%.f` also matches none).
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
)
