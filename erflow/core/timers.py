"""Due timers and SLA clocks for one ticket at an explicit ``now``. Pure: no files, git or clock.

A timer fires once per anchor: for ``after`` timers the instant it counts from (entering the state,
or a date field), for ``every`` timers the weekly occurrence. ``timers_fired`` in the ticket keeps
the last ``name@anchor`` per timer, so a second sweep at the same instant finds nothing due, and a
ticket that re-enters a state starts that state's timers afresh.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from erflow.core import conditions
from erflow.core.businesstime import Calendar, Clock, Duration
from erflow.core.record import Record
from erflow.core.workflow import Actions, Sla, SlaTarget, TicketType, Timer, Workflow

FIRED = "timers_fired"
_QUARTER = re.compile(r"(\d{4})-Q([1-4])", re.IGNORECASE)


class Due(Record):
    """An action whose time has come: a timer, or an SLA escalation (``sla_response``...)."""

    name: str
    key: str  # name@anchor, recorded in timers_fired once done
    due: dt.datetime
    actions: Actions


def instant(value: Any, calendar: Calendar) -> dt.datetime | None:
    """A datetime from a stored value: ISO date-times as they are, dates (and quarters such as
    ``2027-Q1``, their first day) at midnight in the calendar; None for any other text."""
    if not isinstance(value, str) or not value:
        return None
    quarter = _QUARTER.fullmatch(value.strip())
    if quarter:
        first = dt.date(int(quarter[1]), 3 * int(quarter[2]) - 2, 1)
        return dt.datetime.combine(first, dt.time(0), calendar.tz)
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0), calendar.tz)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=calendar.tz)


def fired(meta: Mapping[str, Any]) -> dict[str, str]:
    """Timer name -> the anchor it last fired for."""
    found: dict[str, str] = {}
    for item in meta.get(FIRED) or []:
        name, _, anchor = str(item).partition("@")
        found[name] = anchor
    return found


def record(meta: dict[str, Any], key: str) -> None:
    """Remember that ``key`` (name@anchor) fired, replacing that timer's earlier record."""
    name = key.partition("@")[0]
    kept = [item for item in meta.get(FIRED) or [] if str(item).partition("@")[0] != name]
    meta[FIRED] = [*kept, key]


def due(workflow: Workflow, ticket_type: TicketType, meta: Mapping[str, Any], now: dt.datetime) -> list[Due]:
    """Every timer and SLA escalation due for this ticket at ``now`` and not yet done, earliest first."""
    state = ticket_type.states.get(str(meta.get("state")))
    if state is None or state.terminal:
        return []
    done = fired(meta)
    found = []
    for timer in ticket_type.timers:
        if timer.states and state.name not in timer.states:
            continue
        if timer.when is not None and not conditions.holds(timer.when, meta, workflow.policies):
            continue
        moment = _timer_due(timer, meta, now, workflow.calendar)
        if moment is None:
            continue
        at, anchor = moment
        if at <= now and done.get(timer.name) != anchor:
            found.append(Due(timer.name, f"{timer.name}@{anchor}", at, timer.actions))
    if ticket_type.sla is not None:
        for clock in sla_clocks(workflow, ticket_type, meta, now):
            name = f"sla_{clock.kind}"
            anchor = str(meta.get("created"))
            if clock.status == "breached" and clock.stopped is None and done.get(name) != anchor:
                found.append(Due(name, f"{name}@{anchor}", clock.due, ticket_type.sla.escalate))
    return sorted(found, key=lambda d: d.due)


def _timer_due(
    timer: Timer, meta: Mapping[str, Any], now: dt.datetime, calendar: Calendar
) -> tuple[dt.datetime, str] | None:
    if timer.every is not None:
        weekday, at = timer.every
        local = now.astimezone(calendar.tz)
        day = local.date() - dt.timedelta(days=(local.weekday() - weekday) % 7)
        occurrence = dt.datetime.combine(day, at, calendar.tz)
        if occurrence > local:
            occurrence -= dt.timedelta(days=7)
        window = dt.timedelta(days=timer.window.days, minutes=timer.window.minutes)
        if now - occurrence >= window:
            return None  # missed by more than its window: wait for the next one
        return occurrence, occurrence.isoformat()
    start = instant(meta.get(timer.since), calendar)
    if start is None or timer.after is None:
        return None
    return Clock(calendar, timer.business).add(start, timer.after), start.isoformat()


