"""The funnel report, from git history: of the requests that entered in a period, how many reached
each stage of their type, and the median time from the stage before.

Every erflow commit names its ticket and the state it moved to in its trailers (``Erflow-Ticket``,
``Erflow-To``, ``Erflow-Created``), so one ``git log`` without diffs gives every ticket's path. A
ticket entered when its first commit was made (erflow's clock: the author date).

The rows are the type's open stages in workflow order, then Done, and they are cumulative: a request
counts in every stage up to the furthest it reached (a stage it skipped included), so each row is at
most the one above. Done counts the requests that were resolved (they reached a state that stops the
type's SLA clock, ``resolved`` in the defaults) or closed from the last open stage; one declined or
cancelled earlier counts up to the stage it stopped in.
"""

from __future__ import annotations

import datetime as dt
import operator
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from erflow.core.workflow import TicketType, Workflow
from erflow.reports.base import Chart, Query, Report
from erflow.reports.snapshot import Snapshot
from erflow.store.commits import MoveFields
from erflow.store.moves import move_tuples

DONE = "Done"
WEEKS = 12  # the throughput chart's weeks up to now, when no --since says where to start


@dataclass(frozen=True)
class Rows:
    """A type's funnel rows: its open stages in workflow order, then the done row."""

    names: list[str]
    row_of: dict[str, int]  # each open state -> its stage's row
    done_states: frozenset[str]  # open states that count as done: the SLA's stop states

    @property
    def done(self) -> int:
        return len(self.names) - 1

    @property
    def last_open(self) -> int:
        return len(self.names) - 2


def funnel_rows(ticket_type: TicketType) -> Rows:
    """The funnel's rows for ``ticket_type``; the done row takes the terminal states' stage name when
    they share one that no open state has."""
    opened = [s for s in ticket_type.states.values() if not s.terminal]
    names = list(dict.fromkeys(s.stage or s.label for s in opened))
    ends = list(dict.fromkeys(s.stage or s.label for s in ticket_type.states.values() if s.terminal))
    done = ends[0] if len(ends) == 1 and ends[0] not in names else DONE
    stop = frozenset(ticket_type.sla.stop) if ticket_type.sla else frozenset()
    return Rows([*names, done], {s.name: names.index(s.stage or s.label) for s in opened}, stop)


HOW_COUNTED = (
    "Stages are cumulative: a request counts in every stage up to the furthest it reached (one it "
    "skipped included), so no stage counts more than the one above; a request declined or cancelled "
    "on the way counts up to the stage it stopped in (stopped here)."
)


def how_done(ticket_type: TicketType, rows: Rows) -> str:
    """What the type's done row counts, in one sentence for the report's notes."""
    last = rows.names[rows.last_open] if rows.last_open >= 0 else "its first stage"
    reached = f"reached {', '.join(sorted(rows.done_states))}, or " if rows.done_states else ""
    return f"{ticket_type.label}: {rows.names[rows.done]} counts the ones that {reached}closed from {last}."


@dataclass
class Journey:
    """One request's way through the funnel: when it entered, when it first got at least as far as
    each row, the row it is in now (None: it ended without being done), and where it stopped."""

    type: TicketType
    entered: int = 0
    reached: dict[int, int] = field(default_factory=dict)  # row -> first time at least this far
    now: int | None = None
    furthest: int = -1  # the furthest row reached


def funnel(snap: Snapshot, q: Query) -> Report:
    """Of the requests that entered in the period, how far they got."""
    report = Report(
        "funnel",
        ["type", "stage", "reached", "percent", "now_in_stage", "stopped_here", "median_days_from_previous"],
    )
    report.title = "Funnel: how far requests got"
    report.notes.append(HOW_COUNTED)
    upto = snap.commit or "HEAD"
    limit = int(snap.now.timestamp())
    paths = trace(snap.workflow, move_tuples(snap.git, upto), limit)
    since = int(q.since.timestamp()) if q.since else None
    until = int(q.until.timestamp()) if q.until else None
    for type_name in list(q.types) or list(snap.workflow.types):
        ticket_type = snap.workflow.types[type_name]
        rows = funnel_rows(ticket_type)
        report.notes.append(how_done(ticket_type, rows))
        cohort = [
            p
            for p in paths.values()
            if p.type is ticket_type
            and (since is None or p.entered >= since)
            and (until is None or p.entered <= until)
        ]
        reached = []
        for index, stage in enumerate(rows.names):
            count = sum(1 for p in cohort if index in p.reached)
            gaps = [
                (p.reached[index] - p.reached[index - 1]) / 86400
                for p in cohort
                if index and index in p.reached
            ]
            reached.append(float(count))
            report.rows.append(
                {
                    "type": type_name,
                    "stage": stage,
                    "reached": count,
                    "percent": round(100 * count / len(cohort), 1) if cohort else 0.0,
                    "now_in_stage": sum(1 for p in cohort if p.now == index),
                    "stopped_here": sum(1 for p in cohort if p.now is None and p.furthest == index),
                    "median_days_from_previous": round(statistics.median(gaps), 1) if gaps else None,
                }
            )
        report.charts.append(
            Chart(
                "funnel",
                f"{ticket_type.label}: requests reaching each stage",
                rows.names,
                {"reached": reached},
            )
        )
    report.charts.append(throughput(snap, q, paths))
    report.notes.append("Done per week: every request done in that week, whenever it entered.")
    return report


