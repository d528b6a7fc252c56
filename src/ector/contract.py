"""The canonical Igraine Gold contract (S1): tables, columns, dtypes, keys and references.

This is the only module that names Gold columns. Every other module asks it: which tables exist, which
column is a table's key, which columns are required, what dtype a column has once consolidated.
A deployment's own table and column names are mapped onto these once, at ingest (settings `source.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import polars as pl

# Canonical code values. Consolidation maps source variants onto these (code maps in `consolidate.codes`).
SEXES: Final = ("F", "M", "U")
APPROACHES: Final = ("open", "laparoscopic", "robotic")
URGENCIES: Final = ("elective", "urgent", "emergency")
CLAVIEN_DINDO: Final = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")
MAJOR_CLAVIEN_DINDO: Final = ("IIIa", "IIIb", "IVa", "IVb", "V")
DISCHARGE_DESTINATIONS: Final = ("home", "facility", "died")
SITE_TYPES: Final = ("teaching", "community", "ambulatory")
AGE_BANDS: Final = ("<40", "40-59", "60-69", "70-79", "80+")


def _dtype(name: str) -> pl.DataType:
    """The polars dtype called `name` (`String`, `Timestamp`: microseconds, no zone). polars is imported here, not
    with the module: `ector --help` reads the contract through the stages' declarations and must start fast."""
    import polars as pl

    return pl.Datetime("us") if name == "Timestamp" else getattr(pl, name)()


def __getattr__(name: str) -> pl.DataType:
    if name == "TIMESTAMP":  # the dtype of every timestamp of the contract
        return _dtype("Timestamp")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, dtype once consolidated, whether it is required, and what it means."""

    name: str
    dtype_name: str  # a polars dtype: String, Int8, Int32, Date, Timestamp, ...
    required: bool
    meaning: str
    codes: tuple[str, ...] | None = None  # the canonical values of a coded column
    personal: bool = False  # a direct identifier or personal datum: never in logs or reports

    @property
    def dtype(self) -> pl.DataType:
        """The column's polars dtype once consolidated."""
        return _dtype(self.dtype_name)


@dataclass(frozen=True)
class Reference:
    """A foreign key: `column` of the child table points at the key of `parent`."""

    column: str
    parent: str
    required: bool  # a required reference makes an orphan a rule violation; an optional one may be null


