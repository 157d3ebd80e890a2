"""One erflow change judged under the workflow.yaml in force at its commit: a new ticket, a
transition (by a person or a timer's sweep), a ``set`` or one of the edits (note, log-time, email,
assign, link), and what it did to the other tickets the commit names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from erflow.core import engine, model, timers
from erflow.core.errors import ErflowError
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType, Workflow
from erflow.store.commits import CommitRecord

# Kept by erflow's clock, not by the transition: never compared against a replayed plan.
CLOCK_FIELDS = frozenset(
    {
        "updated",
        "state_entered",
        "responded",
        "resolved",
        "sla_paused_minutes",
        "timers_fired",
        "last_emailed",
        "last_received",
    }
)
# What each edit outside transitions may change in the front-matter (besides ``updated``).
EDIT_FIELDS: Mapping[str, frozenset[str]] = {
    "note": frozenset(),
    "log-time": frozenset(),
    "email": frozenset({"last_emailed"}),
    "reply": frozenset({"last_emailed"}),
    "mail": frozenset({"last_emailed", "last_received"}),
    "assign": frozenset({"owner"}),
    "link": frozenset({"links"}),
    "notify": frozenset({"timers_fired"}),  # a staff notification the sweep sent (app/notify.py)
}
PERMISSION = {"set": "set", "note": "note", "log-time": "log_time", "assign": "assign", "link": "link"}


@dataclass
class Side:
    """One ticket file in one commit: before and after, parsed."""

    path: str
    ticket_id: str
    old: Ticket | None
    new: Ticket | None


def _body(message: str) -> str:
    """The commit message's text between the subject and the trailers: the note given."""
    lines = message.strip("\n").split("\n")[1:]
    kept = [line for line in lines if not line.startswith("Erflow-")]
    return "\n".join(kept).strip()


