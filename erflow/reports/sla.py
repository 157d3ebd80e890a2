"""The sla report: every SLA clock of every ticket whose type has an SLA."""

from __future__ import annotations

import datetime as dt

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
    open_dues: dict[str, list[dt.datetime]] = {}
    for meta in chosen_metas(snap, q):
        ticket_type = snap.workflow.types.get(str(meta.get("type")))
        if ticket_type is None:
            continue
        for clock in timers.sla_clocks(snap.workflow, ticket_type, meta, snap.now):
            data = clock.as_json()
            if clock.status in ("running", "at_risk"):
                open_dues.setdefault(clock.kind, []).append(clock.due)
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
    report.charts.append(burn_down(open_dues, snap.now))
    return report


BURN_DAYS = 14  # the burn-down's last day from now, at most


def burn_down(dues: dict[str, list[dt.datetime]], now: dt.datetime) -> Chart:
    """The open clocks (running or at risk) still within their target now and on each day after, if
    none is met: a column per day until the last one is due (a week at least, two at most)."""
    last = max((d for ds in dues.values() for d in ds), default=now)
    days = max(7, min(BURN_DAYS, (last - now).days + 1))
    labels = ["now"] + [f"+{k} d" for k in range(1, days + 1)]
    return Chart(
        "histogram",
        "SLA burn-down: open clocks still within their target if none is met",
        labels,
        {
            kind: [float(sum(1 for d in ds if d > now + dt.timedelta(days=k))) for k in range(days + 1)]
            for kind, ds in dues.items()
        },
        unit="clocks",
    )