class SlaClock(Record):
    kind: str  # response or resolution
    target: Duration
    due: dt.datetime
    elapsed: dt.timedelta  # business (or calendar) time counted so far, pauses excluded
    paused: dt.timedelta
    status: str  # met, breached, at_risk, running, paused
    stopped: dt.datetime | None  # when the clock stopped (responded, resolved)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": str(self.target),
            "due": self.due.isoformat(),
            "elapsed_minutes": int(self.elapsed.total_seconds() // 60),
            "paused_minutes": int(self.paused.total_seconds() // 60),
            "status": self.status,
            "stopped": self.stopped.isoformat() if self.stopped else None,
        }


def target_for(workflow: Workflow, sla: Sla, meta: Mapping[str, Any]) -> SlaTarget | None:
    for target in sla.targets:
        if target.when is None or conditions.holds(target.when, meta, workflow.policies):
            return target
    return None


def sla_clocks(
    workflow: Workflow, ticket_type: TicketType, meta: Mapping[str, Any], now: dt.datetime
) -> list[SlaClock]:
    """The ticket's response and resolution clocks at ``now`` (none when its type has no SLA)."""
    sla = ticket_type.sla
    created = instant(meta.get("created"), workflow.calendar)
    if sla is None or created is None:
        return []
    target = target_for(workflow, sla, meta)
    if target is None:
        return []
    business = sla.business if target.business is None else target.business
    clock = Clock(workflow.calendar, business)
    state = ticket_type.states.get(str(meta.get("state")))
    entered = instant(meta.get("state_entered"), workflow.calendar) or created
    clocks = []
    if target.response is not None:
        stopped = instant(meta.get("responded"), workflow.calendar)
        if stopped is None and state is not None and (state.name != ticket_type.initial or state.terminal):
            stopped = entered  # moved on before erflow kept `responded`
        clocks.append(
            _clock("response", target.response, clock, created, stopped, now, dt.timedelta(0), sla, False)
        )
    if target.resolution is not None:
        stopped = instant(meta.get("resolved"), workflow.calendar)
        if stopped is None and state is not None and (state.terminal or state.name in sla.stop):
            stopped = entered
        paused = dt.timedelta(minutes=float(meta.get("sla_paused_minutes") or 0))
        pausing = stopped is None and state is not None and state.name in sla.pause
        if pausing:
            paused += clock.elapsed(entered, now)
        clocks.append(
            _clock("resolution", target.resolution, clock, created, stopped, now, paused, sla, pausing)
        )
    return clocks


def _clock(
    kind: str,
    target: Duration,
    clock: Clock,
    start: dt.datetime,
    stopped: dt.datetime | None,
    now: dt.datetime,
    paused: dt.timedelta,
    sla: Sla,
    pausing: bool,
) -> SlaClock:
    due = clock.add(start, target)
    if paused:
        due = clock.add(due, Duration(0, int(paused.total_seconds() // 60)))
    end = stopped or now
    elapsed = max(clock.elapsed(start, end) - paused, dt.timedelta(0))
    budget = clock.elapsed(start, clock.add(start, target)) or dt.timedelta(minutes=1)
    if stopped is not None:
        status = "met" if stopped <= due else "breached"
    elif now > due:
        status = "breached"
    elif pausing:
        status = "paused"
    elif elapsed >= budget * sla.at_risk:
        status = "at_risk"
    else:
        status = "running"
    return SlaClock(kind, target, due, elapsed, paused, status, stopped)


def worst(clocks: Sequence[SlaClock]) -> str | None:
    """The status that matters most for a list: breached, at risk, running, paused, met."""
    order = ("breached", "at_risk", "running", "paused", "met")
    statuses = [c.status for c in clocks]
    return next((s for s in order if s in statuses), None)
