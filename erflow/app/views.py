"""Use cases that read: a ticket and what can happen next, the list, SLA flags, owners' workload.

On the path of `show` and `list`: the engine and the timers are imported by the use case that needs
them, and the results are plain classes (each dataclass costs start-up time to create).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context
from erflow.app.reading import TicketFile, read_ticket
from erflow.core.errors import UsageError

if TYPE_CHECKING:
    from erflow.core import engine
    from erflow.core.model import Ticket
    from erflow.core.timers import SlaClock
    from erflow.core.workflow import TicketType
    from erflow.store.ticketfile import Indexed


class TicketView:
    """A ticket, what can happen next and its SLA clocks; ``file`` is the one read of its file,
    which an advance chosen from this view reuses while the file is unchanged."""

    __slots__ = ("file", "options", "sla")

    def __init__(
        self, file: TicketFile, options: list[engine.Evaluation], sla: list[SlaClock] | None = None
    ) -> None:
        self.file = file
        self.options = options
        self.sla = [] if sla is None else sla

    @property
    def ticket(self) -> Ticket:
        return self.file.ticket

    @property
    def type(self) -> TicketType:
        return self.file.type

    def as_json(self) -> dict[str, Any]:
        data = dict(self.ticket.meta)
        data["body"] = self.ticket.body()
        data["next"] = [o.as_json() for o in self.options]
        return data


def show(ctx: Context, raw_id: str) -> TicketView:
    file = read_ticket(ctx, ctx.store.find(raw_id), from_index=True)
    from erflow.core import engine
    from erflow.core.timers import sla_clocks

    meta = file.ticket.meta
    options = engine.options(ctx.workflow, file.type, meta, ctx.actor)
    return TicketView(file, options, sla_clocks(ctx.workflow, file.type, meta, ctx.now))


def transitions(ctx: Context, raw_id: str) -> list[engine.Evaluation]:
    file = read_ticket(ctx, ctx.store.find(raw_id), from_index=True)
    from erflow.core import engine

    return engine.options(ctx.workflow, file.type, file.ticket.meta, ctx.actor)


class Filters:
    """What ``list`` keeps: types, states, owner, label and K=V pairs, all of which must match."""

    __slots__ = ("label", "owner", "states", "types", "where")

    def __init__(
        self,
        types: Sequence[str] = (),
        states: Sequence[str] = (),
        owner: str | None = None,
        label: str | None = None,
        where: Mapping[str, str] | None = None,
    ) -> None:
        self.types = types
        self.states = states
        self.owner = owner
        self.label = label
        self.where: Mapping[str, str] = {} if where is None else where

    def match(self, meta: Mapping[str, Any]) -> bool:
        if self.types and meta.get("type") not in self.types:
            return False
        if self.states and meta.get("state") not in self.states:
            return False
        if self.owner is not None and str(meta.get("owner") or "").lower() != self.owner.lower():
            return False
        if self.label is not None and self.label not in (meta.get("labels") or []):
            return False
        for key, expected in self.where.items():
            actual = meta.get(key)
            if isinstance(actual, list):
                if expected not in [str(a) for a in actual]:
                    return False
            elif _text(actual) != expected:
                return False
        return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Listing:
    """The matching tickets, oldest first, each with its JSON text (``raw``); and the files that
    could not be read, each named with its problem."""

    __slots__ = ("items", "problems")

    def __init__(self, items: list[Indexed], problems: list[str]) -> None:
        self.items = items
        self.problems = problems

    @property
    def tickets(self) -> list[dict[str, Any]]:
        """The matching tickets' front-matter."""
        return [meta for meta in (item.meta for item in self.items) if meta is not None]