def throughput(snap: Snapshot, q: Query, paths: dict[str, Journey]) -> Chart:
    """Requests done per week (Monday to Sunday, in the calendar's time zone), one series per type:
    the weeks from --since (or twelve weeks back) to --until (or now), fifty-two at most."""
    tz = snap.workflow.calendar.tz
    end = min(q.until or snap.now, snap.now)
    first, last = _monday(q.since or end - dt.timedelta(weeks=WEEKS - 1), tz), _monday(end, tz)
    weeks = [first + dt.timedelta(weeks=k) for k in range((last - first).days // 7 + 1)][-52:]
    index = {week: k for k, week in enumerate(weeks)}
    series: dict[str, list[float]] = {}
    for type_name in list(q.types) or list(snap.workflow.types):
        ticket_type = snap.workflow.types[type_name]
        done = funnel_rows(ticket_type).done
        counts = [0.0] * len(weeks)
        for path in paths.values():
            if path.type is ticket_type and done in path.reached:
                k = index.get(_monday(dt.datetime.fromtimestamp(path.reached[done], tz), tz))
                if k is not None:
                    counts[k] += 1
        series[ticket_type.label] = counts
    labels = [f"{week.day} {week:%b}" for week in weeks]
    return Chart("histogram", "Requests done per week (weeks from Monday)", labels, series)


def _monday(when: dt.datetime, tz: dt.tzinfo) -> dt.date:
    day = when.astimezone(tz).date()
    return day - dt.timedelta(days=day.weekday())


def trace(workflow: Workflow, moves: Iterable[MoveFields], limit: int) -> dict[str, Journey]:
    """Every ticket's path from its moves (any order; git's, newest first, keeps a second's moves
    in commit order), ignoring moves after ``limit``."""
    by_prefix = {t.prefix: (t, _steps(t, funnel_rows(t))) for t in workflow.types.values()}
    entries: defaultdict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for when, ticket, to_state, created in moves:
        if when > limit:
            continue
        entries[ticket].append((when, to_state))
        for made in created:
            entries[made].append((when, ""))  # "": the type's initial state
    paths: dict[str, Journey] = {}
    first = operator.itemgetter(0)
    for ticket_id, items in entries.items():
        kind = by_prefix.get(ticket_id.partition("-")[0])
        if kind is None:
            continue
        items.reverse()  # git gave them newest first: keep a second's moves in commit order
        items.sort(key=first)
        path = Journey(kind[0], entered=items[0][0])
        _walk(path, kind[1], items)
        paths[ticket_id] = path
    return paths


# What a move to a state does to a journey: (row it is in now, row it has got as far as), or, for
# a terminal state, None: done when it was in the last open stage or done, else stopped.
Step = tuple[int, int] | None


@dataclass(frozen=True)
class Steps:
    """A type's states as ``_walk`` follows them: each state's step (``""``: the initial state's),
    and the rows a terminal state needs."""

    of: dict[str, Step]
    done: int
    last_open: int


def _steps(ticket_type: TicketType, rows: Rows) -> Steps:
    of: dict[str, Step] = {}
    for state in ticket_type.states.values():
        if state.terminal:
            of[state.name] = None
        else:
            now = rows.row_of[state.name]
            of[state.name] = (now, rows.done if state.name in rows.done_states else now)
    if ticket_type.initial in of:
        of[""] = of[ticket_type.initial]
    return Steps(of, rows.done, rows.last_open)


def _walk(path: Journey, steps: Steps, items: Iterable[tuple[int, str | None]]) -> None:
    """Follow one ticket's states in time order, filling in how far it got and when."""
    of, done, last_open = steps.of, steps.done, steps.last_open
    reached = path.reached
    furthest, now = path.furthest, path.now
    for when, state_name in items:
        if state_name is None or state_name not in of:
            continue  # the commit named no state, or one the workflow no longer has
        step = of[state_name]
        if step is None:
            if now != last_open and now != done:
                now = None  # declined or cancelled before the end: it stops where it got
                continue
            row = now = done
        else:
            now, row = step
        while furthest < row:
            furthest += 1
            reached[furthest] = when
    path.furthest, path.now = furthest, now
