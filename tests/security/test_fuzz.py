"""Every command's options driven with random and hostile values: an exit code of the contract, never a traceback.

Each example runs `ector [global options] COMMAND [options]` in-process through the real entry point
(`ector.cli.main`, as `python -m ector` does), in a sandbox folder of its command: a 100-case demo Gold layer, a
work directory built from it up to the views, a case mart as an Arrow file, a file and a folder of the user's.
Values: huge, negative and malformed numbers, empty and blank strings, unicode (bidi overrides, emoji, combining
marks), terminal escapes, SQL-ish text, paths to /proc, to a file where a folder is expected and the reverse, and
random NUL-free text. Valid values are drawn too, so that the commands also run: each example may change its
sandbox (a `transform --where` rewrites the mart), as a user's next command would find it.

Asserted for every example: the exit code is one of 0, 1, 2, 3, 4, 75 (docs/operations.md), and neither stdout
nor stderr holds "Traceback" or "unexpected error". `--debug` is not drawn: it shows a traceback by design.

Kept safe and quick: a path is a name inside the sandbox, or one of a few absolute paths nothing can be written to
(/proc, /dev/null); `demo --cases` is drawn among invalid sizes and 100 to 300, never a valid large one; a database
URI points at a closed local port. The report's figures are not drawn (a stub returns an empty picture): drawing
them takes 10 s a report, and they are tested in tests/report; every other step of the report runs.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ector import errors
from ector.console import out
from tests.security.outputs import ector

pytestmark = pytest.mark.slow

CONTRACT_CODES = {0, 1, 2, 3, 4, 75}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
EXAMPLES: dict[str, int] = {}  # command -> examples run, for the total the session reports
EXIT_CODES: Counter[tuple[str, int]] = Counter()  # (command, exit code) -> examples, shown by the last test

# --- values -------------------------------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "",
    " ",
    "\t",
    "-",
    "--",
    "-1",
    "0",
    "1e309",
    "nan",
    "-inf",
    "9" * 40,
    "0x10",
    "\uff11\uff12",  # full-width digits
    "' OR 1=1 --",
    "'; DROP TABLE cases; --",
    '" OR ""="',
    "1; SELECT * FROM read_csv('/etc/passwd')",
    "%s%s%n",
    "${HOME}",
    "$(touch pwned)",
    "`id`",
    "\u202ecod.exe",
    "e\u0301\u0301\u0301",
    "👩‍⚕️🔪",
    "\x1b[31mred\x1b[0m",
    "\x07\x08\r\n",
    "a" * 5_000,
    "C:\\Windows\\System32",
    "~",
    "null",
    "true",
    "[1, 2]",
    "{a: b}",
]
random_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
text = st.one_of(st.sampled_from(HOSTILE_TEXT), random_text)
huge = st.sampled_from([-(2**63) - 1, -(2**63), -1, 0, 2**31, 2**63 - 1, 2**63, 2**64, 10**30])
integer = st.one_of(huge, st.integers(-(10**6), 10**6)).map(str)
number_text = st.one_of(integer, text)

# A name inside the sandbox: no separator, never `.` or `..` (those are drawn on purpose where they are safe).
name = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=30
).filter(lambda n: n not in (".", ".."))
# Absolute paths where nothing can be written, or nothing is what it should be. Never a new path outside the
# sandbox (the tests may run as root, who can create one anywhere), nor a mount point (`report --out /proc
# --force` would stage its folder in /).
SYSTEM_PATHS = ["/proc/self/status", "/proc/x/y.sqlite", "/proc/self/fd", "/dev/null"]
# Fixed paths of the sandbox: a user's file and folder, the demo, the work directory, the mart.
SANDBOX_PATHS = ["afile", "afolder", "afolder/", "afile/inside", "gold.sqlite", "work", "work/transform", "mart.arrow"]


def path(*extra: str) -> st.SearchStrategy[str]:
    """A path: new in the sandbox, one of its files or folders, a system path, or hostile text made a name."""
    fresh = st.one_of(name, st.builds(lambda a, b: f"new/{a}/{b}", name, name), name.map(lambda n: n + "/"))
    return st.one_of(fresh, st.sampled_from([*SANDBOX_PATHS, *SYSTEM_PATHS, *extra]))


STAGES = ["ingest", "consolidate", "transform", "workflow", "workflow/surgeon", "report"]
WHERE = [
    "asa_class >= 3",
    "approach = 'robotic'",
    "los_days > 2 AND complication_any",
    "surgery_date > '2020-01-01'",
    "case_id IN ('C1', 'C2')",
    "asa_class >= 3; DROP TABLE cases",
    "read_csv('/etc/passwd') IS NOT NULL",
    "case_id IN (SELECT case_id FROM cases)",
    "count(*) > 1",
    " OR ".join(["asa_class = 1"] * 300),
    "(" * 200 + "asa_class = 1" + ")" * 200,
    "asa_class = 3 -- rest",
    "nonexistent = 1",
    "asa_class + 1",
    "asa_class = 1e400",
    "asa_class / 0 > 1",
    "CAST(case_id AS INT) > 1",
    "surgery_date > 'not a date'",
]
where = st.one_of(st.sampled_from(WHERE), text)
date = st.one_of(
    st.dates().map(str), st.sampled_from(["2024-02-30", "0000-01-01", "2024-13-01", "24-1-1", "2024/01/01"]), text
)


def flag(strategy: st.SearchStrategy[str], *flags: str) -> st.SearchStrategy[list[str]]:
    """The option with a drawn value, under one of its spellings, or left out."""
    return st.one_of(st.just([]), st.tuples(st.sampled_from(flags), strategy).map(list))


def switch(*flags: str) -> st.SearchStrategy[list[str]]:
    return st.sampled_from([[], [], [flags[0]]])


@st.composite
def global_options(draw: st.DrawFn) -> list[str]:
    """Options before the command: mostly the sandbox's work directory, sometimes a hostile one."""
    argv: list[str] = []
    workdir = draw(st.one_of(st.just("work"), st.just("work"), st.just("work"), path("/proc", "/")))
    argv += [draw(st.sampled_from(["--workdir", "-w"])), workdir]
    argv += draw(flag(st.one_of(st.sampled_from(["text", "json"]), text), "--log-format"))
    argv += draw(flag(st.one_of(path("/proc", "/"), st.just("bad.yaml")), "--config", "-c"))
    argv += draw(st.sampled_from([[], [], ["-v"], ["-q"], ["-v", "-q"], ["--version"]]))
    return argv


