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
    from erflow.cli.text import view_parts

    parts = view_parts(view)
    title, _, label = parts.title.partition("  ")
    header = Text(f"{title}  {label}", style="bold")
    header.append(f"\n{parts.subtitle}", style="cyan")
    out.print(header)
    table = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value, status in parts.rows:
        table.add_row(Text(name), Text(value, style=_SLA_STYLE.get(status, "")))
    out.print(table)
    if parts.unset:
        out.print(Text("unset: " + ", ".join(parts.unset), style="dim"))
    if parts.extra:
        out.print(Text("not in the workflow: " + ", ".join(parts.extra), style="yellow"))
    out.print()
    out.print(Text(parts.body))
    out.print()
    if view.options:
        out.print(options_table(view.options))
    else:
        out.print(Text("No transitions leave this state.", style="dim"))


def change(result: ChangeResult) -> None:
    """What a change did, for a person: the move, the commit, the emails (see text.change_lines)."""
    from erflow.cli.text import change_lines

    first, rest = change_lines(result)
    line = Text(first[0], style="bold")
    line.append(first[1])
    if first[2]:
        line.append(first[2], style="dim" if result.commit else "yellow")
    err.print(line)
    for text, style in rest:
        err.print(Text(text, style=style))


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
