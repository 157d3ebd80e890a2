"""Static checks of a loaded workflow (``erflow workflow lint``): what workflow.yaml allows that can
never happen or can never work, each finding naming the line of workflow.yaml it is about.

Kinds: ``unreachable`` (a state no path from the type's initial state enters), ``no_terminal`` (a
state with no way on to a terminal state), ``unheld_role`` (a transition whose roles nobody under
people: holds), ``impossible_gate`` (a required field only other transitions may write, none of
which can come first), ``template_field`` (an email template using a field not set on every path to
where it is sent), ``stuck_timer`` (a timer on a state it can never make a ticket leave) and
``shadowed_route`` (an intake route that an earlier one always catches first).

Pure: the templates come in as the fields each uses (found by the caller, which reads Jinja).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from erflow.core.record import Record
from erflow.core.workflow import CUSTOMER, EmailSpec, IntakeRoute, TicketType, Transition, Workflow

KINDS = (
    "unreachable",
    "no_terminal",
    "unheld_role",
    "impossible_gate",
    "template_field",
    "stuck_timer",
    "shadowed_route",
)

# The fields every ticket has from its creation on (``new`` refuses a ticket without a title).
ALWAYS_SET = frozenset({"id", "type", "title", "state", "created", "updated", "state_entered"})


class Finding(Record):
    """One finding: the line of workflow.yaml it is about (0: not known), its kind, what is wrong."""

    line: int
    kind: str
    message: str

    def text(self, file: str = "workflow.yaml") -> str:
        return f"{file}:{self.line}: {self.kind}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


def lint(
    workflow: Workflow,
    templates: Mapping[str, frozenset[str]] | None = None,
    context: Iterable[str] = (),
) -> list[Finding]:
    """Every finding in ``workflow``, by line. ``templates``: each email template's name and the
    names it uses that no ``is defined`` test guards (a template missing here is not checked);
    ``context``: the names every template is given besides the ticket's fields."""
    held = {role for person in workflow.people.values() for role in person.roles} | {CUSTOMER}
    findings: list[Finding] = []
    for ticket_type in workflow.types.values():
        graph = _Graph(ticket_type, workflow)
        findings += graph.state_findings()
        findings += _unheld(ticket_type, held)
        findings += graph.gate_findings()
        findings += _timer_findings(ticket_type)
        if templates is not None:
            findings += graph.template_findings(templates, frozenset(context))
    findings += _route_findings(workflow.intake.routes)
    return sorted(set(findings), key=lambda f: (f.line, f.kind, f.message))


def _leaves(transition: Transition, state: str) -> bool:
    return state in transition.sources and any(to != state for to in transition.targets(state))


def _timer_driven(ticket_type: TicketType) -> set[str]:
    """The transitions timers and the SLA's escalation take (erflow takes them, with no role)."""
    names = {timer.actions.transition for timer in ticket_type.timers}
    if ticket_type.sla is not None:
        names.add(ticket_type.sla.escalate.transition)
    return {name for name in names if name}


def _unheld(ticket_type: TicketType, held: set[str]) -> list[Finding]:
    driven = _timer_driven(ticket_type)
    return [
        Finding(
            t.line,
            "unheld_role",
            f"types.{ticket_type.name}: nobody under people: holds a role of {t.name!r} "
            f"({', '.join(t.roles)}), so no one can take it",
        )
        for t in ticket_type.transitions
        if t.name not in driven and not set(t.roles) & held
    ]


def _timer_findings(ticket_type: TicketType) -> list[Finding]:
    findings = []
    for timer in ticket_type.timers:
        where = f"types.{ticket_type.name}.timers.{timer.name}"
        name = timer.actions.transition
        for state_name in timer.states:
            state = ticket_type.states.get(state_name)
            if state is None:
                continue
            if state.terminal:
                problem = f"runs on {state_name!r}, a terminal state no ticket ever leaves"
                findings.append(Finding(timer.line, "stuck_timer", f"{where}: {problem}"))
            elif name and not any(
                t.name == name and state_name in t.sources for t in ticket_type.transitions
            ):
                problem = (
                    f"its transition {name!r} is not taken from {state_name!r}, so the ticket stays there"
                )
                findings.append(Finding(timer.line, "stuck_timer", f"{where}: {problem}"))
            elif name and not any(_leaves(t, state_name) for t in ticket_type.transitions):
                problem = f"its transition {name!r} stays in {state_name!r}, and no transition leaves it"
                findings.append(Finding(timer.line, "stuck_timer", f"{where}: {problem}"))
    return findings


