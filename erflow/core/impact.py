"""What a new workflow does to the tickets of the old one, pure: no files, git or clock.

``Comparison`` is built once from the old and the new workflow (and the templates whose text
changes); what depends only on a ticket's type and state (stranded, the emails it can still
receive, whether gates or timers changed at all) is worked out once per type and state, so that
judging each of many tickets is mostly a dictionary look-up. Front-matter is asked for only when a
ticket's type has gates, timers or an SLA that changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from erflow.core import engine, timers
from erflow.core.record import Record
from erflow.core.workflow import ANYONE, CUSTOMER, TicketType, Transition, Workflow

STRANDED, GATE, SLA, TIMER, EMAIL, ROLE = "stranded", "gate", "sla", "timer", "email", "role"
KINDS = (STRANDED, GATE, SLA, TIMER, EMAIL, ROLE)
BREAKING = (STRANDED, GATE, SLA)  # the others are told, and break nothing


class Finding(Record):
    """One effect of the change: on a ticket (``ticket`` and ``state`` set) or on the whole
    workflow; ``line`` is the new workflow.yaml's line that causes it (0: not known)."""

    kind: str
    ticket: str | None
    state: str | None
    detail: str
    line: int = 0

    @property
    def breaking(self) -> bool:
        return self.kind in BREAKING

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ticket": self.ticket,
            "state": self.state,
            "detail": self.detail,
            "line": self.line or None,
        }


Meta = Callable[[], Mapping[str, Any] | None]


def dead_end(ticket_type: TicketType, state: str) -> bool:
    """A state a ticket cannot leave: not terminal, and no transition leaves it."""
    found = ticket_type.states.get(state)
    return found is not None and not found.terminal and not ticket_type.transitions_from(state)


def stranded_reason(new: Workflow, type_name: str, state: str) -> str | None:
    """Why a ticket of this type in this state is stuck under ``new``, or None."""
    ticket_type = new.types.get(type_name)
    if ticket_type is None:
        return f"the new workflow drops the type {type_name}"
    if state not in ticket_type.states:
        return f"the new workflow drops the state {state} of {type_name}"
    if dead_end(ticket_type, state):
        return (
            f"{type_name}.{state} has no way out in the new workflow (not terminal, no transition leaves it)"
        )
    return None


def _gate_of(transition: Transition) -> tuple[Any, ...]:
    return (transition.requires, transition.rules, transition.fresh)


