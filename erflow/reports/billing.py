"""The billing report: work ready to invoice."""

from __future__ import annotations

from erflow.core import model
from erflow.reports.base import Chart, Query, Report, chosen_tickets
from erflow.reports.snapshot import Snapshot


def billing(snap: Snapshot, q: Query) -> Report:
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
    report.title = "Billing: work ready to invoice"
    for ticket in chosen_tickets(snap, q):
        hours, billable = model.time_totals(ticket)
        labels = ticket.meta.get("labels") or []
        if ticket.state != "ready_for_billing" and not (billable and "billable" in labels):
            continue
        row = {c: ticket.meta.get(c) for c in report.columns}
        row.update(billable_hours=billable, hours_logged=hours)
        report.rows.append(row)
    report.rows.sort(key=lambda r: (str(r["customer"] or ""), str(r["id"])))
    customers = list(dict.fromkeys(str(r["customer"] or "(none)") for r in report.rows))
    report.charts.append(
        Chart(
            "bars",
            "Billable hours per customer",
            customers,
            {
                "billable hours": [
                    round(
                        sum(r["billable_hours"] for r in report.rows if str(r["customer"] or "(none)") == c),
                        2,
                    )
                    for c in customers
                ]
            },
            unit="hours",
        )
    )
    return report
