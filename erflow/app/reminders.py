"""My Reminders: one list of what waits on a person, most urgent first.

Four kinds of row: ``owned`` (an open ticket they own, with its SLA time left), ``your role`` (a
ticket they do not own whose next step only their role can take), ``timer`` (a timer due now or
within 24 hours on a ticket they own, or that one of their roles owns) and ``reply`` (a customer
email on a ticket they own that came in after their last note, change or reply there). The index
finds the candidates; only the tickets they own are read whole (their Communications log).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context, require_actor
from erflow.core.errors import NotFound
from erflow.core.names import ME, hint

if TYPE_CHECKING:
    from pathlib import Path

    from erflow.core.model import Ticket
    from erflow.core.workflow import TicketType, Transition, Workflow

NO_DEADLINE = 525_600  # a year of minutes: the urgency of a row that has no clock running
TIMER_HORIZON = dt.timedelta(hours=24)
KINDS = ("owned", "your role", "timer", "reply")
ANSWER = "answer the customer"

_ENTRY = re.compile(r"^- \*\*(?P<at>[^*]+)\*\* (?P<head>.*)$")
_RECEIVED = re.compile(r"^email from (?P<sender>\S+): “(?P<subject>.*)” \(received, <[^<>\s]+>\)$")


class Reminder:
    """One row: the ticket, what kind of reminder, why (one line), how urgent (minutes left,
    negative when overdue; ``NO_DEADLINE`` when nothing runs), and the next action (a transition
    name, ``answer the customer``, or None)."""

    __slots__ = ("id", "kind", "next", "since", "title", "urgency", "why")

    def __init__(
        self,
        ticket_id: str,
        title: str,
        kind: str,
        why: str,
        urgency: int,
        next_action: str | None,
        since: str = "",
    ) -> None:
        self.id = ticket_id
        self.title = title
        self.kind = kind
        self.why = why
        self.urgency = urgency
        self.next = next_action
        self.since = since  # the instant the row counts from (UTC ISO), oldest first among equals

    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.urgency, KINDS.index(self.kind), self.since, self.id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "why": self.why,
            "urgency": self.urgency,
            "next": self.next,
        }


class Reminders:
    """A person's reminders, most urgent first, and the ticket files that could not be read."""

    __slots__ = ("person", "problems", "rows")

    def __init__(self, person: str, rows: list[Reminder], problems: list[str]) -> None:
        self.person = person
        self.rows = rows
        self.problems = problems


def person_of(ctx: Context, person: str | None) -> str:
    """The person asked for (else the actor), lower-cased; NotFound with a did-you-mean when they
    are not under ``people``."""
    email = (person or require_actor(ctx)).strip().lower()
    if email == ME:
        email = require_actor(ctx).strip().lower()
    people = ctx.workflow.people
    if email not in people:
        raise NotFound(f"no person {email} under people", hint=hint(email, people))
    return email


def reminders(ctx: Context, person: str | None = None) -> Reminders:
    """What waits on ``person`` (default: the actor), most urgent first."""
    email = person_of(ctx, person)
    return everyones(ctx, [email])[email]


def everyones(ctx: Context, people: Sequence[str]) -> dict[str, Reminders]:
    """What waits on each of ``people`` (addresses under ``people:``, lower-cased), from one pass
    over the index."""
    workflow = ctx.workflow
    roles = {email: set(workflow.people[email].roles) for email in people}
    open_states: set[str] = set()
    role_steps: dict[str, dict[tuple[str, str], list[Transition]]] = {email: {} for email in people}
    for ticket_type in workflow.types.values():
        for state in ticket_type.states.values():
            if state.terminal:
                continue
            open_states.add(state.name)
            for email in people:
                steps = [t for t in ticket_type.transitions_from(state.name) if roles[email] & set(t.roles)]
                if steps:
                    role_steps[email][(ticket_type.name, state.name)] = steps
    rows: dict[str, list[Reminder]] = {email: [] for email in people}
    problems: list[str] = []
    for item in ctx.store.indexed((), sorted(open_states)):
        head = item.head
        if item.problem is not None or head is None:
            problems.append(item.problem or str(item.path))
            continue
        found_type = workflow.types.get(str(head["type"]))
        at = found_type.states.get(str(head["state"])) if found_type else None
        if found_type is None or at is None or at.terminal:
            continue
        owner = str(head.get("owner") or "").lower()
        meta = item.meta or {}
        for email in people:
            if owner == email:
                rows[email] += _owned(ctx, email, found_type, meta, item.path)
            elif (found_type.name, at.name) in role_steps[email]:
                steps = role_steps[email][(found_type.name, at.name)]
                waiting = [t for t in steps if not _can_take(workflow, owner, t)]
                if waiting:
                    rows[email].append(_your_role(ctx, roles[email], found_type, meta, waiting))
            if owner in roles[email]:
                rows[email] += _timer_rows(ctx, found_type, meta)
    for found in rows.values():
        found.sort(key=Reminder.sort_key)
    return {email: Reminders(email, rows[email], problems) for email in people}


def _can_take(workflow: Workflow, owner: str, transition: Transition) -> bool:
    """Whether the ticket's owner, a person, could take the step themselves (then it waits on them)."""
    person = workflow.people.get(owner)
    return person is not None and bool(set(person.roles) & set(transition.roles))


