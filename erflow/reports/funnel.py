"""The funnel report, from git history: of the requests that entered in a period, how many reached
each stage of their type, and the median time from the stage before.

Every erflow commit names its ticket and the state it moved to in its trailers (``Erflow-Ticket``,
``Erflow-To``, ``Erflow-Created``), so one ``git log`` without diffs gives every ticket's path. A
ticket entered when its first commit was made (erflow's clock: the author date). The stages are the
type's, in workflow order; a request "reached" a stage when it first entered any of its states.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from erflow.core.workflow import TicketType, Workflow
from erflow.reports.base import Chart, Query, Report, stages
from erflow.reports.snapshot import Snapshot
from erflow.store.commits import Move, read_moves


@dataclass
class Journey:
    """One request's way through its stages: when it entered, and when it first reached each."""

    type: TicketType
    entered: int = 0
    reached: dict[int, int] = field(default_factory=dict)  # stage index -> first time
    last_stage: int | None = None


def funnel(snap: Snapshot, q: Query) -> Report:
    """Of the requests that entered in the period, how far they got."""
    report = Report(
        "funnel",
        ["type", "stage", "reached", "percent", "now_in_stage", "median_days_from_previous"],
    )
    report.title = "Funnel: how far requests got"
    upto = snap.commit or "HEAD"
    limit = int(snap.now.timestamp())
    paths = trace(snap.workflow, read_moves(snap.git, upto), limit)
    since = int(q.since.timestamp()) if q.since else None
    until = int(q.until.timestamp()) if q.until else None
    for type_name in list(q.types) or list(snap.workflow.types):
        ticket_type = snap.workflow.types[type_name]
        names = stages(ticket_type)
        cohort = [
            p
            for p in paths.values()
            if p.type is ticket_type
            and (since is None or p.entered >= since)
            and (until is None or p.entered <= until)
        ]
        gaps: dict[int, list[float]] = {}
        for path in cohort:
            order = sorted(path.reached)
            for before, after in zip(order, order[1:], strict=False):
                seconds = path.reached[after] - path.reached[before]
                if seconds >= 0:
                    gaps.setdefault(after, []).append(seconds / 86400)
        reached = []
        for index, stage in enumerate(names):
            count = sum(1 for p in cohort if index in p.reached)
            reached.append(float(count))
            report.rows.append(
                {
                    "type": type_name,
                    "stage": stage,
                    "reached": count,
                    "percent": round(100 * count / len(cohort), 1) if cohort else 0.0,
                    "now_in_stage": sum(1 for p in cohort if p.last_stage == index),
                    "median_days_from_previous": (
                        round(statistics.median(gaps[index]), 1) if gaps.get(index) else None
                    ),
                }
            )
        report.charts.append(
            Chart("funnel", f"{ticket_type.label}: requests reaching each stage", names, {"reached": reached})
        )
    return report


def trace(workflow: Workflow, moves: Iterable[Move], limit: int) -> dict[str, Journey]:
    """Every ticket's path from its moves (any order), ignoring moves after ``limit``."""
    by_prefix = {t.prefix: t for t in workflow.types.values()}
    stage_of = {
        t.name: {name: stages(t).index(s.stage or s.label) for name, s in t.states.items()}
        for t in workflow.types.values()
    }
    entries: dict[str, list[tuple[int, str | None]]] = {}
    for move in moves:
        if move.when > limit:
            continue
        entries.setdefault(move.ticket, []).append((move.when, move.to_state))
        for made in move.created:
            entries.setdefault(made, []).append((move.when, ""))  # "": the type's initial state
    paths: dict[str, Journey] = {}
    for ticket_id, items in entries.items():
        ticket_type = by_prefix.get(ticket_id.partition("-")[0])
        if ticket_type is None:
            continue
        items.reverse()  # git gave them newest first: keep a second's moves in commit order
        items.sort(key=lambda item: item[0])
        path = Journey(ticket_type, entered=items[0][0])
        for when, state in items:
            if state is None:
                continue  # the commit named no state
            index = stage_of[ticket_type.name].get(state or ticket_type.initial)
            if index is None:
                continue  # a state the workflow no longer has
            path.reached.setdefault(index, when)
            path.last_stage = index
        paths[ticket_id] = path
    return paths
