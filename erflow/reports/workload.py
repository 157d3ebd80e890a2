"""The workload report: open tickets and logged hours per owner."""

from __future__ import annotations

from typing import Any

from erflow.core import model
from erflow.reports.base import Chart, Query, Report, chosen_tickets
from erflow.reports.snapshot import Snapshot


def workload(snap: Snapshot, q: Query) -> Report:
    """Open tickets and logged hours per owner (a person, or a role's queue), with their roles."""
    report = Report("workload", ["owner", "roles", "open", "hours_logged", "billable_hours"])
    report.title = "Workload per owner"
    per: dict[str, dict[str, Any]] = {}
    for ticket in chosen_tickets(snap, q):
        ticket_type = snap.workflow.types.get(ticket.type)
        state = ticket_type.states.get(ticket.state) if ticket_type else None
        owner = str(ticket.meta.get("owner") or "(nobody)")
        row = per.setdefault(owner, {"owner": owner, "open": 0, "hours_logged": 0.0, "billable_hours": 0.0})
        if state is not None and not state.terminal:
            row["open"] += 1
        hours, billable = model.time_totals(ticket)
        row["hours_logged"] = round(row["hours_logged"] + hours, 2)
        row["billable_hours"] = round(row["billable_hours"] + billable, 2)
    for row in per.values():
        person = snap.workflow.people.get(row["owner"])
        row["roles"] = (
            ", ".join(person.roles) if person else ("queue" if row["owner"] in snap.workflow.roles else "")
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