def _owned(
    ctx: Context, email: str, ticket_type: TicketType, meta: Mapping[str, Any], path: Path
) -> list[Reminder]:
    """The rows of a ticket the person owns, from its front-matter; the file is read whole only when
    the customer has written (``last_received``), for the reply row."""
    from erflow.core import engine

    ticket_id, title = str(meta.get("id")), str(meta.get("title") or "")
    state = ticket_type.states[str(meta.get("state"))]
    options = [o for o in engine.options(ctx.workflow, ticket_type, meta, email) if o.permitted]
    next_step = next((o for o in options if o.allowed), options[0] if options else None)
    since = _utc(meta.get("state_entered") or meta.get("created"))
    urgency, clock = _sla_left(ctx, ticket_type, meta)
    why = f"you own it, in {state.label}"
    why += f"; {clock}" if clock else f" since {since[:10]}" if since else ""
    rows = [
        Reminder(
            ticket_id, title, "owned", why, urgency, next_step.transition.name if next_step else None, since
        ),
        *_timer_rows(ctx, ticket_type, meta),
    ]
    if not meta.get("last_received"):
        return rows
    from erflow.app.reading import read_ticket

    reply = _unread_reply(read_ticket(ctx, path, from_index=True).ticket, email)
    if reply is not None:
        at, sender, subject = reply
        rows.append(
            Reminder(ticket_id, title, "reply", f"{sender} wrote “{subject}” at {at}", urgency, ANSWER, at)
        )
    return rows


def _timer_rows(ctx: Context, ticket_type: TicketType, meta: Mapping[str, Any]) -> list[Reminder]:
    """A row per timer of the ticket due now or within ``TIMER_HORIZON`` (SLA clocks aside)."""
    from erflow.core import timers

    rows = []
    ticket_id, title = str(meta.get("id")), str(meta.get("title") or "")
    for due in timers.due(ctx.workflow, ticket_type, meta, ctx.now + TIMER_HORIZON):
        if due.name.startswith("sla_"):
            continue  # the SLA is the owned row's clock
        left = _minutes(due.due - ctx.now)
        when = f"due {_span(-left)} ago" if left < 0 else f"due in {_span(left)}"
        action = due.actions.describe() or "nothing"
        why = f"timer {due.name} {when} ({action}; erflow sweep runs it)"
        rows.append(Reminder(ticket_id, title, "timer", why, left, due.actions.transition, _utc(due.due)))
    return rows


def _your_role(
    ctx: Context,
    roles: set[str],
    ticket_type: TicketType,
    meta: Mapping[str, Any],
    steps: Sequence[Transition],
) -> Reminder:
    state = ticket_type.states[str(meta.get("state"))]
    needed = sorted({r for t in steps for r in t.roles} & roles)
    names = ", ".join(t.name for t in steps)
    owner = meta.get("owner") or "nobody"
    why = f"in {state.label} (owner {owner}): {names} needs {' or '.join(needed)}"
    urgency, clock = _sla_left(ctx, ticket_type, meta)
    if clock:
        why += f"; {clock}"
    since = _utc(meta.get("state_entered") or meta.get("created"))
    return Reminder(
        str(meta.get("id")), str(meta.get("title") or ""), "your role", why, urgency, steps[0].name, since
    )


def _sla_left(ctx: Context, ticket_type: TicketType, meta: Mapping[str, Any]) -> tuple[int, str]:
    """Minutes to the nearest running SLA clock's due time (negative when breached), with a few words
    on it; ``NO_DEADLINE`` and no words when no clock runs. Clocks as ``erflow report sla`` has them."""
    if ticket_type.sla is None:
        return NO_DEADLINE, ""
    from erflow.core.timers import sla_clocks

    running = [
        c
        for c in sla_clocks(ctx.workflow, ticket_type, meta, ctx.now)
        if c.stopped is None and c.status != "paused"
    ]
    if not running:
        return NO_DEADLINE, ""
    clock = min(running, key=lambda c: c.due)
    left = _minutes(clock.due - ctx.now)
    if left < 0:
        return left, f"SLA {clock.kind} breached {_span(-left)} ago"
    return left, f"SLA {clock.kind} due in {_span(left)}"


def _unread_reply(ticket: Ticket, email: str) -> tuple[str, str, str] | None:
    """The latest customer email (received, not unverified) newer than the person's last entry in
    Notes or Communications (``<email>: ...``): its time (UTC ISO), sender and subject; else None."""
    from erflow.core.conversation import SECTION

    last_own = ""
    latest: tuple[str, str, str] | None = None
    for section in ("Notes", SECTION):
        for entry in ticket.sections.get(section, []):
            found = _ENTRY.match(entry.split("\n", 1)[0])
            if found is None:
                continue
            at, head = _utc(found["at"]), found["head"]
            if head.lower().startswith(f"{email}: "):
                last_own = max(last_own, at)
            elif section == SECTION and (received := _RECEIVED.match(head)) is not None:
                if latest is None or at >= latest[0]:
                    latest = (at, received["sender"], received["subject"])
    if latest is None or latest[0] <= last_own:  # UTC ISO text sorts as time; '' before every instant
        return None
    return latest


def _minutes(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _span(minutes: int) -> str:
    """Minutes as ``2d 3h``, ``3h 20m`` or ``45m``."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def _utc(value: Any) -> str:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()
