"""Shell completion for bash, zsh and fish (``erflow --install-completion``, ``--show-completion``).

The shell runs erflow with ``_ERFLOW_COMPLETE`` set (Typer's protocol: ``complete_bash`` with
COMP_WORDS and COMP_CWORD; ``complete_zsh`` and ``complete_fish`` with _TYPER_COMPLETE_ARGS).
Click completes commands and options itself and asks each parameter for its values: ``attach``
gives erflow's parameters their candidates then, by parameter name (every ``ticket_id`` argument
completes ids, ``transition`` the transitions out of that ticket's state...), so the command
modules declare nothing and a new command's ``ticket_id`` completes too. Nothing of this module
is imported unless the shell asks.

Click 8's own instruction names (``bash_complete``, ``zsh_complete``, ``fish_complete``, with
COMP_WORDS and COMP_CWORD for every shell) are taken as aliases of Typer's.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from typer._click.shell_completion import CompletionItem

from erflow.app import completion as candidates
from erflow.app.completion import Candidate

Completer = Callable[[Any, Path, str], list[Candidate]]  # (click's context, the store, the incomplete)
SHELLS = ("bash", "zsh", "fish")


def _ids(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.ticket_ids(root, incomplete)


def _transitions(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    ticket_id = ctx.params.get("ticket_id")
    return candidates.transitions(root, ticket_id, incomplete) if isinstance(ticket_id, str) else []


def _types(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.types(root, incomplete)


def _states(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    chosen = ctx.params.get("ticket_type") or ()
    return candidates.states(root, incomplete, [chosen] if isinstance(chosen, str) else list(chosen))


def _people(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.people(root, incomplete)


def _people_and_roles(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.people(root, incomplete, roles=True)


def _reports(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.reports(incomplete)


def _templates(ctx: Any, root: Path, incomplete: str) -> list[Candidate]:
    return candidates.templates(root, incomplete)


# A parameter's completer by its name, or by (command, parameter) where the name says too little.
BY_NAME: dict[str, Completer] = {
    "ticket_id": _ids,
    "other": _ids,
    "transition": _transitions,
    "ticket_type": _types,
    "state": _states,
    "owner": _people_and_roles,
    "who": _people_and_roles,
    "person": _people,
}
BY_COMMAND: dict[tuple[str, str], Completer] = {
    ("report", "name"): _reports,
    ("email", "template"): _templates,
}


def attach(group: Any) -> None:
    """Give every parameter of the commands under ``group`` that BY_NAME or BY_COMMAND names its
    completer (click's ``shell_complete`` hook of a parameter)."""
    for name, command in getattr(group, "commands", {}).items():
        for param in command.params:
            completer = BY_COMMAND.get((name, param.name)) or BY_NAME.get(param.name or "")
            if completer is not None:
                param._custom_shell_complete = _hook(completer)
        attach(command)


def _hook(completer: Completer) -> Callable[[Any, Any, str], list[CompletionItem]]:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
        root = candidates.find_root(_store_option(ctx), os.environ, Path.cwd())
        if root is None:
            return []
        try:
            found = completer(ctx, root, incomplete)
        except Exception:  # noqa: BLE001 - a TAB never fails: whatever went wrong, offer nothing
            return []
        return [CompletionItem(value, help=help_text or None) for value, help_text in found]

    return complete


def _store_option(ctx: Any) -> str | None:
    """``--store`` as typed so far on the command line, if it was."""
    while ctx is not None:
        store = ctx.params.get("store")
        if isinstance(store, str) and store:
            return store
        ctx = ctx.parent
    return None


def typer_instruction(env: MutableMapping[str, str], variable: str) -> None:
    """Rewrite click 8's instruction (``bash_complete``...) in ``env`` as Typer's (``complete_bash``),
    with the words Typer reads for zsh and fish taken from click's COMP_WORDS and COMP_CWORD."""
    shell, _, action = env.get(variable, "").partition("_")
    if shell not in SHELLS or action not in ("complete", "source"):
        return
    env[variable] = f"{action}_{shell}"
    if action == "complete" and shell != "bash" and "_TYPER_COMPLETE_ARGS" not in env:
        words = shlex.split(env.get("COMP_WORDS", ""))
        cword = int(env.get("COMP_CWORD") or len(words))
        done = " ".join(shlex.quote(word) for word in words[:cword])
        incomplete = words[cword] if cword < len(words) else ""
        env["_TYPER_COMPLETE_ARGS"] = f"{done} {shlex.quote(incomplete) if incomplete else ''}"


def words(env: MutableMapping[str, str]) -> list[str]:
    """The words typed before the one being completed (the program's name first), whichever
    shell asks; empty when they cannot be read."""
    try:
        if "_TYPER_COMPLETE_ARGS" in env:
            line = env["_TYPER_COMPLETE_ARGS"]
            typed = shlex.split(line)
            return typed if line.endswith(" ") else typed[:-1]
        typed = shlex.split(env.get("COMP_WORDS", ""))
        return typed[: int(env.get("COMP_CWORD") or len(typed))]
    except ValueError:
        return []