# --- each command's options ---------------------------------------------------------------------------------------

cases = st.one_of(st.integers(max_value=99), st.integers(min_value=200_000_001), st.integers(100, 300)).map(str)
FORMATS = ["arrow", "csv", "json", "parquet", "table"]
fmt = st.one_of(st.sampled_from(FORMATS), text)
output = st.one_of(st.just("-"), path())
SOURCES = [
    "gold.sqlite",
    "sqlite://gold.sqlite",
    "sqlite:///nonexistent.sqlite",
    "postgresql://u:Pw-9x@127.0.0.1:9/db",
    "mysql://u@127.0.0.1:9/db?password=Pw-9x",
    "mssql://127.0.0.1:9/db",
    "file:///etc/passwd",
    "http://127.0.0.1:9/x",
    "postgresql://u:p/w@127.0.0.1:9/db",
    "postgresql://[::1/db",
    "sqlite://",
    "://",
]
source = st.one_of(st.sampled_from(SOURCES), path("/proc", "/"))
table = st.one_of(
    st.sampled_from(["cases", "patients", "surgeons", "sites", "complications", "encounters", "sqlite_master"]), text
)


def view_options(view: str) -> st.SearchStrategy[list[str]]:
    return st.tuples(
        flag(st.one_of(st.sampled_from(["month", "quarter", "year"]), text), "--by"),
        flag(st.one_of(st.just("-"), st.just("mart.arrow"), path("/proc", "/")), "--input", "-i"),
        flag(output, "--output", "-o"),
        flag(fmt, "--format"),
        switch("--force", "-f"),
    ).map(lambda parts: ["workflow", view, *(a for part in parts for a in part)])