@dataclass
class Judge:
    """One erflow commit's changes judged under the workflow in force."""

    workflow: Workflow
    record: CommitRecord
    trailers: Mapping[str, list[str]]
    actor: str
    sides: dict[str, Side]
    expect_created: list[str] = field(default_factory=list)  # types of the tickets a plan creates

    def run(self, action: str, primary: str) -> list[tuple[str, str]]:
        side = self.sides[primary]
        assert side.new is not None
        ticket_type = self.workflow.types.get(side.new.type)
        if ticket_type is None:
            return [(primary, f"type {side.new.type!r} is not in the workflow.yaml in force")]
        if action == "new":
            return self._new(side, ticket_type)
        if side.old is None:
            return [(primary, f"{action} created {side.path}; only new and transitions create tickets")]
        problems = kept_history(side.old, side.new)
        if action == "advance":
            problems += self._advance(side, ticket_type, system=False)
        elif action == "sweep":
            problems += self._sweep(side, ticket_type)
        elif action == "set":
            problems += self._set(side, ticket_type)
        elif action in EDIT_FIELDS:
            problems += self._edit(action, side)
        else:
            problems.append(f"unknown erflow action {action!r}")
        return [(primary, p) for p in problems] + self._others(action, primary)

    # -- each action

    def _permitted(self, action: str, ticket: Mapping[str, Any] | None = None) -> list[str]:
        permission = PERMISSION.get(action, action)
        if self.workflow.may(self.actor, permission, ticket):
            return []
        return [f"{self.actor} may not {permission} (permissions.{permission})"]

    def _new(self, side: Side, ticket_type: TicketType) -> list[tuple[str, str]]:
        assert side.new is not None
        problems = self._permitted("new", side.new.meta)
        if side.old is not None:
            problems.append("new rewrote an existing ticket file")
        problems += self._fresh(side.new, ticket_type)
        return [(side.ticket_id, p) for p in problems] + self._others("new", side.ticket_id)

    def _fresh(self, ticket: Ticket, ticket_type: TicketType) -> list[str]:
        problems = []
        if not ticket.id.startswith(ticket_type.prefix + "-"):
            problems.append(
                f"id {ticket.id} lacks the prefix {ticket_type.prefix}- of type {ticket_type.name}"
            )
        if ticket.state != ticket_type.initial:
            problems.append(f"created in {ticket.state!r}, not in the initial state {ticket_type.initial!r}")
        return problems

    def _advance(
        self, side: Side, ticket_type: TicketType, *, system: bool, note: str | None = None
    ) -> list[str]:
        assert side.old is not None and side.new is not None
        transition = self.trailers.get("transition", [""])[0]
        claimed_from = self.trailers.get("from", [None])[0]
        claimed_to = self.trailers.get("to", [None])[0]
        if not transition:
            return ["an advance that names no transition"]
        problems = []
        if claimed_from != side.old.state:
            problems.append(
                f"{transition} claims to leave {claimed_from} but the ticket was in {side.old.state}"
            )
        if claimed_to != side.new.state:
            problems.append(
                f"{transition} claims to reach {claimed_to} but the ticket is in {side.new.state}"
            )
        sets = _sets_of(ticket_type, side.old.meta, side.new.meta, transition)
        dynamic: list[bool] = []

        def workload() -> engine.Workload:
            dynamic.append(True)
            return engine.Workload()

        try:
            plan = engine.plan(
                self.workflow, ticket_type, side.old.meta, transition, self.actor, sets,
                _body(self.record.message) if note is None else note, workload=workload, system=system,
            )  # fmt: skip
        except ErflowError as exc:
            return [*problems, f"illegal {transition}: {exc.message}"]
        if plan.to_state != side.new.state:
            problems.append(
                f"illegal jump: {transition} leads to {plan.to_state}, the ticket went to {side.new.state}"
            )
        skip = CLOCK_FIELDS | {"links"} | ({"owner"} if dynamic else set())
        for key in dict.fromkeys([*plan.values, *side.new.meta]) if not system else ():
            if key in skip:
                continue
            if plan.values.get(key) != side.new.meta.get(key):
                problems.append(
                    f"{transition} set {key}={model.brief(side.new.meta.get(key))!s}, "
                    f"the transition gives {model.brief(plan.values.get(key))!s}"
                )
        self.expect_created = [spec.type for spec in plan.linked]
        return problems

    def _sweep(self, side: Side, ticket_type: TicketType) -> list[str]:
        assert side.old is not None and side.new is not None
        name = self.trailers.get("timer", [""])[0]
        before = set(map(str, side.old.meta.get(timers.FIRED) or []))
        keys = [str(k) for k in side.new.meta.get(timers.FIRED) or [] if str(k) not in before]
        if len(keys) != 1 or keys[0].partition("@")[0] != name:
            return [f"sweep of timer {name!r} does not record it in {timers.FIRED}"]
        when = dt.datetime.fromisoformat(self.record.date)
        due = [d for d in timers.due(self.workflow, ticket_type, side.old.meta, when) if d.key == keys[0]]
        if not due:
            return [f"timer {keys[0]} was not due at {self.record.date}"]
        if due[0].actions.transition is None:
            if side.new.state != side.old.state:
                return [f"timer {name} has no transition but moved the ticket to {side.new.state}"]
            return []
        return self._advance(side, ticket_type, system=True, note=f"timer {name}")

    def _set(self, side: Side, ticket_type: TicketType) -> list[str]:
        assert side.old is not None and side.new is not None
        problems = self._permitted("set")
        for key, (_, value) in engine.diff(side.old.meta, side.new.meta).items():
            try:
                declared = engine.check_settable(ticket_type, key)
            except ErflowError as exc:
                problems.append(f"set {key}: {exc.message}")
                continue
            problem = declared.problem(value) if value is not None else None
            if problem:
                problems.append(f"set {key}: {problem}")
        return problems

    def _edit(self, action: str, side: Side) -> list[str]:
        assert side.old is not None and side.new is not None
        problems = [] if action in ("email", "reply", "mail", "notify") else self._permitted(action)
        allowed = EDIT_FIELDS[action]
        for key in engine.diff(side.old.meta, side.new.meta):
            if key not in allowed:
                problems.append(
                    f"{action} changed {key}, which only {'a transition' if key == 'state' else 'set'} may"
                )
        return problems

    def _following(self, action: str, primary: str, side: Side) -> list[str] | None:
        """None when the ticket does not follow ``primary`` (its type's ``follows:``) in this action
        (a move or a note); else what is wrong with the way it followed: it may take only the state
        its follows: maps from primary's new state, and notes."""
        assert side.old is not None and side.new is not None
        ticket_type = self.workflow.types.get(side.new.type)
        spec = ticket_type.follows if ticket_type is not None else None
        leader = self.sides[primary].new
        if (
            spec is None
            or leader is None
            or action not in ("advance", "sweep", "note")
            or f"{spec.link} {primary}" not in (side.old.meta.get("links") or [])
        ):
            return None
        changes = engine.diff(side.old.meta, side.new.meta)
        problems = [
            f"{action} of {primary} also changed {k} of {side.ticket_id}"
            for k in changes
            if k not in FOLLOW_FIELDS
        ]
        if "state" in changes and (action == "note" or spec.states.get(leader.state) != side.new.state):
            problems.append(
                f"{side.ticket_id} went to {side.new.state}, but follows {primary} ({leader.state}) "
                f"to {spec.states.get(leader.state) or 'no state'}"
            )
        return problems

    def _others(self, action: str, primary: str) -> list[tuple[str, str]]:
        """The other tickets a commit names: tickets a transition created, or a link's other end."""
        created = set(self.trailers.get("created", []))
        expected = list(self.expect_created)
        found = []
        for ticket_id, side in self.sides.items():
            if ticket_id == primary:
                continue
            assert side.new is not None
            if side.old is None:
                ticket_type = self.workflow.types.get(side.new.type)
                if ticket_id not in created or ticket_type is None or ticket_type.name not in expected:
                    found.append(
                        (ticket_id, f"{action} of {primary} created {ticket_id}, which no transition makes")
                    )
                    continue
                expected.remove(ticket_type.name)
                found += [(ticket_id, p) for p in self._fresh(side.new, ticket_type)]
                continue
            following = self._following(action, primary, side)
            if following is not None:
                found += [(ticket_id, p) for p in [*following, *kept_history(side.old, side.new)]]
                continue
            extra = [k for k in engine.diff(side.old.meta, side.new.meta) if k != "links"]
            if extra or action not in ("link", "advance", "sweep"):
                what = ", ".join(extra) or "it"
                found.append((ticket_id, f"{action} of {primary} also changed {what} of {ticket_id}"))
            found += [(ticket_id, p) for p in kept_history(side.old, side.new)]
        return found


