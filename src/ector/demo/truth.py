"""The truth file: what was planted, and what consolidation must therefore report, table by table."""

from __future__ import annotations

import math
from typing import Any

from ector.consolidate import rules
from ector.contract import APPROACHES, SEXES, TABLE_NAMES, TABLES
from ector.demo import model
from ector.demo.dirt import QUARANTINE_RULES, DirtTally, text_columns
from ector.demo.world import World


def build_truth(world: World, clean: bool, tally: DirtTally) -> dict[str, Any]:
    """Returns the truth of a demo run as JSON-ready data (keys in a fixed order)."""
    sites, surgeons, planted = world.sites, world.surgeons, world.planted
    return {
        "seed": world.seed,
        "cases": world.cases,
        "clean": clean,
        "run_date": world.run_date.isoformat(),
        "period": {"first_surgery_day": world.first_day.isoformat(), "last_surgery_day": world.last_day.isoformat()},
        "parameters": _parameters(world),
        "planted": {
            "high_complication_surgeons": [surgeons.ids[s] for s in planted.high_complication_surgeons],
            "complication_odds_ratio": model.COMPLICATION_ODDS_RATIO,
            "high_mortality_sites": [sites.ids[s] for s in planted.high_mortality_sites],
            "mortality_odds_ratio": model.MORTALITY_ODDS_RATIO,
            "learning_curve_surgeons": [surgeons.ids[s] for s in planted.learning_curve_surgeons],
            "learning_curve_families": {
                surgeons.ids[s]: model.FAMILY_NAMES[f]
                for s, f in zip(planted.learning_curve_surgeons, planted.learning_curve_families, strict=True)
            },
        },
        "dirt": {name: dict(tally.planted[name]) for name in TABLE_NAMES},
        "dirt_by_column": {
            name: {rule: dict(columns) for rule, columns in tally.by_column[name].items()} for name in TABLE_NAMES
        },
        "text_columns": {name: [] if clean else list(text_columns(TABLES[name])) for name in TABLE_NAMES},
        "expected": {name: expected_counts(tally, name) for name in TABLE_NAMES},
    }


def expected_counts(tally: DirtTally, name: str) -> dict[str, Any]:
    """Returns what consolidation must report for table `name`; rows_in = rows_out + merged + quarantined."""
    planted = tally.planted[name]
    merged = {rule: planted.get(rule, 0) for rule in rules.MERGES}
    quarantine = {rule: count for rule, count in planted.items() if rule in QUARANTINE_RULES}
    if name in {t.name for t in TABLES.values() if t.references and any(r.required for r in t.references)}:
        quarantine[rules.PARENT_QUARANTINED] = tally.cascaded.get(name, 0)
    quarantined = sum(quarantine.values())
    rows_in = tally.rows_in.get(name, 0)
    return {
        "rows_in": rows_in,
        "duplicates_merged": sum(merged.values()),
        "quarantined": quarantined,
        "rows_out": rows_in - sum(merged.values()) - quarantined,
        "duplicates_by_rule": merged,
        "quarantine_by_rule": quarantine,
        "repairs": {rule: planted.get(rule, 0) for rule in rules.REPAIRS},
        # Notes: rows kept as they are. No optional reference is left dangling (sites are never quarantined
        # and no orphan is planted in an optional reference).
        "notes": {
            "missing_optional_by_column": dict(tally.optional_nulls[name]),
            "dangling_optional_reference": 0,
        },
    }


def true_odds_ratios(risk_model: model.RiskModel, intercepts: dict[str, float]) -> dict[str, Any]:
    """Returns the odds ratios of the generating model, factor by factor, each level against the level given 1.

    What a fitted model's odds ratios estimate (after division by the truth at the fit's reference level). Age
    enters the generating model linearly: its odds ratio is per decade (a band's is that to the power of its mean
    age's distance in decades). Sex has no effect. The planted surgeon and site effects are not patient factors
    and are left out, as a risk model leaves them out.
    """
    first = model.FAMILY_NAMES[0]
    return {
        "age_per_decade": math.exp(risk_model.age_per_decade),
        "asa_class": {
            str(asa): math.exp(risk_model.asa_per_class * (asa - risk_model.reference_asa)) for asa in range(1, 6)
        },
        "urgency": {
            "elective": 1.0,
            "urgent": math.exp(risk_model.urgent),
            "emergency": math.exp(risk_model.emergency),
        },
        "sex": dict.fromkeys(SEXES, 1.0),
        "procedure_family": {name: math.exp(value - intercepts[first]) for name, value in intercepts.items()},
    }


def _parameters(world: World) -> dict[str, Any]:
    return {
        "sites": len(world.sites.ids),
        "surgeons": len(world.surgeons.ids),
        "chunk_cases": model.CHUNK_CASES,
        "mortality_model": model.MORTALITY_MODEL.describe({f.name: f.mortality_intercept for f in model.FAMILIES}),
        "true_mortality": "p = expit(logit(predicted_mortality) + log(mortality_odds_ratio) * [planted site]);"
        " death on days 0-29 after surgery",
        "major_complication_model": model.MAJOR_COMPLICATION_MODEL.describe(
            {f.name: f.major_intercept for f in model.FAMILIES}
        )
        | {"planted_surgeon_term": "+ log(complication_odds_ratio)"},
        "true_odds_ratios": {
            "mortality_30d": true_odds_ratios(
                model.MORTALITY_MODEL, {f.name: f.mortality_intercept for f in model.FAMILIES}
            ),
            "complication_major": true_odds_ratios(
                model.MAJOR_COMPLICATION_MODEL, {f.name: f.major_intercept for f in model.FAMILIES}
            ),
        },
        "learning_curve": {
            "formula": "operative minutes x (1 + excess * exp(-(surgeon_case_seq - 1) / scale_cases))",
            "excess": model.LEARNING_CURVE_EXCESS,
            "scale_cases": model.LEARNING_CURVE_SCALE,
        },
        "families": {
            f.name: {
                "specialty": f.specialty,
                "share": f.share,
                "codes": dict(zip(APPROACHES, (list(c) for c in f.codes), strict=True)),
            }
            for f in model.FAMILIES
        },
        "dirt_rates": {
            "repair": model.REPAIR_RATE,
            "duplicate": model.DUPLICATE_RATE,
            "quarantine": model.QUARANTINE_RATE,
            "sites_and_surgeons": model.SMALL_TABLE_RATE,
            "min_rows_for_every_kind": model.MIN_ROWS_FOR_EVERY_KIND,
        },
    }
