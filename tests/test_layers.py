"""The layers of the package, enforced by walking every module's imports (docs/architecture.md, "Layers").

The runner, the engine and the work directory are reached only from the command line and the stage modules;
the logic below them receives frames and a materialiser. `stats/` is pure, and the plan builders of transform
and the workflows read and write no file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "ector"
# What only the runner's layer may use: the runner itself, the engine seam, the work directory.
RUNNER_LAYER = ("ector.runner", "ector.engine", "ector.workdir", "ector.lock")
# Modules allowed to import them: the layer itself, the command line, and the stages' declarations.
RUNNER_USERS = ("ector.runner", "ector.engine", "ector.workdir", "ector.lock", "ector.materialise", "ector.cli")
STAGE_MODULE_SUFFIX = ".stage"
FILE_CALLS = {"read_parquet", "scan_parquet", "sink_parquet", "write_parquet", "read_csv", "scan_csv", "open"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """Every import of a module, at any depth (TYPE_CHECKING blocks and function bodies too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def test_the_walk_sees_the_package() -> None:
    assert {"ector.runner", "ector.chain", "ector.cli.app", "ector.stats.funnel", "ector.workflows.stage"} <= set(
        MODULES
    )


def test_only_the_command_line_and_the_stage_modules_reach_the_runner_layer() -> None:
    offenders = [
        f"{module}:{line} imports {imported}"
        for module, tree in MODULES.items()
        if not _within(module, RUNNER_USERS) and not module.endswith(STAGE_MODULE_SUFFIX)
        for imported, _, line in _imports(tree)
        if _within(imported, RUNNER_LAYER)
    ]
    assert offenders == []


def test_stage_logic_never_imports_the_command_line_or_the_chain() -> None:
    offenders = [
        f"{module}:{line} imports {imported}"
        for module, tree in MODULES.items()
        if not _within(module, ("ector.cli", "ector.chain", "ector.__main__"))
        for imported, _, line in _imports(tree)
        if _within(imported, ("ector.cli", "ector.chain"))
    ]
    assert offenders == []


def test_logic_never_imports_a_stage_module() -> None:
    offenders = [
        f"{module}:{line} imports {imported}"
        for module, tree in MODULES.items()
        if not _within(module, ("ector.cli", "ector.chain")) and not module.endswith(STAGE_MODULE_SUFFIX)
        for imported, _, line in _imports(tree)
        if imported != "ector.stage" and imported.startswith("ector.") and imported.endswith(STAGE_MODULE_SUFFIX)
    ]
    assert offenders == []


def test_stats_imports_nothing_of_ector_but_stats_and_reads_no_file() -> None:
    for module, tree in MODULES.items():
        if not _within(module, ("ector.stats",)):
            continue
        assert [i for i, _, _ in _imports(tree) if i.startswith("ector") and not _within(i, ("ector.stats",))] == []
        assert _file_calls(tree) == [], module


@pytest.mark.parametrize("package", ["ector.transform", "ector.workflows", "ector.stats"])
def test_plan_builders_read_and_write_no_file(package: str) -> None:
    offenders = {
        module: calls
        for module, tree in MODULES.items()
        if _within(module, (package,)) and not module.endswith(STAGE_MODULE_SUFFIX)
        for calls in [_file_calls(tree)]
        if calls
    }
    assert offenders == {}


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = [
        f"{module}:{line} imports {name} from {imported}"
        for module, tree in MODULES.items()
        for imported, names, line in _imports(tree)
        if imported.startswith("ector")
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert offenders == []


def test_the_command_line_modules_import_only_the_application_of_each_other() -> None:
    offenders = [
        f"{module}:{line} imports {imported}"
        for module, tree in MODULES.items()
        if _within(module, ("ector.cli",)) and module != "ector.cli"
        for imported, _, line in _imports(tree)
        if _within(imported, ("ector.cli",)) and imported != "ector.cli.app"
    ]
    assert offenders == []


def _file_calls(tree: ast.Module) -> list[str]:
    """Calls of a file reader or writer (`pl.read_parquet`, `frame.sink_parquet`, `open`) in a module."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in FILE_CALLS:
                calls.append(f"{name}:{node.lineno}")
    return calls
