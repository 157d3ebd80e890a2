"""Reports over the store: rows of plain values that output.py shows as a table, JSON or CSV, and
charts that htmlpage.py draws.

Each report reads a snapshot of the store once (as it is, or ``--as-of`` a past date) and returns a
Report; none prints. ``--type``, ``--since`` and ``--until`` choose the tickets: of those types,
created in that period. The funnel reads git history (funnel.py).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from erflow.app.context import Context
from erflow.core import model, timers
from erflow.core.errors import NotFound, UsageError
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType, Workflow
from erflow.reports.snapshot import Snapshot, open_snapshot


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


@dataclass(frozen=True)
class Query:
    """Which tickets a report covers: of these types (all when none), created in [since, until],
    in the store as it was at ``as_of`` (now when None)."""

    types: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    as_of: dt.datetime | None = None

    def params(self) -> dict[str, str]:
        found = {"type": ", ".join(self.types)} if self.types else {}
        for key in ("since", "until", "as_of"):
            value = getattr(self, key)
            if value is not None:
                found[key] = value.isoformat()
        return found


def parse_when(text: str, option: str, tz: dt.tzinfo, *, end_of_day: bool = False) -> dt.datetime:
    """A date (``2026-06-30``: its start, or its end for ``end_of_day``, in the calendar's time zone)
    or a date and time with offset."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.time(23, 59, 59) if end_of_day else dt.time(0)
            return dt.datetime.combine(day, moment, tz)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a date (2026-06-30) or an ISO 8601 date and time"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def query(
    ctx: Context,
    types: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    as_of: str | None = None,
) -> Query:
    """A Query from the command line's text, checked against the workflow and the clock."""
    for name in types:
        ctx.workflow.type(name)
    tz = ctx.workflow.calendar.tz
    q = Query(
        tuple(dict.fromkeys(types)),
        parse_when(since, "--since", tz) if since else None,
        parse_when(until, "--until", tz, end_of_day=True) if until else None,
        parse_when(as_of, "--as-of", tz, end_of_day=True) if as_of else None,
    )
    if q.since and q.until and q.since > q.until:
        raise UsageError(f"--since {since} is after --until {until}")
    if q.as_of and q.as_of > ctx.now:
        raise UsageError(f"--as-of {as_of} is in the future (now is {ctx.now.isoformat()})")
    return q


def _admits(q: Query, flow: Workflow, meta: Mapping[str, Any]) -> bool:
    if q.types and meta.get("type") not in q.types:
        return False
    if q.since or q.until:
        created = timers.instant(meta.get("created"), flow.calendar)
        if created is None:
            return False
        if (q.since and created < q.since) or (q.until and created > q.until):
            return False
    return True


def _metas(snap: Snapshot, q: Query) -> Iterator[dict[str, Any]]:
    return (m for m in snap.metas() if _admits(q, snap.workflow, m))


def _tickets(snap: Snapshot, q: Query) -> Iterator[Ticket]:
    return (t for t in snap.tickets() if _admits(q, snap.workflow, t.meta))


def _type_names(snap: Snapshot, q: Query) -> list[str]:
    return list(q.types) or list(snap.workflow.types)


def stages(ticket_type: TicketType) -> list[str]:
    """The type's stages in workflow order (a state without one is its own stage)."""
    return list(dict.fromkeys(s.stage or s.label for s in ticket_type.states.values()))


def state_counts(ctx: Context) -> Counter[tuple[str, str]]:
    """How many tickets sit in each (type, state) now."""
    snap = open_snapshot(ctx, None)
    return Counter((str(m.get("type")), str(m.get("state"))) for m in snap.heads())


# ---------------------------------------------------------------------------------------------
# board


def board(snap: Snapshot, q: Query) -> Report:
    """Tickets per state, in workflow order grouped by stage, per type, with their owners."""
    report = Report("board", ["type", "stage", "state", "label", "terminal", "tickets", "owners"])
    report.title = "Board: tickets per state"
    counts: dict[tuple[str, str], Counter[str]] = {}
    unknown: Counter[tuple[str, str]] = Counter()
    for meta in (h for h in snap.heads() if _admits(q, snap.workflow, h)):
        key = (str(meta.get("type")), str(meta.get("state")))
        counts.setdefault(key, Counter())[str(meta.get("owner") or "(nobody)")] += 1
    for type_name in _type_names(snap, q):
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


# ---------------------------------------------------------------------------------------------
# aging

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
    for meta in _metas(snap, q):
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


# ---------------------------------------------------------------------------------------------
# sla, workload, billing


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
    for meta in _metas(snap, q):
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


def workload(snap: Snapshot, q: Query) -> Report:
    """Open tickets and logged hours per owner (a person, or a role's queue), with their roles."""
    report = Report("workload", ["owner", "roles", "open", "hours_logged", "billable_hours"])
    report.title = "Workload per owner"
    per: dict[str, dict[str, Any]] = {}
    for ticket in _tickets(snap, q):
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
    for ticket in _tickets(snap, q):
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


def funnel(snap: Snapshot, q: Query) -> Report:
    """Of the requests that entered in the period, how far they got (funnel.py: from git history)."""
    from erflow.reports import funnel as funnel_module  # it builds on this module's Report and Chart

    return funnel_module.funnel(snap, q)


Builder = Callable[[Snapshot, Query], Report]
REPORTS: dict[str, Builder] = {
    "board": board,
    "aging": aging,
    "sla": sla,
    "workload": workload,
    "billing": billing,
    "funnel": funnel,
}


def run(ctx: Context, name: str, q: Query) -> Report:
    """The report ``name`` over the tickets ``q`` chooses."""
    if name not in REPORTS:
        raise NotFound(f"no report {name!r}", hint=f"reports: {', '.join(REPORTS)}")
    snap = open_snapshot(ctx, q.as_of)
    report = REPORTS[name](snap, q)
    report.params = {**q.params(), "now": snap.now.isoformat()}
    if snap.commit:
        report.params["commit"] = snap.commit
    report.problems = snap.problems + report.problems
    return report
