"""The reports by name, and running one: each reads a snapshot of the store once (as it is, or
``--as-of`` a past date) and returns a Report; none prints.

A report is a function ``(Snapshot, Query) -> Report`` in a module of its own (board.py, aging.py,
sla.py, workload.py, billing.py, funnel.py: that one from git history); base.py holds what they share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from erflow.core.errors import NotFound
from erflow.reports.aging import aging
from erflow.reports.base import Query, Report
from erflow.reports.billing import billing
from erflow.reports.board import board
from erflow.reports.funnel import funnel
from erflow.reports.sla import sla
from erflow.reports.snapshot import Snapshot, Source, open_snapshot
from erflow.reports.workload import workload

Builder = Callable[[Snapshot, Query], Report]
REPORTS: dict[str, Builder] = {
    "board": board,
    "aging": aging,
    "sla": sla,
    "workload": workload,
    "billing": billing,
    "funnel": funnel,
}

# One line on each report, for `erflow report` alone.
ABOUT: dict[str, str] = {
    "board": "tickets per state, in workflow order, per type, with their owners",
    "aging": "how long open tickets have sat in their state, oldest first",
    "sla": "every SLA clock: target, due, time used, paused, status",
    "workload": "open tickets and logged hours per owner (a person or a role's queue)",
    "billing": "work ready to invoice: estimate, quote and billable hours",
    "funnel": "how far the requests of a period got, from git history",
}


def run(ctx: Source, name: str, q: Query) -> Report:
    """The report ``name`` over the tickets ``q`` chooses."""
    if name not in REPORTS:
        from erflow.core.names import hint

        raise NotFound(f"no report {name!r}", hint=hint(name, REPORTS, "reports"))
    snap = open_snapshot(ctx, q.as_of)
    report = REPORTS[name](snap, q)
    report.params = {**q.params(), "now": snap.now.isoformat()}
    if snap.commit:
        report.params["commit"] = snap.commit
    report.problems = snap.problems + report.problems
    return report


def state_counts(ctx: Source) -> Counter[tuple[str, str]]:
    """How many tickets sit in each (type, state) now."""
    snap = open_snapshot(ctx, None)
    return Counter((str(m.get("type")), str(m.get("state"))) for m in snap.heads())
