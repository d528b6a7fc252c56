"""An independent DuckDB SQL computation of the case mart, for the agreement test and the benchmark.

Written from gold-contract.md and docs/data-dictionary.md alone, without calling ector.transform: plain joins
and window functions over the six consolidated tables (all present), the same columns in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

TABLES = ("sites", "surgeons", "patients", "cases", "complications", "encounters")


def reference_sql(window: int, strata: Sequence[str]) -> str:
    """Return one SELECT computing the case mart over views named after the canonical tables."""
    partition = f"PARTITION BY {', '.join(strata)}" if strata else ""
    return f"""
WITH c AS (
    SELECT *, CAST(surgery_start AS DATE) AS surgery_date FROM cases
),
base AS (
    SELECT c.*, p.sex, p.birth_date, p.death_date, s.specialty, h.site_name, h.site_type, h.region,
        YEAR(c.surgery_date) - YEAR(p.birth_date)
            - CASE WHEN strftime(c.surgery_date, '%m%d') < strftime(p.birth_date, '%m%d') THEN 1 ELSE 0 END
            AS age
    FROM c
    LEFT JOIN patients p ON p.patient_id = c.patient_id
    LEFT JOIN surgeons s ON s.surgeon_id = c.surgeon_id
    LEFT JOIN sites h ON h.site_id = c.site_id
),
graded AS (
    SELECT k.case_id,
        CASE k.clavien_dindo WHEN 'I' THEN 1 WHEN 'II' THEN 2 WHEN 'IIIa' THEN 3 WHEN 'IIIb' THEN 4
            WHEN 'IVa' THEN 5 WHEN 'IVb' THEN 6 WHEN 'V' THEN 7 END AS grade
    FROM complications k JOIN c ON c.case_id = k.case_id
    WHERE k.onset_date IS NULL OR k.onset_date - c.surgery_date BETWEEN 0 AND {window}
),
comp AS (
    SELECT case_id, COUNT(*) AS n, MAX(grade) AS worst FROM graded GROUP BY case_id
),
readm AS (
    SELECT DISTINCT c.case_id
    FROM c JOIN encounters e ON e.patient_id = c.patient_id
    WHERE e.planned IS DISTINCT FROM TRUE AND e.admission_date - c.discharge_date BETWEEN 0 AND {window}
),
reop AS (
    SELECT DISTINCT a.case_id
    FROM c a JOIN c b ON b.patient_id = a.patient_id AND b.surgery_start > a.surgery_start
    WHERE b.surgery_date - a.surgery_date <= {window}
),
outcomes AS (
    SELECT base.*,
        CASE WHEN age IS NULL THEN NULL WHEN age < 40 THEN '<40' WHEN age < 60 THEN '40-59'
            WHEN age < 70 THEN '60-69' WHEN age < 80 THEN '70-79' ELSE '80+' END AS age_band,
        COALESCE(comp.n, 0) AS complication_count,
        CASE comp.worst WHEN 1 THEN 'I' WHEN 2 THEN 'II' WHEN 3 THEN 'IIIa' WHEN 4 THEN 'IIIb'
            WHEN 5 THEN 'IVa' WHEN 6 THEN 'IVb' WHEN 7 THEN 'V' END AS worst_clavien_dindo,
        comp.n IS NOT NULL AS complication_any,
        COALESCE(comp.worst >= 3, FALSE) AS complication_major,
        CASE WHEN base.discharge_date IS NULL THEN NULL ELSE readm.case_id IS NOT NULL END AS readmission_30d,
        reop.case_id IS NOT NULL AS reoperation_30d,
        COALESCE(base.death_date - base.surgery_date BETWEEN 0 AND {window}, FALSE)
            OR COALESCE(base.discharge_destination = 'died', FALSE) AS mortality_30d
    FROM base
    LEFT JOIN comp ON comp.case_id = base.case_id
    LEFT JOIN readm ON readm.case_id = base.case_id
    LEFT JOIN reop ON reop.case_id = base.case_id
)
SELECT
    case_id, patient_id, surgeon_id, site_id, procedure_code, procedure_family, approach, urgency, asa_class,
    admission_date, discharge_date, surgery_start, surgery_end, discharge_destination, source_system,
    blood_loss_ml, predicted_mortality, sex, specialty, site_name, site_type, region, surgery_date,
    strftime(surgery_date, '%Y-%m') AS period_month,
    YEAR(surgery_date) || '-Q' || QUARTER(surgery_date) AS period_quarter,
    CAST(YEAR(surgery_date) AS INTEGER) AS period_year,
    CAST(age AS SMALLINT) AS age_at_surgery,
    age_band,
    CAST(discharge_date - admission_date AS INTEGER) AS los_days,
    epoch_us(surgery_end - surgery_start) / 60000000.0 AS operative_minutes,
    CAST(ROW_NUMBER() OVER (PARTITION BY surgeon_id, procedure_family ORDER BY surgery_start, case_id)
        AS INTEGER) AS surgeon_case_seq,
    CAST(complication_count AS INTEGER) AS complication_count,
    worst_clavien_dindo, complication_any, complication_major, readmission_30d, reoperation_30d, mortality_30d,
    CASE WHEN approach IN ('laparoscopic', 'robotic') THEN converted_to_open END AS conversion,
    COALESCE(predicted_mortality, AVG(CAST(mortality_30d AS DOUBLE)) OVER ({partition})) AS expected_mortality_30d,
    AVG(CAST(complication_major AS DOUBLE)) OVER ({partition}) AS expected_complication_major
FROM outcomes
ORDER BY surgery_start, case_id
"""


def register_frames(db: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> None:
    """Expose in-memory frames to `db` as views named after their tables."""
    for name in TABLES:
        db.register(name, tables[name].to_arrow())


def register_parquet(db: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Expose `folder/<table>.parquet` files to `db` as views named after their tables."""
    for name in TABLES:
        path = (folder / f"{name}.parquet").as_posix()
        db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")


def duckdb_mart(tables: dict[str, pl.DataFrame], window: int, strata: Sequence[str]) -> pl.DataFrame:
    """Return the reference case mart of in-memory `tables`, computed by DuckDB."""
    with duckdb.connect() as db:
        register_frames(db, tables)
        frame: pl.DataFrame = db.sql(reference_sql(window, strata)).pl()
        return frame
