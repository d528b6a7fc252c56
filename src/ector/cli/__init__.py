"""The `ector` command line: the application (`app`), then its commands, registered in the order of `--help`.

`app` holds the global options and turns errors into one line and an exit code; `project` has config, init
and demo; `stages` one command per stage of the chain, built from the stages' declarations; `operations` has
all, status and show. No module of the package imports another's commands.
"""

import importlib

from ector.cli.app import app, main

for _module in ("project", "stages", "operations"):  # importing a module registers its commands, in this order
    importlib.import_module(f"ector.cli.{_module}")

__all__ = ["app", "main"]
