"""The advance menu (``erflow advance ID`` on a terminal): pick a transition, the blocked ones too,
answer each field it still needs (checked as you go), see the emails it will send, confirm, commit.

Ctrl-C, end of input or "n" change nothing. Tests drive it without a terminal through the hidden
``advance --interactive`` flag (CliRunner's ``input=``)."""

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, NoReturn

from erflow.core.errors import UsageError

if TYPE_CHECKING:
    from erflow.app.context import Context
    from erflow.app.transaction import ChangeResult
    from erflow.core.engine import Evaluation
    from erflow.core.fields import Field

_ROUNDS = 5  # answers may bring new requirements (a `when:` on them); at most this many rounds


def offered(interactive: bool) -> bool:
    """Whether to offer the menu: on a terminal (stdin and stderr), or when a test asks."""
    return interactive or (sys.stdin.isatty() and sys.stderr.isatty())


def advance_by_menu(
    ctx: "Context",
    ticket_id: str,
    sets: Mapping[str, str],
    note: str | None,
    *,
    dry_run: bool,
    send: bool,
) -> "ChangeResult":
    """The change the person chose, answered and confirmed; with ``dry_run``, its rehearsal only."""
    try:
        return _run(ctx, ticket_id, dict(sets), note, dry_run=dry_run, send=send)
    except KeyboardInterrupt:
        _stop("interrupted; nothing changed", 130)
    except EOFError:
        _stop("no more input; nothing changed", 130)


def _run(
    ctx: "Context", ticket_id: str, sets: dict[str, str], note: str | None, *, dry_run: bool, send: bool
) -> "ChangeResult":
    from erflow.app import advance as advancing
    from erflow.app import advance_menu as menu
    from erflow.app import views
    from erflow.cli.tables import err

    view = views.show(ctx, ticket_id)
    chosen = _choose(ticket_id, view.options)
    name = chosen.transition.name
    for _ in range(_ROUNDS):
        judged = menu.judge(ctx, view.file, name, sets)
        fields = [f for f in menu.wanted(ctx, view.file, judged, sets) if f.name not in sets]
        if not fields:
            break
        for field in fields:
            sets[field.name] = _ask_field(field)
    if menu.needs_note(judged) and not (note and note.strip()):
        note = _ask_text("Note (required: why, recorded in the ticket and the commit)")
    rehearsal = advancing.advance(
        ctx, ticket_id, name, sets, note, dry_run=True, send=send,
        already_read=menu.rehearsal_copy(view.file),
    )  # fmt: skip
    if dry_run:
        return rehearsal
    _show_rehearsal(rehearsal, sets)
    from rich.prompt import Confirm

    if not Confirm.ask("Commit this change?", console=err, default=False):
        _stop("not done; nothing changed", 1)
    return advancing.advance(ctx, ticket_id, name, sets, note, send=send, already_read=view.file)


def _choose(ticket_id: str, options: "list[Evaluation]") -> "Evaluation":
    """The transition picked from every one that leaves the state; one the actor may not take is
    refused with its reason, and asked again."""
    from rich.prompt import IntPrompt

    from erflow.cli.tables import err, options_table

    err.print(options_table(options, title=f"{ticket_id.upper()}: transitions"))
    if not any(o.permitted for o in options):
        raise UsageError("no transition is open to you now; the reasons are listed above")
    for number, option in enumerate(options, 1):
        line = f"  {number}. {option.transition.name} → {option.to}: {option.transition.label}"
        if not option.permitted:
            line += "  (not yours to take)"
        elif option.missing:
            line += f"  (needs {', '.join(option.missing)})"
        elif option.reasons:
            line += "  (blocked: " + "; ".join(option.reasons) + ")"
        err.print(line, markup=False, highlight=False)
    choices = [str(i) for i in range(1, len(options) + 1)]
    while True:
        picked = options[IntPrompt.ask("Which", console=err, choices=choices) - 1]
        if picked.permitted:
            return picked
        err.print(f"  {picked.transition.name}: {picked.reasons[0]}; pick another", markup=False)


def _ask_field(field: "Field") -> str:
    """One field's answer as text, asked until the field takes it (a value is required)."""
    from erflow.app.advance_menu import hint
    from erflow.cli.tables import err
    from erflow.core.conditions import is_set

    err.print(f"\n{field.name} — {field.label} ({_kind(field)})", markup=False, highlight=False)
    if field.help:
        err.print(f"  {field.help}", markup=False, highlight=False, style="dim")
    while True:
        raw = err.input(f"{field.name}: ")
        try:
            value = field.parse(raw)
        except ValueError as exc:
            err.print(f"  {exc}{hint(field, raw)}", markup=False, highlight=False, style="red")
            continue
        if is_set(value):
            return raw
        err.print(f"  {field.name}: a value is needed; Ctrl-C stops", markup=False, style="red")


def _kind(field: "Field") -> str:
    """What the field takes, in a few words."""
    if field.type == "enum":
        return "one of: " + ", ".join(field.values)
    if field.type == "bool":
        return "yes or no"
    if field.type == "number":
        bounds = [
            f"≥ {field.min:g}" if field.min is not None else "",
            f"≤ {field.max:g}" if field.max is not None else "",
        ]
        return " ".join(["a number", *[b for b in bounds if b]])
    if field.type == "date":
        return "a date, YYYY-MM-DD"
    if field.type == "datetime":
        return "a date and time with offset, 2026-11-02T09:00+00:00"
    if field.type == "list":
        return "comma-separated" + (": " + ", ".join(field.values) if field.values else "")
    return {"email": "an email address", "url": "an http(s) URL"}.get(field.type, "text")


def _ask_text(prompt: str) -> str:
    from erflow.cli.tables import err

    while True:
        text = err.input(f"{prompt}: ")
        if text.strip():
            return text
        err.print("  a value is needed; Ctrl-C stops", markup=False, style="red")


def _show_rehearsal(rehearsal: "ChangeResult", sets: Mapping[str, str]) -> None:
    """What the change will do: the move, the values given, and each email's recipient and subject."""
    from erflow.cli.tables import err

    lines = [f"\n{rehearsal.id}: {rehearsal.from_state} → {rehearsal.to_state} ({rehearsal.transition})"]
    lines += [f"  set {name} = {value}" for name, value in sets.items()]
    mails = [*rehearsal.emails, *rehearsal.notifications]
    lines += [f"  email to {mail.to}: {mail.subject}" for mail in mails] or ["  no email"]
    err.print("\n".join(lines), markup=False, highlight=False)


def _stop(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"erflow: {message}\n")
    sys.exit(code)
