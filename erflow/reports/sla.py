"""The sla report: every SLA clock of every ticket whose type has an SLA."""

from __future__ import annotations

from erflow.core import timers
from erflow.reports.base import Chart, Query, Report, chosen_metas
from erflow.reports.snapshot import Snapshot


def sla(snap: Snapshot, q: Query) -> Report:
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
    report.title = "SLA clocks"
    for meta in chosen_metas(snap, q):
        ticket_type = snap.workflow.types.get(str(meta.get("type")))
        if ticket_type is None:
            continue
        for clock in timers.sla_clocks(snap.workflow, ticket_type, meta, snap.now):
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
    report.rows.sort(key=lambda r: (order.get(str(r["status"]), 9), str(r["due"]), str(r["id"])))
    statuses = [s for s in order if any(r["status"] == s for r in report.rows)]
    clocks = list(dict.fromkeys(str(r["clock"]) for r in report.rows))
    report.charts.append(
        Chart(
            "bars",
            "SLA clocks by status",
            statuses,
            {
                c: [
                    float(sum(1 for r in report.rows if r["status"] == s and r["clock"] == c))
                    for s in statuses
                ]
                for c in clocks
            },
            unit="clocks",
        )
    )
    return report
