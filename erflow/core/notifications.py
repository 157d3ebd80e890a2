"""Staff notifications (workflow.yaml ``notifications:``): which rules an event fires on a ticket and
who gets each, and the events the sweep detects by time. Pure: no files, git, clock or rendering.

Recipients never include the person who acted, nor anyone twice for one event, nor a person who
``mute``s the event. ``role`` means the members of the roles that can take the transitions leaving
the ticket's state (the customer role aside). The sweep's events (``sla_at_risk``, ``stuck``) are
recorded in the ticket's ``timers_fired`` under ``notify_...`` names, so that each fires once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from erflow.core import conditions
from erflow.core.businesstime import Calendar, Clock
from erflow.core.record import Record
from erflow.core.timers import fired, instant, sla_clocks, target_for
from erflow.core.workflow import CUSTOMER, NotifyRule, Person, TicketType, Workflow


class Notice(Record):
    """One rule fired: its template, to these people."""

    event: str
    rule: NotifyRule
    to: tuple[Person, ...]


class SweepEvent(Record):
    """An event the sweep found due by time: ``key`` (name@anchor) goes to timers_fired once sent."""

    event: str
    key: str
    due: dt.datetime
    rule: NotifyRule
    what: str


def inside_hours(calendar: Calendar, at: dt.datetime) -> bool:
    """Whether ``at`` falls in the calendar's business hours (a working day, between its hours)."""
    local = at.astimezone(calendar.tz)
    if not calendar.working(local.date()):
        return False
    return calendar.start <= local.time().replace(tzinfo=None) < calendar.end


def on_call(workflow: Workflow, at: dt.datetime) -> Person | None:
    """The rota's person at ``at``: the on-call role's members in ``people:`` order, one per ISO week
    (week 1 the first, week 2 the second, and round again)."""
    role = workflow.notifications.on_call
    members = workflow.people_with_role(role) if role else []
    if not members:
        return None
    week = at.astimezone(workflow.calendar.tz).isocalendar()[1]
    return members[(week - 1) % len(members)]


def next_roles(ticket_type: TicketType, state: str) -> list[str]:
    """The roles that can take a transition leaving ``state`` (the customer's aside)."""
    found = [r for t in ticket_type.transitions_from(state) for r in t.roles if r != CUSTOMER]
    return list(dict.fromkeys(found))


def _applies(
    workflow: Workflow,
    ticket_type: TicketType,
    rule: NotifyRule,
    meta: Mapping[str, Any],
    at: dt.datetime,
    timer: str | None,
) -> bool:
    if rule.types and ticket_type.name not in rule.types:
        return False
    if rule.states and str(meta.get("state")) not in rule.states:
        return False
    if rule.timers and timer not in rule.timers:
        return False
    if rule.when is not None and not conditions.holds(rule.when, meta, workflow.policies):
        return False
    if rule.hours is not None and (rule.hours == "inside") != inside_hours(workflow.calendar, at):
        return False
    return True


def recipients(
    workflow: Workflow, ticket_type: TicketType, rule: NotifyRule, meta: Mapping[str, Any], at: dt.datetime
) -> list[Person]:
    """The people a rule names for this ticket, in order, each once (before the actor and mutes)."""
    found: list[Person] = []
    for item in rule.to:
        if item.kind == "owner":
            owner = str(meta.get("owner") or "").lower()
            person = workflow.people.get(owner)
            found += [person] if person else workflow.people_with_role(owner)
        elif item.kind == "role":
            for role in next_roles(ticket_type, str(meta.get("state"))):
                found += workflow.people_with_role(role)
        elif item.kind == "members":
            found += workflow.people_with_role(item.name)
        elif item.kind == "person":
            person = workflow.people.get(item.name)
            found += [person] if person else []
        elif item.kind == "on_call":
            person = on_call(workflow, at)
            found += [person] if person else []
    return list({p.email: p for p in found}.values())


def fire(
    workflow: Workflow,
    ticket_type: TicketType,
    event: str,
    meta: Mapping[str, Any],
    actor: str,
    at: dt.datetime,
    *,
    timer: str | None = None,
    rules: tuple[NotifyRule, ...] | None = None,
) -> list[Notice]:
    """The notices an event on a ticket sends: each rule of the event whose filters hold (or just
    ``rules``), to its recipients less the actor, those who mute the event, and anyone an earlier
    rule of the same event already reaches."""
    chosen = rules if rules is not None else workflow.notifications.rules
    told = {actor.strip().lower()}
    notices = []
    for rule in chosen:
        if rule.event != event or not _applies(workflow, ticket_type, rule, meta, at, timer):
            continue
        people = [
            p
            for p in recipients(workflow, ticket_type, rule, meta, at)
            if p.email not in told and event not in p.mute
        ]
        told |= {p.email for p in people}
        if people:
            notices.append(Notice(event, rule, tuple(people)))
    return notices


def sweep_events(
    workflow: Workflow, ticket_type: TicketType, meta: Mapping[str, Any], now: dt.datetime
) -> list[SweepEvent]:
    """The ``sla_at_risk`` and ``stuck`` rules due for this ticket at ``now`` and not yet sent."""
    state = ticket_type.states.get(str(meta.get("state")))
    if state is None or state.terminal:
        return []
    done = fired(meta)
    found = []
    for index, rule in enumerate(workflow.notifications.rules):
        if not _applies(workflow, ticket_type, rule, meta, now, None):
            continue
        if rule.event == "stuck" and rule.after is not None:
            entered = instant(meta.get("state_entered") or meta.get("created"), workflow.calendar)
            if entered is None:
                continue
            due = Clock(workflow.calendar, rule.business).add(entered, rule.after)
            name = f"notify_stuck_{index}"
            if due <= now and done.get(name) != entered.isoformat():
                what = f"in {state.label} since {shown(entered, workflow.calendar)} (more than {rule.after})"
                found.append(SweepEvent("stuck", f"{name}@{entered.isoformat()}", due, rule, what))
        elif rule.event == "sla_at_risk":
            found += _at_risk(workflow, ticket_type, meta, now, index, rule, done)
    return sorted(found, key=lambda e: e.due)


def _at_risk(
    workflow: Workflow,
    ticket_type: TicketType,
    meta: Mapping[str, Any],
    now: dt.datetime,
    index: int,
    rule: NotifyRule,
    done: Mapping[str, str],
) -> list[SweepEvent]:
    sla = ticket_type.sla
    created = instant(meta.get("created"), workflow.calendar)
    target = target_for(workflow, sla, meta) if sla is not None else None
    if sla is None or created is None or target is None:
        return []
    business = sla.business if target.business is None else target.business
    clock = Clock(workflow.calendar, business)
    found = []
    for item in sla_clocks(workflow, ticket_type, meta, now):
        if item.stopped is not None or item.status in ("breached", "paused"):
            continue
        budget = clock.elapsed(created, clock.add(created, item.target))
        name = f"notify_sla_at_risk_{item.kind}_{index}"
        if item.elapsed >= budget * rule.share and done.get(name) != created.isoformat():
            what = f"SLA {item.kind} at risk: due {shown(item.due, workflow.calendar)}"
            found.append(SweepEvent("sla_at_risk", f"{name}@{created.isoformat()}", now, rule, what))
    return found


def shown(at: dt.datetime, calendar: Calendar) -> str:
    """An instant in the calendar's time zone, with its offset: 2026-11-02 21:00 +00:00."""
    local = at.astimezone(calendar.tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