COMMANDS: dict[str, st.SearchStrategy[list[str]]] = {
    "demo": st.tuples(
        flag(path(), "--out", "-o"),
        # Always given: the default, 20,000 cases, takes seconds to write.
        st.tuples(st.sampled_from(["--cases", "-n"]), st.one_of(cases, text)).map(list),
        flag(number_text, "--seed"),
        switch("--clean"),
        switch("--force", "-f"),
    ).map(lambda parts: ["demo", *(a for part in parts for a in part)]),
    "init": st.tuples(st.one_of(st.just([]), path(".").map(lambda p: [p])), switch("--force", "-f")).map(
        lambda parts: ["init", *(a for part in parts for a in part)]
    ),
    "ingest": st.tuples(
        flag(source, "--source", "-s"),
        st.lists(flag(table, "--table", "-t"), max_size=3).map(lambda flags: [a for f in flags for a in f]),
        switch("--force", "-f"),
    ).map(lambda parts: ["ingest", *(a for part in parts for a in part)]),
    "consolidate": switch("--force", "-f").map(lambda force: ["consolidate", *force]),
    "transform": st.tuples(
        flag(where, "--where"),
        flag(date, "--since"),
        flag(date, "--until"),
        flag(output, "--output", "-o"),
        flag(fmt, "--format"),
        switch("--force", "-f"),
    ).map(lambda parts: ["transform", *(a for part in parts for a in part)]),
    "workflow patient": view_options("patient"),
    "workflow surgeon": view_options("surgeon"),
    "workflow site": view_options("site"),
    "workflow (group)": st.one_of(st.just([]), text.map(lambda t: [t]), st.just(["--help"])).map(
        lambda rest: ["workflow", *rest]
    ),
    "report": st.tuples(
        flag(st.one_of(st.sampled_from(["internal", "external"]), text), "--audience"),
        flag(path(".", "work/report"), "--out"),
        switch("--force", "-f"),
    ).map(lambda parts: ["report", *(a for part in parts for a in part)]),
    "all": st.tuples(
        flag(source, "--source", "-s"),
        flag(st.one_of(st.sampled_from(STAGES), text), "--from"),
        flag(st.one_of(st.sampled_from(STAGES), text), "--to"),
        switch("--force", "-f"),
    ).map(lambda parts: ["all", *(a for part in parts for a in part)]),
    "show": st.tuples(
        st.one_of(
            st.sampled_from(
                [
                    "transform/cases",
                    "consolidate/summary",
                    "consolidate/quarantine/cases",
                    "workflow/surgeon/funnel",
                    "../gold",
                    "/etc/passwd",
                    "transform/../../afile",
                ]
            ),
            text,
        ),
        flag(where, "--where"),
        flag(st.one_of(st.sampled_from(["case_id", "case_id,asa_class", ",", "nope"]), text), "--columns"),
        flag(number_text, "--limit", "-n"),
        flag(fmt, "--format"),
    ).map(lambda parts: ["show", parts[0], *(a for part in parts[1:] for a in part)]),
    "status": flag(source, "--source", "-s").map(lambda parts: ["status", *parts]),
    "config": st.just(["config"]),
}