class Comparison:
    """The old and new workflow side by side; ``ticket`` judges one ticket."""

    def __init__(
        self, old: Workflow, new: Workflow, now: dt.datetime, templates: Mapping[str, str] | None = None
    ) -> None:
        """``templates``: template name -> what changes in its text (e.g. "subject changed")."""
        self.old, self.new, self.now = old, new, now
        self.templates = dict(templates or {})
        changed = {k for k in {*old.policies, *new.policies} if old.policies.get(k) != new.policies.get(k)}
        self._policies = tuple(f"policy.{name}" for name in changed)
        self._same_calendar = old.calendar == new.calendar
        self._per_state: dict[tuple[str, str], _StateView] = {}

    def ticket(self, ticket_id: str, type_name: str, state: str, meta: Meta) -> list[Finding]:
        """Every finding for one ticket; ``meta`` gives its front-matter when it is needed."""
        view = self._view(type_name, state)
        found: list[Finding] = []
        if view.stranded is not None:
            found.append(Finding(STRANDED, ticket_id, state, view.stranded))
        if view.emails is not None:
            found.append(Finding(EMAIL, ticket_id, state, view.emails[0], view.emails[1]))
        if not view.gates and not view.clocks:
            return found
        values = meta()
        if values is None:
            return found
        if view.gates:
            found += self._gates(ticket_id, state, type_name, view, values)
        if view.clocks:
            found += self._timers(ticket_id, state, type_name, values)
        return found

    def workflow_findings(self) -> list[Finding]:
        """What concerns the workflow as a whole: roles nobody under people holds."""
        held = {role for person in self.new.people.values() for role in person.roles}
        used: dict[str, list[str]] = {role: [] for role in self.new.roles}
        for ticket_type in self.new.types.values():
            for transition in ticket_type.transitions:
                for role in transition.roles:
                    used.setdefault(role, []).append(f"{ticket_type.name}.{transition.name}")
        for action, roles in self.new.permissions.items():
            for role in roles:
                used.setdefault(role, []).append(f"permissions.{action}")
        found = []
        for role, users in sorted(used.items()):
            if role in held or role in (ANYONE, CUSTOMER):
                continue
            where = f" (needed by {', '.join(users[:3])}{', ...' if len(users) > 3 else ''})" if users else ""
            found.append(Finding(ROLE, None, None, f"nobody under people holds the role {role}{where}"))
        return found

    # -----------------------------------------------------------------------------------------

    def _view(self, type_name: str, state: str) -> _StateView:
        key = (type_name, state)
        view = self._per_state.get(key)
        if view is None:
            view = self._per_state[key] = self._make_view(type_name, state)
        return view

    def _make_view(self, type_name: str, state: str) -> _StateView:
        stranded = stranded_reason(self.new, type_name, state)
        old_type, new_type = self.old.types.get(type_name), self.new.types.get(type_name)
        if new_type is None or old_type is None or state not in new_type.states:
            return _StateView(stranded, None, [], False)
        gates = []
        for transition in old_type.transitions_from(state):
            successor = next((t for t in new_type.transitions_from(state) if t.name == transition.name), None)
            if successor is None:
                continue
            before, after = _gate_of(transition), _gate_of(successor)
            if before != after or self._reads_changed_policy(before, after):
                gates.append((transition, successor))
        clocks = (
            not self._same_calendar
            or (old_type.timers, old_type.sla, old_type.states)
            != (new_type.timers, new_type.sla, new_type.states)
            or self._reads_changed_policy(old_type.timers, old_type.sla, new_type.timers, new_type.sla)
        )
        return _StateView(stranded, self._emails(old_type, new_type, state), gates, clocks)

    def _reads_changed_policy(self, *parts: Any) -> bool:
        """Whether any of these rules reads a policy the change gives another value (by its text:
        a condition names a policy as ``policy.NAME``; a longer name sharing the start only makes
        it compare more)."""
        if not self._policies:
            return False
        text = repr(parts)
        return any(name in text for name in self._policies)

    def _emails(self, old_type: TicketType, new_type: TicketType, state: str) -> tuple[str, int] | None:
        """The emails a ticket in ``state`` can still receive (from the transitions reachable from
        it) whose template changes, or is another one; with the line of the first."""
        changes: list[str] = []
        line = 0
        for transition in _reachable(new_type, state):
            before = _counterpart(old_type, transition)
            names = [spec.template for spec in transition.emails]
            if before is not None and [spec.template for spec in before.emails] != names:
                was = ", ".join(spec.template for spec in before.emails) or "none"
                changes.append(f"{transition.name} sends {', '.join(names) or 'none'} (was {was})")
                line = line or (transition.emails[0].line if transition.emails else transition.line)
            for spec in transition.emails:
                what = self.templates.get(spec.template)
                if what is not None:
                    changes.append(f"{transition.name}: {spec.template} {what}")
                    line = line or spec.line
        if not changes:
            return None
        return "; ".join(dict.fromkeys(changes)), line

    def _gates(
        self, ticket_id: str, state: str, type_name: str, view: _StateView, values: Mapping[str, Any]
    ) -> list[Finding]:
        ticket_type_old, ticket_type_new = self.old.types[type_name], self.new.types[type_name]
        found = []
        for before, after in view.gates:
            was = engine.evaluate(self.old, ticket_type_old, values, before, "", system=True)
            if not was.allowed:
                continue
            now = engine.evaluate(self.new, ticket_type_new, values, after, "", system=True)
            if now.allowed:
                continue
            missing = f" (missing: {', '.join(now.missing)})" if now.missing else ""
            detail = f"{after.name} is refused now: {'; '.join(now.reasons)}{missing}"
            found.append(Finding(GATE, ticket_id, state, detail, after.line))
        return found

    def _timers(self, ticket_id: str, state: str, type_name: str, values: Mapping[str, Any]) -> list[Finding]:
        old_type, new_type = self.old.types[type_name], self.new.types[type_name]
        found = []
        before = {d.name for d in timers.due(self.old, old_type, values, self.now)}
        lines = {timer.name: timer.line for timer in new_type.timers}
        for due in timers.due(self.new, new_type, values, self.now):
            if due.name in before or due.name.startswith("sla_"):
                continue
            sent = [due.actions.email.template] if due.actions.email else []
            if due.actions.transition is not None:  # the emails its transition sends from this state
                sent += [
                    spec.template
                    for t in new_type.transitions
                    if t.name == due.actions.transition and state in t.sources
                    for spec in t.emails
                ]
            email = f"; sends {', '.join(sent)}" if sent else ""
            what = due.actions.describe() or "nothing"
            detail = f"{due.name} would fire at once (due {due.due.isoformat()}): {what}{email}"
            found.append(Finding(TIMER, ticket_id, state, detail, lines.get(due.name, 0)))
        if new_type.sla is None:
            return found
        was = {c.kind: c.status for c in timers.sla_clocks(self.old, old_type, values, self.now)}
        for clock in timers.sla_clocks(self.new, new_type, values, self.now):
            if clock.status == "breached" and was.get(clock.kind) != "breached":
                detail = (
                    f"the {clock.kind} SLA ({clock.target}) becomes breached: "
                    f"due {clock.due.isoformat()}, was {was.get(clock.kind, 'no target')}"
                )
                found.append(Finding(SLA, ticket_id, state, detail, new_type.sla.line))
        return found


class _StateView:
    """What a type and state alone decide: stranded or not, the emails that change, the
    transitions whose gates to compare, whether timers and SLA clocks are to be compared."""

    __slots__ = ("clocks", "emails", "gates", "stranded")

    def __init__(
        self,
        stranded: str | None,
        emails: tuple[str, int] | None,
        gates: list[tuple[Transition, Transition]],
        clocks: bool,
    ) -> None:
        self.stranded = stranded
        self.emails = emails
        self.gates = gates
        self.clocks = clocks


def _reachable(ticket_type: TicketType, state: str) -> list[Transition]:
    """The transitions a ticket in ``state`` may still take, now or later, in declared order."""
    seen, queue = {state}, [state]
    while queue:
        current = queue.pop()
        for transition in ticket_type.transitions_from(current):
            for target in transition.targets(current):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
    return [t for t in ticket_type.transitions if seen & set(t.sources)]


def _counterpart(ticket_type: TicketType, transition: Transition) -> Transition | None:
    """The transition of ``ticket_type`` that is ``transition`` before the change: the same name,
    leaving one of the same states (a name may be used again from other states)."""
    sources = set(transition.sources)
    return next(
        (t for t in ticket_type.transitions if t.name == transition.name and sources & set(t.sources)), None
    )
