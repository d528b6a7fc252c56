"""`ector config`, `init` and `demo`: the settings in effect, a settings template, and a demo Gold layer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ector.cli.app import app, load
from ector.console import out


@app.command("config", rich_help_panel="Settings")
def config_command() -> None:
    """Print the effective settings as YAML, every secret masked.

    Example: ECTOR_ANALYSIS__PERIOD=month ector config
    """
    import yaml

    settings = load()
    typer.echo(yaml.safe_dump(settings.masked(), sort_keys=False), nl=False)


@app.command("init", rich_help_panel="Settings")
def init_command(
    directory: Annotated[Path, typer.Argument(help="folder to write ector.yaml into")] = Path(),
    force: Annotated[bool, typer.Option("--force", "-f", help="replace an existing ector.yaml")] = False,
) -> None:
    """Write a commented ector.yaml template listing every setting with its default.

    Example: ector init && $EDITOR ector.yaml
    """
    from ector.errors import ConfigError
    from ector.files import check_replaceable, write_text_atomic
    from ector.template import settings_template

    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file, not a folder", "name the folder to write ector.yaml into")
    target = directory / "ector.yaml"
    # Any ector.yaml is the user's: even one `ector init` wrote may have been edited since.
    check_replaceable(target, None, force=force, ours=None)
    write_text_atomic(target, settings_template())
    out.event(f"wrote {target}")


@app.command("demo", rich_help_panel="Pipeline")
def demo_command(
    out_path: Annotated[
        str, typer.Option("--out", "-o", help="SQLite file to write, or a folder ending in / for Parquet")
    ] = "demo/gold.sqlite",
    cases: Annotated[int, typer.Option("--cases", "-n", min=100, max=200_000_000, help="number of cases")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="random seed: same seed, same data")] = 7,
    clean: Annotated[bool, typer.Option("--clean", help="no planted dirt")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="replace a target a demo did not write")] = False,
) -> None:
    """Write a synthetic Igraine Gold layer with planted truth and planted dirt.

    Example: ector demo --out demo/gold.sqlite --cases 20000 --seed 7
    """
    from ector.demo import write_demo

    result = write_demo(out_path, cases=cases, seed=seed, clean=clean, force=force)
    out.event(f"wrote a demo Gold layer of {cases:,} cases", stage="demo", source=result.source_uri)
    out.event(f"truth file: {result.truth_path}", stage="demo")
