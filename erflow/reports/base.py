"""What every report is made of: the Query that chooses its tickets, the Report it returns (rows
of plain values that the CLI shows as a table, JSON or CSV) and the Charts html.py draws.

``--type``, ``--since`` and ``--until`` choose the tickets: of those types, created in that period;
``--as-of`` reads the store as it was then (snapshot.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from erflow.core import timers
from erflow.core.errors import UsageError
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType, Workflow
from erflow.reports.snapshot import Snapshot, Source


@dataclass
class Chart:
    """A chart of a report's data, for the HTML page (html.py draws it as inline SVG).

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
    notes: list[str] = field(default_factory=list)  # how the rows are counted, when it needs saying

    def as_json(self) -> dict[str, Any]:
        data = {"report": self.name, "params": self.params, "columns": self.columns, "rows": self.rows}
        return data | ({"notes": self.notes} if self.notes else {})


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
    ctx: Source,
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


def admits(q: Query, flow: Workflow, meta: Mapping[str, Any]) -> bool:
    if q.types and meta.get("type") not in q.types:
        return False
    if q.since or q.until:
        created = timers.instant(meta.get("created"), flow.calendar)
        if created is None:
            return False
        if (q.since and created < q.since) or (q.until and created > q.until):
            return False
    return True


def chosen_metas(snap: Snapshot, q: Query) -> Iterator[dict[str, Any]]:
    return (m for m in snap.metas() if admits(q, snap.workflow, m))


def chosen_tickets(snap: Snapshot, q: Query) -> Iterator[Ticket]:
    return (t for t in snap.tickets() if admits(q, snap.workflow, t.meta))


def type_names(snap: Snapshot, q: Query) -> list[str]:
    return list(q.types) or list(snap.workflow.types)


def stages(ticket_type: TicketType) -> list[str]:
    """The type's stages in workflow order (a state without one is its own stage)."""
    return list(dict.fromkeys(s.stage or s.label for s in ticket_type.states.values()))
