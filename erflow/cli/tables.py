"""Output for people: rich tables and lines on a console (data on stdout, messages on stderr).

User text is never markup: every value reaches rich as ``Text``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from erflow.cli.plain import LIST_COLUMNS
from erflow.core import model

if TYPE_CHECKING:
    from erflow.app.history import HistoryEntry
    from erflow.app.sweep import SweepAction
    from erflow.app.transaction import ChangeResult
    from erflow.app.views import TicketView
    from erflow.core import engine
    from erflow.trust.audit import AuditResult


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (``erflow list | head -1``): main() ends quietly, as for any output."""
        self.quiet = True
        raise BrokenPipeError


# Piped output is not wrapped at 80 columns: scripts and `less -S` get whole lines.
out = _Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = _Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


_NO_WRAP = {"id", "type", "state", "priority", "updated"}


def _cell(row: dict[str, Any], column: str) -> str:
    text = model.plain(row.get(column))
    return text[:16].replace("T", " ") if column == "updated" else text


def message(text: str, style: str = "") -> None:
    err.print(Text(text, style=style))


_SLA_STYLE = {"breached": "bold red", "at_risk": "yellow", "paused": "dim", "met": "green"}


def ticket_table(rows: Sequence[dict[str, Any]], sla: dict[str, str] | None = None) -> None:
    """The list table; an SLA column appears when any listed ticket has an SLA."""
    table = Table(show_edge=False, header_style="bold")
    for column in LIST_COLUMNS:
        table.add_column(
            column.capitalize(),
            overflow="fold",
            no_wrap=column in _NO_WRAP,
            ratio=3 if column == "title" else None,
        )
    if sla:
        table.add_column("SLA", no_wrap=True)
    for row in rows:
        cells = [Text(_cell(row, c)) for c in LIST_COLUMNS]
        if sla:
            status = sla.get(str(row.get("id")), "")
            cells.append(Text(status.replace("_", " "), style=_SLA_STYLE.get(status, "")))
        table.add_row(*cells)
    out.print(table)
    err.print(Text(f"{len(rows)} ticket{'s' if len(rows) != 1 else ''}", style="dim"))


