"""A ticket for a pipe: the same content as the terminal's view (tables.py), as plain lines with the
standard library only, so that ``erflow show ID | grep ...`` does not load rich to draw a table.

``view_parts`` decides what a view shows; tables.py draws those parts for a terminal and this module
writes them as text."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from erflow.core import model

if TYPE_CHECKING:
    from erflow.app.transaction import ChangeResult
    from erflow.app.views import TicketView
    from erflow.core import engine


class ViewParts(NamedTuple):
    title: str  # the id and the title
    subtitle: str  # the type's label and the state's
    rows: list[tuple[str, str, str]]  # (label, value, status: an SLA clock's status, else "")
    unset: list[str]  # the type's fields with no value
    extra: list[str]  # front-matter keys the workflow does not declare
    body: str


def view_parts(view: TicketView) -> ViewParts:
    ticket, ticket_type = view.ticket, view.type
    state = ticket_type.states.get(ticket.state)
    fields = ticket_type.all_fields()
    rows = [
        (f.name, model.plain(ticket.meta.get(f.name)), "")
        for f in fields
        if ticket.meta.get(f.name) not in (None, []) and f.name not in ("id", "title")
    ]
    hours, billable = model.time_totals(ticket)
    if hours:
        rows.append(("time logged", f"{hours:g} h ({billable:g} h billable)", ""))
    for clock in view.sla:
        when = "stopped " + clock.stopped.isoformat() if clock.stopped else "due " + clock.due.isoformat()
        rows.append(
            (f"SLA {clock.kind}", f"{clock.status.replace('_', ' ')} ({clock.target}, {when})", clock.status)
        )
    return ViewParts(
        f"{ticket.id}  {ticket.meta.get('title', '')}",
        f"{ticket_type.label} · {state.label if state else ticket.state}",
        rows,
        [f.name for f in fields if ticket.meta.get(f.name) in (None, [], "")],
        sorted(set(ticket.meta) - {f.name for f in fields}),
        ticket.body().rstrip("\n"),
    )


def ticket_text(view: TicketView) -> None:
    parts = view_parts(view)
    lines = [parts.title, parts.subtitle]
    width = max((len(label) for label, _, _ in parts.rows), default=0)
    lines += [f"{label.ljust(width)}  {value}".rstrip() for label, value, _ in parts.rows]
    if parts.unset:
        lines.append("unset: " + ", ".join(parts.unset))
    if parts.extra:
        lines.append("not in the workflow: " + ", ".join(parts.extra))
    lines += ["", parts.body, ""]
    lines += options_text(view.options) if view.options else ["No transitions leave this state."]
    sys.stdout.write("\n".join(lines) + "\n")


def options_text(options: Iterable[engine.Evaluation], title: str = "Next") -> list[str]:
    """The transitions as aligned columns (name, target, ✓ or ✗, label), each reason below its
    transition's label."""
    rows = [
        (o.transition.name, o.to, "✓" if o.allowed else "✗", o.transition.label, o.reasons) for o in options
    ]
    name_w = max([len("Transition"), *(len(r[0]) for r in rows)])
    to_w = max([len("To"), *(len(r[1]) for r in rows)])
    lines = [title, f"{'Transition'.ljust(name_w)}  {'To'.ljust(to_w)}     Label / why not"]
    for name, to, mark, label, reasons in rows:
        lines.append(f"{name.ljust(name_w)}  {to.ljust(to_w)}  {mark}  {label}")
        lines += [f"{'':{name_w}}  {'':{to_w}}       {reason}" for reason in reasons]
    return lines


def change_lines(result: ChangeResult) -> tuple[tuple[str, str, str], list[tuple[str, str]]]:
    """What a change did: its first line in three parts (the id, what happened, the commit or a dry
    run's note), then (line, style) for each email and each ticket created."""
    verb = "would move" if result.dry_run else "moved"
    if result.action == "new":
        what = f" created in {result.to_state}"
    elif result.action == "advance":
        what = f" {verb} {result.from_state} → {result.to_state} ({result.transition})"
    else:
        what = f" {result.action}"
        if result.changes:
            what += ": " + ", ".join(
                f"{k} → {model.plain(v[1]) or '(unset)'}" for k, v in result.changes.items()
            )
    tail = (
        f"  [{result.commit[:10]}]"
        if result.commit
        else "  (dry run: nothing written)"
        if result.dry_run
        else ""
    )
    lines = []
    for mail in result.emails:
        if mail.sent:
            status = "sent"
        elif mail.queued:
            status = f"in the outbox, not delivered: {mail.problem}; erflow outbox flush retries"
        else:
            status = "recorded, not sent; --send delivers"
        lines.append(
            (
                f"  email {mail.template} → {mail.to}: “{mail.subject}” ({status})",
                "green" if mail.sent else "yellow",
            )
        )
    for notice in result.notifications:
        status = "sent" if notice.sent else "queued" if notice.queued else "recorded, not sent"
        lines.append(
            (
                f"  notify {notice.template} → {notice.to}: “{notice.subject}” ({status})",
                "cyan" if notice.sent else "dim",
            )
        )
    lines += [(f"  created {created}", "") for created in result.created]
    return (result.id, what, tail), lines


def change(result: ChangeResult) -> None:
    """What a change did, on stderr, as plain lines (for a terminal: tables.change)."""
    first, rest = change_lines(result)
    sys.stderr.write("".join(first) + "\n" + "".join(line + "\n" for line, _ in rest))
