"""The root of the erflow command: the Typer app that every command module adds its commands to, its
``--debug`` option, the one error boundary, and the options and helpers the commands share."""

import os
import sys
import traceback
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from erflow.core.errors import ErflowError, UsageError

if TYPE_CHECKING:
    from erflow.app.context import Context
    from erflow.app.transaction import ChangeResult

DEBUG = False
# What the error boundary knows of the current run, for an error object on stdout under --json: the
# arguments, and (once a command's --json option is parsed) its value and the command's context.
_ARGS: list[str] = []
_JSON: bool | None = None
_COMMAND: Any = None
STORE: str | None = None  # --store given before the command (erflow --store DIR list)
CLOSED_PIPE = 141  # the exit code of a program ended by SIGPIPE (128 + 13), as git's in `git log | head -1`

# Every command, in the order --help lists them, and its module under erflow.cli (main() imports only
# the module of the command it runs).
COMMANDS = {
    "init": "setup",
    "demo": "setup",
    "new": "tickets",
    "show": "tickets",
    "list": "tickets",
    "transitions": "tickets",
    "advance": "changes",
    "set": "changes",
    "note": "changes",
    "log-time": "changes",
    "assign": "changes",
    "link": "changes",
    "email": "changes",
    "reminders": "reminders",
    "digest": "digest",
    "history": "trust",
    "check": "trust",
    "audit": "trust",
    "sync": "trust",
    "merge-file": "trust",
    "sweep": "sweep",
    "outbox": "outbox",
    "mail": "mail",
    "reply": "mail",
    "report": "reports",
    "graph": "reports",
    "workflow": "workflow",
    "test": "scenario_test",
}


class _Group(TyperGroup):
    """The one error boundary: ErflowError -> one line on stderr and the contract's exit code."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Every command with its first sentence whole (click cuts it to the width of one line)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, one_line(command.short_help or command.help or "")))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in COMMANDS' order, however their modules were imported."""
        order = {name: number for number, name in enumerate(COMMANDS)}
        return sorted(self.commands, key=lambda name: order.get(name, len(order)))

    def _main_shell_completion(
        self, ctx_args: MutableMapping[str, Any], prog_name: str, complete_var: str | None = None
    ) -> None:
        """When the shell asks for completions (see erflow.cli.completion), give erflow's
        parameters their candidates first."""
        variable = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if os.environ.get(variable):
            from erflow.cli import completion

            completion.typer_instruction(os.environ, variable)
            completion.attach(self)
        super()._main_shell_completion(ctx_args, prog_name, variable)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ErflowError as exc:
            if DEBUG or os.environ.get("ERFLOW_DEBUG"):
                traceback.print_exc()
            _fail(f"erflow: {exc}", exc.exit_code, exc)
        except KeyboardInterrupt:
            _fail("erflow: interrupted", 130)
        except BrokenPipeError:
            end_quietly()
        except Exception as exc:  # noqa: BLE001 - the boundary: never a traceback unless --debug
            if _is_control_flow(exc) or DEBUG or os.environ.get("ERFLOW_DEBUG"):
                raise
            _fail(f"erflow: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", 1)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run non-standalone so that click's usage errors become one line, as every erflow error."""
        global _ARGS, _JSON, _COMMAND
        _ARGS, _JSON, _COMMAND = list(sys.argv[1:] if args is None else args), None, None
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as exc:
            if not _is_control_flow(exc):
                raise
            if type(exc).__name__ == "Abort":
                _line_json("aborted", 1)
                _exit_with("erflow: aborted", 1)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            if "\n" in message.strip():  # help text shown for a bare command group: not an error line
                sys.stderr.write(message.rstrip("\n") + "\n")
            else:
                command = getattr(getattr(exc, "ctx", None), "command_path", "erflow")
                code = getattr(exc, "exit_code", 2)
                names = getattr(exc, "possibilities", None) or ()
                _line_json(message, code, hint=f"see {command} --help", suggestions=names)
                _exit_with(f"erflow: {message} (see {command} --help)", code)
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


def one_line(text: str) -> str:
    """The first sentence of a help text (up to its first full stop), on one line."""
    words = " ".join(text.split("\n\n")[0].split())
    stop = words.find(". ")
    return words if stop < 0 else words[: stop + 1]