def _route_findings(routes: tuple[IntakeRoute, ...]) -> list[Finding]:
    findings = []
    for j, later in enumerate(routes):
        tests = _route_tests(later)
        for i, earlier in enumerate(routes[:j]):
            first = _route_tests(earlier)
            if first == tests:
                problem = f"intake.routes[{j}] tests what intake.routes[{i}] (line {earlier.line}) tests"
                findings.append(Finding(later.line, "shadowed_route", f"{problem}: it is never used"))
                break
            if first <= tests:
                problem = f"intake.routes[{i}] (line {earlier.line}) catches every message intake.routes[{j}]"
                findings.append(Finding(later.line, "shadowed_route", f"{problem} would: it is never used"))
                break
    return findings


def _route_tests(route: IntakeRoute) -> set[tuple[str, str]]:
    tests = {("to", route.to), ("subject", route.subject), ("body", route.body)}
    return {(key, value) for key, value in tests if value is not None}


def _implied(condition: Mapping[str, Any] | None) -> set[str]:
    """The fields a condition can only hold with set (``{F: {set: true}}``, ``{F: VALUE}``)."""
    found: set[str] = set()
    for key, expected in (condition or {}).items():
        if key == "all":
            for item in expected:
                found |= _implied(item)
        elif key in ("any", "not") or key.startswith("policy."):
            continue
        elif isinstance(expected, Mapping):
            if expected.get("set") is True or any(op in expected for op in ("in", "matches", "gt", "gte")):
                found.add(key)
        elif expected not in (None, False, "", []):
            found.add(key)
    return found


