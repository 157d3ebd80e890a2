"""The board report: tickets per state, now or as of a date."""

from __future__ import annotations

from collections import Counter

from erflow.reports.base import Chart, Query, Report, admits, type_names
from erflow.reports.snapshot import Snapshot


def board(snap: Snapshot, q: Query) -> Report:
    """Tickets per state, in workflow order grouped by stage, per type, with their owners."""
    report = Report("board", ["type", "stage", "state", "label", "terminal", "tickets", "owners"])
    report.title = "Board: tickets per state"
    counts: dict[tuple[str, str], Counter[str]] = {}
    unknown: Counter[tuple[str, str]] = Counter()
    for meta in (h for h in snap.heads() if admits(q, snap.workflow, h)):
        key = (str(meta.get("type")), str(meta.get("state")))
        counts.setdefault(key, Counter())[str(meta.get("owner") or "(nobody)")] += 1
    for type_name in type_names(snap, q):
        ticket_type = snap.workflow.types[type_name]
        labels, groups, values = [], [], []
        for name, state in ticket_type.states.items():
            owners = counts.pop((type_name, name), Counter())
            total = sum(owners.values())
            stage = state.stage or state.label
            report.rows.append(
                {
                    "type": type_name,
                    "stage": stage,
                    "state": name,
                    "label": state.label,
                    "terminal": state.terminal,
                    "tickets": total,
                    "owners": dict(sorted(owners.items(), key=lambda kv: (-kv[1], kv[0]))),
                }
            )
            labels.append(state.label)
            groups.append(stage)
            values.append(float(total))
        report.charts.append(
            Chart(
                "bars", f"{ticket_type.label}: tickets per state", labels, {"tickets": values}, groups=groups
            )
        )
    for (type_name, state_name), owners in counts.items():
        if not q.types or type_name in q.types:
            unknown[(type_name, state_name)] += sum(owners.values())
    for (type_name, state_name), total in sorted(unknown.items()):
        report.problems.append(
            f"{total} ticket(s) of type {type_name!r} in state {state_name!r}, which the workflow lacks"
        )
    return report