def end_quietly() -> NoReturn:
    """The reader of our output went away (``erflow list --json | head -1``): not an error, and
    nothing more to say. Python flushes stdout again at exit, so it is pointed at /dev/null first
    (the recipe of Python's documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(CLOSED_PIPE)


def _exit_with(text: str, code: int) -> NoReturn:
    sys.stderr.write(text + "\n")
    sys.exit(code)


def _is_control_flow(exc: BaseException) -> bool:
    """Exit, Abort and usage errors of Typer (or the click it is built on) pass through untouched."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


# Kept out of an error line, as rich kept them out when it printed them: bell, backspace, vertical tab,
# form feed and carriage return (the line cannot rewrite itself on a terminal).
_CONTROL = dict.fromkeys([7, 8, 11, 12, 13])


def _json_wanted() -> bool:
    """Whether this run's error is also told as a JSON object on stdout: the command's --json when it
    was parsed, else (a usage error before it was) whether --json is among the arguments."""
    if _JSON is not None:
        return _JSON
    from erflow.cli import errjson

    return errjson.asked(_ARGS)


def _line_json(message: str, code: int, *, hint: str | None = None, suggestions: Sequence[str] = ()) -> None:
    """Under --json, an error that is only a line (click's usage errors) as an object on stdout."""
    if _json_wanted():
        from erflow.cli import errjson

        errjson.write(errjson.of_line(message, code, hint=hint, suggestions=suggestions))


def _json_given(ctx: typer.Context, value: bool) -> bool:
    """The callback of --json: the boundary learns the value and the command's parameters."""
    global _JSON, _COMMAND
    _JSON, _COMMAND = value, ctx
    return value


def _fail(text: str, code: int, error: ErflowError | None = None) -> NoReturn:
    """The error line, as it is: plain text (no rich to load, no emoji codes such as :x: turned into
    pictures), whole on one line; under --json, first the error's object on stdout."""
    if _json_wanted():
        from erflow.cli import errjson

        params = getattr(_COMMAND, "params", None) or {}
        errjson.write(errjson.of_error(error, params) if error else errjson.of_line(text, code))
    sys.stderr.write(text.translate(_CONTROL) + "\n")
    raise typer.Exit(code)


app = typer.Typer(
    cls=_Group,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="erflow: customer requests (enhancements, bugs, support, document changes) as files in git.",
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="DIR",
        help="The store folder (else ERFLOW_STORE, else the nearest folder upward with workflow.yaml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="One JSON document on stdout; messages on stderr.",
        callback=_json_given,
    ),
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="K=V; repeat for more fields.", show_default=False)
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    store: StoreOpt = None,
) -> None:
    global DEBUG, STORE
    DEBUG = DEBUG or debug
    STORE = store


def open_ctx(store: str | None, env: Mapping[str, str] = os.environ, *, reading: bool = False) -> "Context":
    """The context of a command. A ``reading`` command (one that changes nothing) works while git is
    in the middle of an operation, and says so in one line on stderr (writing ones are refused)."""
    from erflow.app.context import open_context

    ctx = open_context(store if store is not None else STORE, env, Path.cwd())
    if reading:
        warn_mid_operation(ctx)
    if sys.stderr.isatty():
        from erflow.cli.progress import ProgressBar

        ctx.store.progress = ProgressBar("Indexing ticket files")
    return ctx


def warn_mid_operation(ctx: "Context") -> None:
    """Tell, in one line on stderr, that git is in the middle of an operation (a rebase, a merge, a
    detached HEAD...): what a reading command shows is the work tree as git left it."""
    from erflow.app.context import mid_operation

    operation = mid_operation(ctx)
    if operation is not None:
        warn(f"the store is mid-operation, {operation}; erflow makes no change until then")


def warn(text: str) -> None:
    """One warning line on stderr (never on stdout, where --json and --csv data go)."""
    sys.stderr.write(f"erflow: warning: {text}".translate(_CONTROL) + "\n")


def parse_pairs(items: list[str] | None, what: str = "--set") -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


def print_change(result: "ChangeResult") -> None:
    """What a change did, on stderr: drawn by rich on a terminal, as plain lines otherwise."""
    if sys.stderr.isatty():
        from erflow.cli.tables import change
    else:
        from erflow.cli.text import change
    change(result)