@dataclass(frozen=True)
class Table:
    """One canonical table."""

    name: str
    key: str
    columns: tuple[Column, ...]
    mandatory: bool  # only `cases` is: a deployment may lack any other table
    meaning: str
    references: tuple[Reference, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def schema(self) -> pl.Schema:
        """The consolidated dtypes of this table, in contract order."""
        import polars as pl

        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(
    name: str,
    dtype: str,
    required: bool,
    meaning: str,
    codes: tuple[str, ...] | None = None,
    personal: bool = False,
) -> Column:
    return Column(name, dtype, required, meaning, codes, personal)


_UPDATED_AT = _c("updated_at", "Timestamp", False, "when the source stream last changed the row")

SITES = Table(
    name="sites",
    key="site_id",
    mandatory=False,
    meaning="one row per hospital or surgical site",
    columns=(
        _c("site_id", "String", True, "key"),
        _c("site_name", "String", True, "display name"),
        _c("region", "String", False, "health region or state"),
        _c("site_type", "String", False, "teaching, community or ambulatory", SITE_TYPES),
        _UPDATED_AT,
    ),
)

SURGEONS = Table(
    name="surgeons",
    key="surgeon_id",
    mandatory=False,
    meaning="one row per operating surgeon",
    columns=(
        _c("surgeon_id", "String", True, "key"),
        _c("surgeon_name", "String", False, "personal data: never in an external report", personal=True),
        _c("specialty", "String", False, "general, orthopaedic, urology, gynaecology, cardiothoracic, ..."),
        _c("primary_site_id", "String", False, "the surgeon's main site (-> sites)"),
        _c("first_year_in_practice", "Int32", False, "year the surgeon started operating"),
        _UPDATED_AT,
    ),
    references=(Reference("primary_site_id", "sites", required=False),),
)

PATIENTS = Table(
    name="patients",
    key="patient_id",
    mandatory=False,
    meaning="one row per patient",
    columns=(
        _c("patient_id", "String", True, "key; a direct identifier", personal=True),
        _c("birth_date", "Date", True, "date of birth", personal=True),
        _c("sex", "String", True, "F, M or U", SEXES),
        _c("death_date", "Date", False, "null: not known to have died"),
        _UPDATED_AT,
    ),
)

CASES = Table(
    name="cases",
    key="case_id",
    mandatory=True,
    meaning="one row per surgical procedure (the fact table)",
    columns=(
        _c("case_id", "String", True, "key"),
        _c("patient_id", "String", True, "-> patients", personal=True),
        _c("surgeon_id", "String", True, "primary operating surgeon (-> surgeons)"),
        _c("site_id", "String", True, "-> sites"),
        _c("procedure_code", "String", True, "source procedure code (CPT, OPCS, ...)"),
        _c("procedure_family", "String", True, "procedure grouping, e.g. cholecystectomy, colectomy"),
        _c("approach", "String", False, "open, laparoscopic or robotic", APPROACHES),
        _c("urgency", "String", False, "elective, urgent or emergency", URGENCIES),
        _c("asa_class", "Int8", False, "ASA physical status 1-5"),
        _c("admission_date", "Date", True, "date of admission for the procedure"),
        _c("surgery_start", "Timestamp", True, "knife to skin (local time)"),
        _c("surgery_end", "Timestamp", False, "skin closure (local time)"),
        _c("discharge_date", "Date", False, "null: still in hospital"),
        _c("converted_to_open", "Boolean", False, "conversion to open (laparoscopic or robotic only)"),
        _c("blood_loss_ml", "Float64", False, "estimated blood loss in millilitres"),
        _c("discharge_destination", "String", False, "home, facility or died", DISCHARGE_DESTINATIONS),
        _c("predicted_mortality", "Float64", False, "predicted risk of death 0-1 from an external model"),
        _c("source_system", "String", False, "the source stream that delivered the row"),
        _UPDATED_AT,
    ),
    references=(
        Reference("patient_id", "patients", required=True),
        Reference("surgeon_id", "surgeons", required=True),
        Reference("site_id", "sites", required=True),
    ),
)

COMPLICATIONS = Table(
    name="complications",
    key="complication_id",
    mandatory=False,
    meaning="zero or more rows per case",
    columns=(
        _c("complication_id", "String", True, "key"),
        _c("case_id", "String", True, "-> cases"),
        _c("complication_type", "String", True, "ssi, bleeding, vte, pneumonia, anastomotic_leak, ..."),
        _c("clavien_dindo", "String", True, "Clavien-Dindo grade I to V", CLAVIEN_DINDO),
        _c("onset_date", "Date", False, "date the complication began"),
        _UPDATED_AT,
    ),
    references=(Reference("case_id", "cases", required=True),),
)

ENCOUNTERS = Table(
    name="encounters",
    key="encounter_id",
    mandatory=False,
    meaning="hospital admissions after the index case (for readmission)",
    columns=(
        _c("encounter_id", "String", True, "key"),
        _c("patient_id", "String", True, "-> patients", personal=True),
        _c("site_id", "String", False, "-> sites (may differ from the surgery's site)"),
        _c("admission_date", "Date", True, "date of admission"),
        _c("discharge_date", "Date", False, "date of discharge"),
        _c("planned", "Boolean", False, "planned admissions are not readmissions"),
        _UPDATED_AT,
    ),
    references=(
        Reference("patient_id", "patients", required=True),
        Reference("site_id", "sites", required=False),
    ),
)

# In dependency order: parents before children. Stages iterate in this order.
TABLES: Final[dict[str, Table]] = {t.name: t for t in (SITES, SURGEONS, PATIENTS, CASES, COMPLICATIONS, ENCOUNTERS)}
TABLE_NAMES: Final = tuple(TABLES)


def table(name: str) -> Table:
    """The canonical table called `name`."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; canonical tables: {', '.join(TABLE_NAMES)}") from None


def personal_columns() -> set[str]:
    """Every column name that holds a direct identifier or personal datum, across all tables."""
    return {c.name for t in TABLES.values() for c in t.columns if c.personal}


def normalised_key(value: pl.Expr) -> pl.Expr:
    """A key or reference as consolidation compares it: text, trimmed, upper case (` p001` and `P001` match)."""
    import polars as pl

    return value.cast(pl.String).str.strip_chars().str.to_uppercase()
