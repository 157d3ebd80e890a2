"""The erflow command: parse arguments, call the service, render the result, map errors to exit codes."""

from __future__ import annotations

import sys

from erflow.cli import root
from erflow.cli.root import app

# isort: off
# Each module adds its commands to the app; --help lists them in this order.
from erflow.cli import setup, tickets, changes, trust, sweep, reports  # noqa: F401, E402
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    if "--debug" in sys.argv[1:]:
        root.DEBUG = True
        sys.argv.remove("--debug")
    app()