def options_table(options: Iterable[engine.Evaluation], title: str = "Next") -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    table.add_column("Transition", no_wrap=True)
    table.add_column("To", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("Label / why not")
    for option in options:
        mark = Text("✓", style="green") if option.allowed else Text("✗", style="red")
        why = Text(option.transition.label)
        for reason in option.reasons:
            why.append("\n  " + reason, style="red")
        table.add_row(Text(option.transition.name), Text(option.to), mark, why)
    return table


def ticket_view(view: TicketView) -> None:
    ticket, ticket_type = view.ticket, view.type
    state = ticket_type.states.get(ticket.state)
    header = Text(f"{ticket.id}  ", style="bold")
    header.append(ticket.meta.get("title", ""), style="bold")
    header.append(f"\n{ticket_type.label} · {state.label if state else ticket.state}", style="cyan")
    out.print(header)
    table = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for declared in ticket_type.all_fields():
        value = ticket.meta.get(declared.name)
        if value is None or value == [] or declared.name in ("id", "title"):
            continue
        table.add_row(Text(declared.name), Text(model.plain(value)))
    unset = [f.name for f in ticket_type.all_fields() if ticket.meta.get(f.name) in (None, [], "")]
    hours, billable = model.time_totals(ticket)
    if hours:
        table.add_row(Text("time logged"), Text(f"{hours:g} h ({billable:g} h billable)"))
    for clock in view.sla:
        when = "stopped " + clock.stopped.isoformat() if clock.stopped else "due " + clock.due.isoformat()
        line = Text(
            f"{clock.status.replace('_', ' ')} ({clock.target}, {when})",
            style=_SLA_STYLE.get(clock.status, ""),
        )
        table.add_row(Text(f"SLA {clock.kind}"), line)
    out.print(table)
    if unset:
        out.print(Text("unset: " + ", ".join(unset), style="dim"))
    extra = sorted(set(ticket.meta) - {f.name for f in ticket_type.all_fields()})
    if extra:
        out.print(Text("not in the workflow: " + ", ".join(extra), style="yellow"))
    out.print()
    out.print(Text(ticket.body().rstrip("\n")))
    out.print()
    if view.options:
        out.print(options_table(view.options))
    else:
        out.print(Text("No transitions leave this state.", style="dim"))


def change(result: ChangeResult) -> None:
    """What a change did, for a person: the move, the commit, the emails."""
    verb = "would move" if result.dry_run else "moved"
    if result.action == "new":
        line = Text(f"{result.id}", style="bold")
        line.append(f" created in {result.to_state}")
    elif result.action == "advance":
        line = Text(f"{result.id}", style="bold")
        line.append(f" {verb} {result.from_state} → {result.to_state} ({result.transition})")
    else:
        line = Text(f"{result.id}", style="bold")
        line.append(f" {result.action}")
        if result.changes:
            line.append(
                ": " + ", ".join(f"{k} → {model.plain(v[1]) or '(unset)'}" for k, v in result.changes.items())
            )
    if result.commit:
        line.append(f"  [{result.commit[:10]}]", style="dim")
    elif result.dry_run:
        line.append("  (dry run: nothing written)", style="yellow")
    err.print(line)
    for mail in result.emails:
        if mail.sent:
            status = "sent"
        elif mail.queued:
            status = f"in the outbox, not delivered: {mail.problem}; erflow outbox flush retries"
        else:
            status = "recorded, not sent; --send delivers"
        err.print(
            Text(
                f"  email {mail.template} → {mail.to}: “{mail.subject}” ({status})",
                style="green" if mail.sent else "yellow",
            )
        )
    for created in result.created:
        err.print(Text(f"  created {created}"))


def history_table(entries: Sequence[HistoryEntry]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in ("When", "Actor", "What", "From → To", "Changes"):
        table.add_column(column, overflow="fold")
    for e in entries:
        what = e.transition or e.action
        move = (
            f"{e.from_state or '—'} → {e.to_state or '—'}"
            if e.from_state != e.to_state
            else (e.to_state or "")
        )
        if e.action == "new":
            changes = "created"
        else:
            changes = "; ".join(
                f"{k}: {model.plain(v[0]) or '∅'} → {model.plain(v[1]) or '∅'}"
                for k, v in e.changes.items()
                if k != "state"
            )
        style = "red" if e.action == "edit outside erflow" else ""
        table.add_row(Text(e.date), Text(e.actor), Text(what, style=style), Text(move), Text(changes[:300]))
    out.print(table)


def sweep_table(actions: Sequence[SweepAction], dry_run: bool) -> None:
    if not actions:
        err.print(Text("nothing due", style="dim"))
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("Ticket", "Timer", "Due", "Does", "Result"):
        table.add_column(column, overflow="fold")
    for action in actions:
        if dry_run:
            result = Text("due (dry run)", style="yellow")
        elif action.done:
            moved = (
                f" {action.from_state} → {action.to_state}" if action.from_state != action.to_state else ""
            )
            result = Text(f"done{moved} [{(action.commit or '')[:10]}]", style="green")
        else:
            result = Text(f"not done: {action.reason}", style="red")
        table.add_row(Text(action.ticket), Text(action.name), Text(action.due), Text(action.actions), result)
    out.print(table)


def report_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column.replace("_", " ").capitalize(), overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            text = model.plain(row.get(column))
            style = _SLA_STYLE.get(text, "") if column == "status" else ""
            cells.append(Text(text.replace("_", " ") if column == "status" else text, style=style))
        table.add_row(*cells)
    out.print(table)
    err.print(Text(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim"))


def audit_table(result: AuditResult) -> None:
    if not result.violations:
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("Commit", "Ticket", "Reason"):
        table.add_column(column, overflow="fold")
    for v in result.violations:
        table.add_row(Text(v.commit[:10]), Text(v.ticket), Text(v.reason))
    out.print(table)
