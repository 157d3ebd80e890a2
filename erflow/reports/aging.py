"""The aging report: how long open tickets have sat in their state."""

from __future__ import annotations

import statistics

from erflow.core import timers
from erflow.reports.base import Chart, Query, Report, chosen_metas
from erflow.reports.snapshot import Snapshot

AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 day", 1),
    ("1-3 days", 3),
    ("3-7 days", 7),
    ("1-2 weeks", 14),
    ("2-4 weeks", 28),
    ("1-3 months", 91),
    ("3-12 months", 365),
    ("> 1 year", float("inf")),
)


def aging(snap: Snapshot, q: Query) -> Report:
    """Open tickets: time in their current state and since creation, by state and owner, oldest
    first (calendar days; the state's clock starts at state_entered, else at creation)."""
    report = Report(
        "aging",
        [
            "type",
            "state",
            "owner",
            "tickets",
            "oldest_days_in_state",
            "median_days_in_state",
            "oldest_age_days",
            "median_age_days",
            "oldest_ticket",
        ],
    )
    report.title = "Aging: open tickets by time in their state"
    calendar = snap.workflow.calendar
    groups: dict[tuple[str, str, str], list[tuple[float, float, str]]] = {}
    histogram: dict[str, list[float]] = {}
    for meta in chosen_metas(snap, q):
        ticket_type = snap.workflow.types.get(str(meta.get("type")))
        state = ticket_type.states.get(str(meta.get("state"))) if ticket_type else None
        if ticket_type is None or state is None or state.terminal:
            continue
        created = timers.instant(meta.get("created"), calendar)
        entered = timers.instant(meta.get("state_entered"), calendar) or created
        if created is None or entered is None:
            report.problems.append(f"{meta.get('id')}: no valid created date")
            continue
        in_state = max(0.0, (snap.now - entered).total_seconds()) / 86400
        age = max(0.0, (snap.now - created).total_seconds()) / 86400
        key = (ticket_type.name, state.name, str(meta.get("owner") or "(nobody)"))
        groups.setdefault(key, []).append((in_state, age, str(meta.get("id"))))
        bucket = next(i for i, (_, limit) in enumerate(AGE_BUCKETS) if in_state < limit)
        histogram.setdefault(ticket_type.label, [0.0] * len(AGE_BUCKETS))[bucket] += 1
    for (type_name, state_name, owner), items in groups.items():
        oldest = max(items)
        report.rows.append(
            {
                "type": type_name,
                "state": state_name,
                "owner": owner,
                "tickets": len(items),
                "oldest_days_in_state": round(oldest[0], 1),
                "median_days_in_state": round(statistics.median(i[0] for i in items), 1),
                "oldest_age_days": round(max(i[1] for i in items), 1),
                "median_age_days": round(statistics.median(i[1] for i in items), 1),
                "oldest_ticket": oldest[2],
            }
        )
    report.rows.sort(key=lambda r: (-r["oldest_days_in_state"], r["type"], r["state"], r["owner"]))
    report.charts.append(
        Chart(
            "histogram", "Open tickets by days in their current state", [b[0] for b in AGE_BUCKETS], histogram
        )
    )
    per_state: dict[str, list[float]] = {}
    for (type_name, state_name, _), items in groups.items():
        per_state.setdefault(f"{type_name}/{state_name}", []).extend(i[0] for i in items)
    order = [
        (f"{t.name}/{name}", t, state)
        for t in snap.workflow.types.values()
        for name, state in t.states.items()
        if f"{t.name}/{name}" in per_state
    ]
    several = len({t.name for _, t, _ in order}) > 1
    report.charts.append(
        Chart(
            "bars",
            "Median days in state",
            [f"{t.label}: {s.label}" if several else s.label for _, t, s in order],
            {"median days": [round(statistics.median(per_state[k]), 1) for k, _, _ in order]},
            unit="days",
            groups=[s.stage or s.label for _, _, s in order],
        )
    )
    return report
