"""Reports over the store: rows of plain values that output.py shows as a table, JSON or CSV.

Each report reads the tickets once and returns a Report; none prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import model, timers
from .errors import ErflowError, NotFound
from .model import Ticket
from .service import Context, Filters, list_tickets


@dataclass
class Chart:
    """A chart of a report's data, for the HTML page (htmlpage.py draws it as inline SVG).

    ``series`` maps a series name to one value per label; several series are stacked. ``groups``, when
    given, names a group for each label (a state's stage, say) so the drawing can band them.
    """

    kind: str  # "bars": one horizontal bar per label; "histogram": columns; "funnel": centred bars
    title: str
    labels: list[str]
    series: dict[str, list[float]]
    unit: str = "tickets"
    groups: list[str] = field(default_factory=list)


@dataclass
class Report:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    title: str = ""
    params: dict[str, str] = field(default_factory=dict)  # what it was run with: type, since, as_of...
    charts: list[Chart] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"report": self.name, "params": self.params, "columns": self.columns, "rows": self.rows}


def sla(ctx: Context, types: Sequence[str]) -> Report:
    """Every SLA clock of every ticket whose type has an SLA: target, due, time used, paused, status."""
    report = Report(
        "sla",
        [
            "id",
            "type",
            "state",
            "owner",
            "clock",
            "target",
            "due",
            "elapsed_minutes",
            "paused_minutes",
            "status",
        ],
    )
    listing = list_tickets(ctx, Filters(types=types))
    report.problems = listing.problems
    for meta in listing.tickets:
        ticket_type = ctx.workflow.types[str(meta["type"])]
        for clock in timers.sla_clocks(ctx.workflow, ticket_type, meta, ctx.now):
            data = clock.as_json()
            report.rows.append(
                {
                    "id": meta["id"],
                    "type": meta["type"],
                    "state": meta["state"],
                    "owner": meta.get("owner"),
                    "clock": data["kind"],
                    "target": data["target"],
                    "due": data["due"],
                    "elapsed_minutes": data["elapsed_minutes"],
                    "paused_minutes": data["paused_minutes"],
                    "status": data["status"],
                }
            )
    order = {"breached": 0, "at_risk": 1, "running": 2, "paused": 3, "met": 4}
    report.rows.sort(key=lambda r: (order.get(str(r["status"]), 9), str(r["due"])))
    return report


def workload(ctx: Context, types: Sequence[str]) -> Report:
    """Open tickets and logged hours per owner (a person, or a role's queue), with their roles."""
    report = Report("workload", ["owner", "roles", "open", "hours_logged", "billable_hours"])
    per: dict[str, dict[str, Any]] = {}
    for ticket in _tickets(ctx, types, report):
        ticket_type = ctx.workflow.types.get(ticket.type)
        state = ticket_type.states.get(ticket.state) if ticket_type else None
        owner = str(ticket.meta.get("owner") or "(nobody)")
        row = per.setdefault(owner, {"owner": owner, "open": 0, "hours_logged": 0.0, "billable_hours": 0.0})
        if state is not None and not state.terminal:
            row["open"] += 1
        hours, billable = model.time_totals(ticket)
        row["hours_logged"] = round(row["hours_logged"] + hours, 2)
        row["billable_hours"] = round(row["billable_hours"] + billable, 2)
    for row in per.values():
        person = ctx.workflow.people.get(row["owner"])
        row["roles"] = (
            ", ".join(person.roles) if person else ("queue" if row["owner"] in ctx.workflow.roles else "")
        )
    report.rows = sorted(per.values(), key=lambda r: (-int(r["open"]), str(r["owner"])))
    report.charts.append(
        Chart(
            "bars",
            "Open tickets per owner",
            labels=[str(r["owner"]) for r in report.rows],
            series={"open": [float(r["open"]) for r in report.rows]},
        )
    )
    return report


def billing(ctx: Context, types: Sequence[str]) -> Report:
    """Tickets ready for billing (or billable and closed), with estimate, quote and billable hours."""
    report = Report(
        "billing",
        [
            "id",
            "type",
            "title",
            "customer",
            "state",
            "estimate_hours",
            "quote_amount",
            "billable_hours",
            "hours_logged",
        ],
    )
    for ticket in _tickets(ctx, types, report):
        hours, billable = model.time_totals(ticket)
        labels = ticket.meta.get("labels") or []
        if ticket.state != "ready_for_billing" and not (billable and "billable" in labels):
            continue
        row = {c: ticket.meta.get(c) for c in report.columns}
        row.update(billable_hours=billable, hours_logged=hours)
        report.rows.append(row)
    report.rows.sort(key=lambda r: (str(r["customer"] or ""), str(r["id"])))
    return report


def _tickets(ctx: Context, types: Sequence[str], report: Report) -> Iterator[Ticket]:
    """Every readable ticket of these types (all when none); an unreadable file is named, not fatal."""
    for path in ctx.store.paths():
        try:
            ticket = ctx.store.read_path(path).ticket
        except ErflowError as exc:
            report.problems.append(exc.message)
            continue
        if not types or ticket.type in types:
            yield ticket


REPORTS: dict[str, Callable[[Context, Sequence[str]], Report]] = {
    "sla": sla,
    "workload": workload,
    "billing": billing,
}


def run(ctx: Context, name: str, types: Sequence[str]) -> Report:
    builder = REPORTS.get(name)
    if builder is None:
        raise NotFound(f"no report {name!r}", hint=f"reports: {', '.join(REPORTS)}")
    for type_name in types:
        ctx.workflow.type(type_name)
    return builder(ctx, types)
