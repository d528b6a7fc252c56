"""`python -m ector` runs the command-line interface."""

from ector.cli import main

main()