class _Graph:
    """A type's states and transitions as a graph: what is reachable, what can finish, and which
    fields are set on every path into each state."""

    def __init__(self, ticket_type: TicketType, workflow: Workflow) -> None:
        self.type = ticket_type
        self.workflow = workflow
        self.edges: dict[str, set[str]] = {name: set() for name in ticket_type.states}
        for t in ticket_type.transitions:
            for source in t.sources:
                self.edges.setdefault(source, set()).update(t.targets(source))
        self.roots = {ticket_type.initial}
        if ticket_type.follows is not None:
            self.roots |= set(ticket_type.follows.states.values())
        self.reachable = self._reach(self.roots)

    def _reach(self, starts: Iterable[str]) -> set[str]:
        seen = set(starts)
        todo = list(seen)
        while todo:
            for target in self.edges.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def state_findings(self) -> list[Finding]:
        states = self.type.states
        terminal = {name for name, state in states.items() if state.terminal}
        findings = []
        for name, state in states.items():
            where = f"types.{self.type.name}.states.{name}"
            if name not in self.reachable:
                problem = f"no path from the initial state {self.type.initial!r} enters it"
                findings.append(Finding(state.line, "unreachable", f"{where}: {problem}"))
            elif not state.terminal and not self._reach([name]) & terminal:
                problem = "no path leads from it to a terminal state"
                findings.append(Finding(state.line, "no_terminal", f"{where}: {problem}"))
        return findings

    def gate_findings(self) -> list[Finding]:
        """Required fields only other transitions may write, none of which can come first (nor
        does anything fill them at creation)."""
        findings = []
        filled = self._filled_at_creation()
        for t in self.type.transitions:
            for name in sorted(t.required_fields()):
                declared = self.type.field(name)
                owners = self.type.owners_of(name)
                if declared is None or declared.system or not owners or t.name in owners or name in filled:
                    continue
                if any(self._comes_before(owner, t) for owner in owners):
                    continue
                problem = (
                    f"types.{self.type.name}.transitions.{t.name}: requires {name!r}, which only "
                    f"{', '.join(sorted(owners))} may set, and none of them can come before it"
                )
                findings.append(Finding(t.line, "impossible_gate", problem))
        return findings

    def _filled_at_creation(self) -> set[str]:
        filled = {
            n for route in self.workflow.intake.routes if route.type == self.type.name for n in route.sets
        }
        for other in self.workflow.types.values():
            for t in other.transitions:
                for made in t.create:
                    if made.type == self.type.name:
                        filled |= {*made.copy, *made.map, *made.sets}
        return filled

    def _comes_before(self, owner: str, transition: Transition) -> bool:
        for candidate in self.type.transitions:
            if candidate.name != owner:
                continue
            for source in candidate.sources:
                if source in self.reachable and self._reach(candidate.targets(source)) & set(
                    transition.sources
                ):
                    return True
        return False

    def template_findings(
        self, templates: Mapping[str, frozenset[str]], context: frozenset[str]
    ) -> list[Finding]:
        entry = self._on_entry()
        known = {f.name for f in self.type.all_fields()}
        create_set = set(ALWAYS_SET) | self._required(self.type.create.requires, None)
        findings = []
        sent: list[tuple[int, str, EmailSpec, set[str]]] = []
        for spec in self.type.create.emails:
            sent.append(
                (spec.line, "create", spec, create_set | self._required(self.type.create.requires, spec))
            )
        for t in self.type.transitions:
            for source in t.sources:
                if source not in self.reachable:
                    continue
                for spec in t.emails:
                    have = self._after(t, entry[source]) | self._required(t.requires, spec)
                    sent.append((spec.line or t.line, f"transitions.{t.name} from {source}", spec, have))
        for timer in self.type.timers:
            email = timer.actions.email
            for source in timer.states:
                if email is not None and source in self.reachable:
                    have = set(entry[source]) | _implied(timer.when)
                    sent.append((timer.line, f"timers.{timer.name} in {source}", email, have))
        for line, where, spec, have in sent:
            used = templates.get(spec.template)
            if used is None:
                continue
            lacking = sorted((used & known) - context - have - _implied(spec.when))
            if lacking:
                problem = (
                    f"types.{self.type.name}.{where}: template {spec.template!r} uses "
                    f"{', '.join(lacking)}, not set on every path that reaches it"
                )
                findings.append(Finding(line, "template_field", problem))
        return findings

    @staticmethod
    def _required(requires: Iterable[Any], spec: EmailSpec | None) -> set[str]:
        """The fields a gate makes sure of: its unconditional requirements, and those whose
        condition is the email's own."""
        return {
            name
            for r in requires
            if r.when is None or (spec is not None and r.when == spec.when)
            for name in r.fields
        }

    def _after(self, t: Transition, before: frozenset[str]) -> set[str]:
        cleared = {name for name, value in t.sets.items() if value in (None, "", [])}
        return (set(before) | self._required(t.requires, None) | set(t.sets)) - cleared

    def _on_entry(self) -> dict[str, frozenset[str]]:
        """For each reachable state, the fields set on every path that enters it."""
        universe = frozenset({f.name for f in self.type.all_fields()} | ALWAYS_SET)
        start = frozenset(ALWAYS_SET | self._required(self.type.create.requires, None))
        entry: dict[str, frozenset[str]] = {s: universe for s in self.type.states}
        for root in self.roots:
            entry[root] = start
        changed = True
        while changed:
            changed = False
            incoming: dict[str, frozenset[str]] = {root: start for root in self.roots}
            for t in self.type.transitions:
                for source in t.sources:
                    if source not in self.reachable:
                        continue
                    after = frozenset(self._after(t, entry[source]))
                    for target in t.targets(source):
                        incoming[target] = incoming[target] & after if target in incoming else after
            for state, fields in incoming.items():
                if fields != entry.get(state):
                    entry[state] = fields
                    changed = True
        return entry