# --- the sandbox --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a 100-case demo, a work directory up to the views, the case mart as Arrow, a file, a folder."""
    folder = tmp_path_factory.mktemp("fuzz-template")
    for args in (
        ("demo", "--out", "gold.sqlite", "--cases", "100", "--seed", "3"),
        ("-w", "work", "all", "--source", "gold.sqlite", "--to", "workflow"),
        ("-w", "work", "transform", "-o", "mart.arrow"),
    ):
        done = ector(*args, cwd=folder)
        assert done.code == 0, done.stderr.decode()
    (folder / "afile").write_text("a user's file\n", encoding="utf-8")
    (folder / "afolder").mkdir()
    (folder / "afolder" / "notes.txt").write_text("a user's notes\n", encoding="utf-8")
    (folder / "bad.yaml").write_text("analysis: {period: fortnight}\nworkdir: [1\n", encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _figures_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    from ector.report import workers
    from ector.report.render import RenderedFigure

    monkeypatch.setattr(workers, "_cpus", lambda: 1)  # no worker process: figures drawn here, by the stub
    monkeypatch.setattr(workers, "render_figure", lambda name, title, spec: RenderedFigure(name, b"", "<svg/>"))


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_ector(argv: list[str], stdin: bytes) -> tuple[int, str]:
    """Run `ector ARGV` in-process as `python -m ector` would; return the exit code and both streams as text."""
    from ector.cli import main

    errors._secrets.clear()  # a secret of an earlier example ('p') would mask letters of this one's messages
    with CliRunner().isolation(input=stdin) as (stdout, stderr, _):
        sys.argv = ["ector", *argv]
        out._console = None
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            out._console = None
        streams = stdout.getvalue().decode("utf-8", "replace") + stderr.getvalue().decode("utf-8", "replace")
    return code, streams


def _check(command: str, argv: list[str], stdin: bytes) -> None:
    code, streams = run_ector(argv, stdin)
    EXIT_CODES[command, code] += 1
    shown = f"ector {' '.join(map(repr, argv))}\n{streams[-3000:]}"
    assert code in CONTRACT_CODES, shown
    assert "Traceback" not in streams, shown
    assert "unexpected error" not in streams, shown


stdin_bytes = st.one_of(st.just(b""), st.binary(max_size=200), st.sampled_from([b"case_id\nC1\n", b"PAR1", b"{}"]))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_of_every_command_ends_in_a_contract_exit_code_without_traceback(
    command: str, template: Path, tmp_path: Path
) -> None:
    sandbox = Path(shutil.copytree(template, tmp_path / "sandbox", symlinks=True))

    @FUZZ
    @given(globals_=global_options(), argv=COMMANDS[command], stdin=stdin_bytes)
    def example(globals_: list[str], argv: list[str], stdin: bytes) -> None:
        EXAMPLES[command] = EXAMPLES.get(command, 0) + 1
        with _inside(sandbox):
            _check(command, [*globals_, *argv], stdin)

    example()
    assert EXAMPLES[command] >= FUZZ.max_examples


# Settings values: every key of ector.yaml given a hostile value, through the file and through the environment.
def _setting_keys() -> list[str]:
    """Every key of ector.yaml (sections and their fields, by the names the file uses), and one that is none."""
    from pydantic import BaseModel

    from ector.settings import Settings

    keys: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for field, info in model.model_fields.items():
            key = f"{prefix}{info.alias or field}"
            keys.append(key)
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                walk(info.annotation, f"{key}.")

    walk(Settings, "")
    return [*keys, "nonexistent.key"]


SETTINGS_KEYS = _setting_keys()
yaml_value = st.one_of(
    text,
    integer,
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["[]", "{}", "[1, -1]", "[0.5, 2]", "{a: 1}", "null", "~", "-1d", "99999999d", "0s", "yes"]),
)


@pytest.mark.parametrize("through", ["file", "environment"])
def test_every_setting_given_a_hostile_value_ends_in_a_contract_exit_code_without_traceback(
    through: str, template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Path(shutil.copytree(template, tmp_path / "sandbox", symlinks=True))
    command = f"settings ({through})"

    @FUZZ
    @given(key=st.sampled_from(SETTINGS_KEYS), value=yaml_value, argv=st.sampled_from([["config"], ["status"]]))
    def example(key: str, value: str, argv: list[str]) -> None:
        EXAMPLES[command] = EXAMPLES.get(command, 0) + 1
        with _inside(sandbox), monkeypatch.context() as patch:
            if through == "file":
                *parents, leaf = key.split(".")
                document = "".join(f"{'  ' * i}{p}:\n" for i, p in enumerate(parents))
                document += f"{'  ' * len(parents)}{leaf}: {value}\n"
                (sandbox / "fuzz.yaml").write_text(document, encoding="utf-8")
                _check(command, ["--config", "fuzz.yaml", "-w", "work", *argv], b"")
            else:
                patch.setenv("ECTOR_" + key.upper().replace(".", "__"), value)
                _check(command, ["-w", "work", *argv], b"")

    example()
    assert EXAMPLES[command] >= FUZZ.max_examples


def test_the_fuzz_tried_at_least_2000_examples_across_every_command() -> None:
    """Runs last in this module: the examples the tests above tried, all commands together."""
    if len(EXAMPLES) < len(COMMANDS) + 2:
        pytest.skip("the fuzz tests did not all run in this session")
    codes = sorted({code for _, code in EXIT_CODES})
    print(f"\n{'command':<22}" + "".join(f"{'exit ' + str(c):>9}" for c in codes))  # shown with -s or -rP
    for command in EXAMPLES:
        print(f"{command:<22}" + "".join(f"{EXIT_CODES[command, c]:>9}" for c in codes))
    assert sum(EXAMPLES.values()) >= 2_000, EXAMPLES
