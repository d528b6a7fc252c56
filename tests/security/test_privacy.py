"""Patient privacy: ids pseudonymised at ingest with privacy.patient_id_key; ids and birth dates never logged or
reported.

The end-to-end tests run the real `ector` process on a small dirty demo layer and read back every output:
the streams (text and JSON logs) and every file of the work directory, Parquet decoded.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ector.ingest import patient_id_columns
from ector.privacy import PATIENT_PREFIX, hmac_sha256_many, keyed_codes, pseudonymised_patient_id
from tests.security.identities import demo_identities, found
from tests.security.outputs import byte_forms, ector, file_contents, findings

KEY = "Marmoset-patient-key-5531"
OTHER_KEY = "Tamarin-patient-key-0072"
PSEUDONYM_KEY = "Pangolin-surgeon-key-8842"
JSON_LOGS = ["--verbose", "--log-format", "json"]


# --- the keyed hash --------------------------------------------------------------------------------------


def test_variants_of_one_id_share_a_pseudonym_and_nulls_and_blanks_stay() -> None:
    ids = pl.DataFrame({"patient_id": ["P001", " p001", "P001 ", "P002", None, "  ", ""]})

    coded = ids.select(pseudonymised_patient_id(pl.col("patient_id"), KEY.encode()))["patient_id"].to_list()

    assert coded[0] == coded[1] == coded[2]
    assert coded[3] != coded[0]
    assert coded[0].startswith(PATIENT_PREFIX) and len(coded[0]) == len(PATIENT_PREFIX) + 25
    assert coded[0] == coded[0].strip().upper()  # consolidation's normalisation leaves it as it is
    assert coded[4:] == [None, "", ""]


def test_pseudonyms_are_stable_under_a_key_and_differ_under_another() -> None:
    ids = pl.Series("patient_id", [f"P{i:06d}" for i in range(1000)])

    first = keyed_codes(ids, KEY.encode(), PATIENT_PREFIX, 25)
    again = keyed_codes(ids.reverse(), KEY.encode(), PATIENT_PREFIX, 25).reverse()
    other = keyed_codes(ids, OTHER_KEY.encode(), PATIENT_PREFIX, 25)

    assert first.equals(again)
    assert first.n_unique() == 1000
    assert set(first.to_list()).isdisjoint(other.to_list())


def test_pseudonym_is_the_hmac_of_the_normalised_id() -> None:
    import hashlib
    import hmac

    expected = hmac.new(KEY.encode(), b"P000042", hashlib.sha256).hexdigest()[:25].upper()

    coded = pl.select(pseudonymised_patient_id(pl.lit(" p000042 "), KEY.encode())).item()

    assert coded == PATIENT_PREFIX + expected


@pytest.mark.parametrize("key", [b"", b"k", b"x" * 64, b"y" * 65, "Schl\u00fcssel-\U0001f511".encode() * 9])
def test_batch_hmac_equals_the_standard_library(key: bytes) -> None:
    import hashlib
    import hmac

    values = ["", "P1", " p1", "\u00e9\u0301", "x" * 200]

    assert hmac_sha256_many(values, key) == [hmac.digest(key, v.encode(), hashlib.sha256) for v in values]


def test_every_patient_id_column_is_named() -> None:
    assert patient_id_columns("patients") == ["patient_id"]
    assert patient_id_columns("cases") == ["patient_id"]
    assert patient_id_columns("encounters") == ["patient_id"]
    assert patient_id_columns("surgeons") == []


# --- end to end ------------------------------------------------------------------------------------------


def _workdir_files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in file_contents(root).items() if not k.startswith("report/figures/")}


@pytest.fixture(scope="module")
def runs(demo_gold: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The chain up to the workflows on the demo, without a key, with KEY (twice) and with OTHER_KEY."""
    folders = {}
    for name, key in (("plain", None), ("keyed", KEY), ("keyed-again", KEY), ("other", OTHER_KEY)):
        folder = tmp_path_factory.mktemp(name)
        env = {"ECTOR_PRIVACY__PATIENT_ID_KEY": key} if key else {}
        run = ector(*JSON_LOGS, "all", "--source", str(demo_gold), "--to", "workflow", cwd=folder, env=env)
        assert run.code == 0, run.stderr.decode()
        (folder / "stdout").write_bytes(run.stdout)
        (folder / "stderr").write_bytes(run.stderr)
        folders[name] = folder
    return folders


def test_keyed_run_leaves_no_patient_id_in_the_work_directory(runs: dict[str, Path], demo_gold: Path) -> None:
    ids, _ = demo_identities(demo_gold)
    keyed = _workdir_files(runs["keyed"] / "ector-work")
    plain = _workdir_files(runs["plain"] / "ector-work")

    assert found(ids, plain)  # the search finds them when they are there
    assert found(ids, keyed) == {}
    assert findings(byte_forms(KEY), keyed | {"stderr": (runs["keyed"] / "stderr").read_bytes()}) == []