FOLLOW_FIELDS = frozenset({"state", "state_entered", "resolved"})


def _sets_of(
    ticket_type: TicketType, old: Mapping[str, Any], new: Mapping[str, Any], transition: str
) -> dict[str, Any]:
    """The ``--set`` values a transition must have been given to turn ``old`` into ``new``."""
    chosen = next((t for t in ticket_type.transitions if t.name == transition), None)
    given = set(chosen.sets) if chosen else set()
    fresh = (engine.fresh_fields(chosen) if chosen else set()) - given
    sets: dict[str, Any] = {}
    for key in dict.fromkeys([*new, *old]):
        if not (old.get(key) != new.get(key) or (key in fresh and key in new)):
            continue  # (asked first: most fields do not change, and the field's lookup costs more)
        declared = ticket_type.field(key)
        if declared is None or declared.system or key in given:
            continue
        sets[key] = new.get(key)
    return sets


def kept_history(old: Ticket, new: Ticket) -> list[str]:
    """The request text stays; Notes, Time and Communications only grow."""
    problems = []
    if old.description.strip() != new.description.strip():
        problems.append("rewrote the request text")
    for name in model.SECTIONS:
        before, after = old.sections.get(name, []), new.sections.get(name, [])
        if after[: len(before)] != before:
            problems.append(f"rewrote its {name} (entries may only be added)")
    return problems