def checked(ctx: Context, filters: Filters) -> Filters:
    """The filters with every name checked against the workflow's (types, states, fields, people;
    a close name offered for a miss) and ``me`` read as the actor."""
    from erflow.core import names

    wf = ctx.workflow
    types = [wf.type(name) for name in filters.types] or list(wf.types.values())
    for name in filters.states:
        names.state(types, name)
    owner = None if filters.owner is None else _owner(ctx, filters.owner)
    where = dict(filters.where)
    for key, value in where.items():
        names.field(types, key)
        if key == "owner" and value:
            where[key] = _owner(ctx, value)
        elif key == "state" and value:
            names.state(types, value, "--where state")
        elif key == "type" and value:
            wf.type(value)
        else:
            declared = [f for f in (t.field(key) for t in types) if f is not None and f.type == "enum"]
            if value and declared and all(value not in f.values for f in declared):
                known = [v for f in declared for v in f.values]
                raise UsageError(
                    f"--where {key}={value}: not one of {', '.join(dict.fromkeys(known))}",
                    hint=names.hint(value, known),
                )
    return Filters(filters.types, filters.states, owner, filters.label, where)


def _owner(ctx: Context, who: str) -> str:
    """The owner a filter names: ``me`` is the actor; anyone else as given (a ticket may carry an
    owner no longer under people: list_tickets refuses the name only when no ticket has it)."""
    from erflow.core.names import ME

    return ctx.actor.strip().lower() if who.strip().lower() == ME and ctx.actor else who


def _unknown_owner(ctx: Context, filters: Filters) -> None:
    """No ticket matched: an owner named in the filters who is neither a person nor a role is refused,
    with the closest name."""
    from erflow.core.names import person

    for what, who in (("--owner", filters.owner), ("--where owner", filters.where.get("owner"))):
        if who:
            person(ctx.workflow, ctx.actor, who, what=what)


def list_tickets(ctx: Context, filters: Filters) -> Listing:
    """Every ticket matching the filters, oldest first; a bad file is named, never hides others.

    Type and state are filtered by the index; the other filters need the front-matter decoded."""
    if filters.types or filters.states or filters.owner is not None or filters.where:
        filters = checked(ctx, filters)
    decode = filters.owner is not None or filters.label is not None or bool(filters.where)
    found: list[Indexed] = []
    problems: list[str] = []
    for item in ctx.store.indexed(filters.types, filters.states):
        if item.problem is not None:
            problems.append(item.problem)
        elif not decode or filters.match(item.meta or {}):
            found.append(item)
    if not found and (filters.owner or filters.where.get("owner")):
        _unknown_owner(ctx, filters)
    return Listing(found, problems)


def list_json(ctx: Context, filters: Filters) -> tuple[list[str], Iterator[bytes]] | None:
    """``list --json``'s problems and documents (see Store.indexed_json), the same bytes as
    ``list_tickets`` gives, straight from the index's JSON texts; None when a filter needs the
    front-matter decoded (owner, label, where): then use ``list_tickets``."""
    if filters.owner is not None or filters.label is not None or filters.where:
        return None
    if filters.types or filters.states:
        filters = checked(ctx, filters)
    return ctx.store.indexed_json(filters.types, filters.states)


def sla_flags(ctx: Context, tickets: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Ticket id -> the worst status of its SLA clocks, for the tickets that have one (the table's
    SLA column)."""
    from erflow.core.timers import sla_clocks, worst

    flags: dict[str, str] = {}
    for meta in tickets:
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        if ticket_type is not None and ticket_type.sla is not None:
            status = worst(sla_clocks(ctx.workflow, ticket_type, meta, ctx.now))
            if status:
                flags[str(meta.get("id"))] = status
    return flags


def workload(ctx: Context) -> engine.Workload:
    """Open tickets per owner, and when each owner was last given a ticket (for assignment rules)."""
    from erflow.core import engine

    counts: dict[str, int] = {}
    latest: dict[str, str] = {}
    for item in ctx.store.indexed():
        meta = item.meta
        if meta is None:
            continue
        owner = meta.get("owner")
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        state = ticket_type.states.get(str(meta.get("state"))) if ticket_type else None
        if not isinstance(owner, str) or state is None:
            continue
        if not state.terminal:
            counts[owner] = counts.get(owner, 0) + 1
        entered = _utc(meta.get("state_entered") or meta.get("created"))
        latest[owner] = max(latest.get(owner, ""), entered)
    return engine.Workload(counts, latest)


def _utc(value: Any) -> str:
    try:
        return dt.datetime.fromisoformat(str(value)).astimezone(dt.timezone.utc).isoformat()
    except ValueError:
        return ""