def test_keyed_run_counts_and_rates_as_the_plain_run(runs: dict[str, Path]) -> None:
    keyed, plain = runs["keyed"] / "ector-work", runs["plain"] / "ector-work"

    mart = pl.read_parquet(keyed / "transform" / "cases.parquet")
    reference = pl.read_parquet(plain / "transform" / "cases.parquet")
    assert mart.drop("patient_id").equals(reference.drop("patient_id"))
    assert mart["patient_id"].n_unique() == reference["patient_id"].n_unique()
    assert mart["patient_id"].str.starts_with(PATIENT_PREFIX).all()
    for view in ("site", "surgeon"):
        for path in sorted((plain / "workflow" / view).glob("*.parquet")):
            # Equal up to the order of float sums (the views' group sums are not order-stable).
            assert_frame_equal(pl.read_parquet(keyed / path.relative_to(plain)), pl.read_parquet(path), rel_tol=1e-12)
    # Consolidation counts agree except key variants of patient ids: ingest resolved those before it.
    summary = pl.read_parquet(keyed / "consolidate" / "summary.parquet")
    expected = pl.read_parquet(plain / "consolidate" / "summary.parquet")
    is_key_variant = pl.col("rule") == "key_variant"
    assert summary.filter(~is_key_variant).equals(expected.filter(~is_key_variant))
    assert summary.filter(is_key_variant)["rows"].sum() < expected.filter(is_key_variant)["rows"].sum()


def test_pseudonyms_are_stable_across_runs_and_change_with_the_key(runs: dict[str, Path]) -> None:
    def ids(name: str) -> pl.Series:
        return pl.read_parquet(runs[name] / "ector-work" / "consolidate" / "patients.parquet")["patient_id"]

    assert ids("keyed").sort().equals(ids("keyed-again").sort())
    assert set(ids("keyed").to_list()).isdisjoint(ids("other").to_list())


def test_patient_ids_and_birth_dates_are_never_logged(runs: dict[str, Path], demo_gold: Path) -> None:
    ids, births = demo_identities(demo_gold)
    streams = {f"{name}/{s}": (folder / s).read_bytes() for name, folder in runs.items() for s in ("stdout", "stderr")}

    assert b'"stage"' in streams["plain/stderr"]  # JSON log lines were written and searched
    assert found(ids | births, streams) == {}


def test_text_and_debug_logs_hold_no_patient_id_or_birth_date(demo_gold: Path, tmp_path: Path) -> None:
    ids, births = demo_identities(demo_gold)

    run = ector("--verbose", "--debug", "all", "--source", str(demo_gold), "--to", "workflow", cwd=tmp_path)

    assert run.code == 0
    assert found(ids | births, {"stdout": run.stdout, "stderr": run.stderr}) == {}


def test_short_patient_key_is_refused_naming_the_variable(demo_gold: Path, tmp_path: Path) -> None:
    run = ector("ingest", "--source", str(demo_gold), cwd=tmp_path, env={"ECTOR_PRIVACY__PATIENT_ID_KEY": "Gibbon-7"})

    assert run.code == 2
    assert b"'privacy.patient_id_key': shorter than 16 characters" in run.stderr
    assert b"ECTOR_PRIVACY__PATIENT_ID_KEY" in run.stderr
    assert not (tmp_path / "ector-work" / "ingest").exists()


def test_another_key_makes_ingest_stale(demo_gold: Path, tmp_path: Path) -> None:
    first = ector("ingest", "--source", str(demo_gold), cwd=tmp_path, env={"ECTOR_PRIVACY__PATIENT_ID_KEY": KEY})
    before = pl.read_parquet(tmp_path / "ector-work" / "ingest" / "patients.parquet")["patient_id"]
    second = ector("ingest", "--source", str(demo_gold), cwd=tmp_path, env={"ECTOR_PRIVACY__PATIENT_ID_KEY": OTHER_KEY})
    after = pl.read_parquet(tmp_path / "ector-work" / "ingest" / "patients.parquet")["patient_id"]

    assert first.code == second.code == 0
    assert set(before.drop_nulls().to_list()).isdisjoint(after.drop_nulls().to_list())
    manifest = (tmp_path / "ector-work" / "manifest.json").read_bytes()
    assert findings(byte_forms(KEY) | byte_forms(OTHER_KEY), {"manifest": manifest}) == []


@pytest.mark.slow
@pytest.mark.parametrize("audience", ["internal", "external"])
def test_reports_hold_no_patient_id_birth_date_or_key(audience: str, demo_gold: Path, tmp_path: Path) -> None:
    ids, births = demo_identities(demo_gold)
    env = {"ECTOR_PRIVACY__PSEUDONYM_KEY": PSEUDONYM_KEY, "ECTOR_REPORT__AUDIENCE": audience}
    runs = {}
    # Without the patient key the data reaching the report holds the real ids: the report itself must drop them.
    for name, extra in (("unkeyed", {}), ("keyed", {"ECTOR_PRIVACY__PATIENT_ID_KEY": KEY})):
        (tmp_path / name).mkdir()
        runs[name] = ector(
            *JSON_LOGS, "--debug", "all", "--source", str(demo_gold), cwd=tmp_path / name, env=env | extra
        )
        assert runs[name].code == 0, runs[name].stderr.decode()

    report = file_contents(tmp_path / "unkeyed" / "ector-work" / "report")
    report = {k: v for k, v in report.items() if k.endswith((".html", ".svg"))}
    assert "index.html" in report
    streams = {"stdout": runs["unkeyed"].stdout, "stderr": runs["unkeyed"].stderr}
    assert found(ids | births, report | streams) == {}
    keyed = file_contents(tmp_path / "keyed" / "ector-work") | {
        "stdout": runs["keyed"].stdout,
        "stderr": runs["keyed"].stderr,
    }
    assert found(ids, keyed) == {}
    assert findings(byte_forms(KEY) | byte_forms(PSEUDONYM_KEY), keyed) == []
