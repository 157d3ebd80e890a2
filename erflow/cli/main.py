"""The erflow command's entry point. A run adds to the app only the command it names, so that
``erflow show ID`` neither imports nor builds the other commands (nor the libraries they use)."""

import os
import sys
from collections.abc import Sequence

import typer

from erflow.cli import root


def load(args: Sequence[str]) -> typer.Typer:
    """The app with the module of the command that ``args`` names; with every command when they name
    none (no arguments, --help, an unknown command: help and "No such command" list them all). When
    the shell asks for completions, the module of the command typed before the word completed, or
    every one while the command's name is what is completed."""
    completing = any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)
    if completing:
        from erflow.cli.completion import words

        typed = [word for word in words(os.environ)[1:] if not word.startswith("-")][:1]
        named = typed[0] if typed else None
    else:
        named = command_named(args)
    wanted = root.COMMANDS.get(named) if named else None
    for module in [wanted] if wanted else dict.fromkeys(root.COMMANDS.values()):
        __import__(f"erflow.cli.{module}")  # not importlib's: `python -X importtime` lists this one
    return root.app


def command_named(args: Sequence[str]) -> str | None:
    """The command ``args`` name, after the root's options (``--store DIR``, ``--debug``)."""
    at = 0
    while at < len(args):
        if args[at] == "--store":
            at += 2
        elif args[at].startswith("--store=") or args[at] == "--debug":
            at += 1
        else:
            return args[at]
    return None


def __getattr__(name: str) -> typer.Typer:
    """``app``: the app with every command, for tests and tools that drive it in-process."""
    if name == "app":
        return load([])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    if "--debug" in sys.argv[1:]:
        root.DEBUG = True
        sys.argv.remove("--debug")
    try:
        try:
            load(sys.argv[1:])()
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:
        root.end_quietly()
