"""workflow.yaml parsed once into frozen objects; every mistake reported with file, line and path."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.core import conditions, yamlio
from erflow.core.businesstime import WEEKDAYS, Calendar, Duration, parse_duration
from erflow.core.errors import InvalidData, NotFound, located
from erflow.core.fields import COMMON_FIELDS, FIELD_TYPES, Field
from erflow.core.model import LINK_INVERSE

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
ANYONE = "*"


@dataclass(frozen=True)
class Requirement:
    fields: tuple[str, ...]
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Rule:
    require: Mapping[str, Any]
    message: str
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EmailSpec:
    template: str
    when: Mapping[str, Any] | None = None
    to: str = "customer"
    line: int = field(default=0, compare=False)  # where workflow.yaml names it (0: not known)


@dataclass(frozen=True)
class Branch:
    to: str
    when: Mapping[str, Any] | None = None


ASSIGN_RULES = ("keep", "queue", "fewest_open", "round_robin")


@dataclass(frozen=True)
class Assign:
    """Who gets a ticket: a person, or a role by a rule; ``when`` makes it one branch of a route."""

    person: str | None = None
    role: str | None = None  # None: the owner role of the state entered
    rule: str = "keep"
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LinkedTicket:
    """A ticket of another type that a transition creates and links to the ticket it moves."""

    type: str
    link: str  # the relation from the moving ticket to the new one
    copy: tuple[str, ...] = ()
    map: Mapping[str, str] = field(default_factory=dict)  # new ticket's field -> this ticket's field
    sets: Mapping[str, Any] = field(default_factory=dict)
    description: bool = True
    when: Mapping[str, Any] | None = None
    line: int = 0


@dataclass(frozen=True)
class Document:
    """A file a transition writes into the store from a document template (``{id}`` in the path)."""

    template: str
    path: str
    when: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]
    branches: tuple[Branch, ...]  # empty: stays in the current state
    roles: tuple[str, ...]
    requires: tuple[Requirement, ...] = ()
    rules: tuple[Rule, ...] = ()
    sets: Mapping[str, Any] = field(default_factory=dict)
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    emails: tuple[EmailSpec, ...] = ()
    fresh: bool = False
    note: str = "optional"  # "optional" or "required"
    assign: tuple[Assign, ...] = ()
    create: tuple[LinkedTicket, ...] = ()
    documents: tuple[Document, ...] = ()
    line: int = 0

    def targets(self, source: str) -> list[str]:
        return [b.to for b in self.branches] or [source]

    def required_fields(self) -> set[str]:
        return {f for r in self.requires for f in r.fields}


@dataclass(frozen=True)
class State:
    name: str
    label: str
    owner: str | None = None
    stage: str = ""
    terminal: bool = False
    waiting: str | None = None
    assign: tuple[Assign, ...] = ()


@dataclass(frozen=True)
class Actions:
    """What a timer or an SLA escalation does to a ticket, in this order: note, assign, labels,
    email, then the transition."""

    note: str | None = None
    assign: tuple[Assign, ...] = ()
    add_labels: tuple[str, ...] = ()
    email: EmailSpec | None = None
    transition: str | None = None

    def describe(self) -> str:
        parts = ["note" if self.note else "", "assign" if self.assign else ""]
        parts += [f"label {','.join(self.add_labels)}" if self.add_labels else ""]
        parts += [f"email {self.email.template}" if self.email else "", self.transition or ""]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Timer:
    """``after`` a duration since ``since`` in one of ``states``, or ``every`` week at a time."""

    name: str
    actions: Actions
    states: tuple[str, ...] = ()  # empty: any state that is not terminal
    after: Duration | None = None
    since: str = "state_entered"
    every: tuple[int, dt.time] | None = None  # weekday (Monday 0) and time, in the calendar's zone
    window: Duration = Duration(1)
    business: bool = False
    when: Mapping[str, Any] | None = None
    line: int = 0


@dataclass(frozen=True)
class SlaTarget:
    response: Duration | None
    resolution: Duration | None
    when: Mapping[str, Any] | None = None
    business: bool | None = None  # None: the SLA's clock


@dataclass(frozen=True)
class Sla:
    """Response and resolution targets; the resolution clock pauses in ``pause`` states."""

    targets: tuple[SlaTarget, ...]
    business: bool = True
    at_risk: float = 0.8
    pause: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()  # states that stop the resolution clock, besides terminal ones
    escalate: Actions = Actions()
    line: int = 0


@dataclass(frozen=True)
class CreateSpec:
    requires: tuple[Requirement, ...] = ()
    emails: tuple[EmailSpec, ...] = ()


@dataclass(frozen=True)
class TicketType:
    name: str
    prefix: str
    label: str
    initial: str
    fields: Mapping[str, Field]  # the type's own, in declared order
    states: Mapping[str, State]
    transitions: tuple[Transition, ...]
    create: CreateSpec = CreateSpec()
    sla: Sla | None = None
    timers: tuple[Timer, ...] = ()

    def field(self, name: str) -> Field | None:
        return self.fields.get(name) or _COMMON.get(name)

    def all_fields(self) -> list[Field]:
        own_common = [self.fields.get(f.name, f) for f in COMMON_FIELDS]
        return own_common + [f for n, f in self.fields.items() if n not in _COMMON]

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if state in t.sources]

    def owners_of(self, field_name: str) -> set[str]:
        """Transitions that alone may write a field (it appears in their ``set`` or ``set_by``)."""
        owners = {t.name for t in self.transitions if field_name in t.sets}
        declared = self.field(field_name)
        if declared is not None:
            owners |= set(declared.set_by)
        return owners


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Workflow:
    path: Path
    settings: Mapping[str, Any]
    policies: Mapping[str, Any]
    roles: Mapping[str, str]
    people: Mapping[str, Person]
    permissions: Mapping[str, tuple[str, ...]]
    types: Mapping[str, TicketType]
    calendar: Calendar = Calendar()

    def type(self, name: str) -> TicketType:
        found = self.types.get(name)
        if found is None:
            raise NotFound(f"no ticket type {name!r}", hint=f"types: {', '.join(self.types)}")
        return found

    def type_of_id(self, ticket_id: str) -> TicketType | None:
        prefix = ticket_id.split("-", 1)[0].upper()
        return next((t for t in self.types.values() if t.prefix == prefix), None)

    def roles_of(self, actor: str) -> tuple[str, ...]:
        person = self.people.get(actor.lower())
        return person.roles if person else ()

    def may(self, actor: str, action: str) -> bool:
        allowed = self.permissions.get(action, (ANYONE,))
        if actor.lower() not in self.people:
            return False
        return ANYONE in allowed or bool(set(allowed) & set(self.roles_of(actor)))

    def people_with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]


_COMMON = {f.name: f for f in COMMON_FIELDS}
_OPERATOR_LIST = ", ".join(sorted(conditions.OPERATORS))


_RESERVED = ("tickets", "templates", ".git", ".erflow", "workflow.yaml")


def document_path_problem(path: str) -> str | None:
    """Why a document path is unsafe or ambiguous, or None: relative, inside the store, not in a
    folder erflow owns, one file per ticket."""
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or ":" in path or "\x00" in path:
        return "expected a relative path such as knowledge/{id}.md"
    if any(part in ("", ".", "..") for part in parts):
        return "a path may not hold empty, '.' or '..' parts"
    if parts[0] in _RESERVED:
        return f"{parts[0]} is erflow's own; pick another folder"
    if "{id}" not in path:
        return "the path must hold {id}, so that each ticket gets its own file"
    return None


class _Problems:
    """Collects problems as ``file:line: path: message``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, node: Any, key: str | None, where: str, message: str) -> None:
        line = None
        if isinstance(node, yamlio.LineDict):
            line = node.line_of(key) if key is not None else node.line
        self.items.append(located(self.path, line, f"{where}: {message}" if where else message))


def load(path: Path) -> Workflow:
    """Load and validate a workflow; raise InvalidData naming the first problem."""
    workflow, problems = load_with_problems(path)
    if problems or workflow is None:
        more = f" (and {len(problems) - 1} more; run erflow check)" if len(problems) > 1 else ""
        raise InvalidData(problems[0] + more)
    return workflow


def load_with_problems(path: Path) -> tuple[Workflow | None, list[str]]:
    """Load a workflow and list every problem found in it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(yamlio.MAX_BYTES + 1)  # a larger file is refused, never read whole
    except FileNotFoundError:
        raise NotFound(f"{path}: no workflow.yaml") from None
    return load_bytes(data, path)


def load_bytes(data: bytes, path: Path) -> tuple[Workflow | None, list[str]]:
    """A workflow from its bytes (e.g. a blob of an old commit); ``path`` names it in problems."""
    if len(data) > yamlio.MAX_BYTES:
        return None, [located(path, None, f"larger than the limit of {yamlio.MAX_BYTES} bytes")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [located(path, line, f"not valid UTF-8 (byte {exc.start})")]
    try:
        raw = yamlio.load(text)
    except yamlio.YamlError as exc:
        return None, [located(path, exc.line, exc.message)]
    problems = _Problems(path)
    if not isinstance(raw, yamlio.LineDict):
        return None, [located(path, 1, "expected a mapping at the top level")]
    try:
        workflow = _Parser(problems).workflow(path, raw)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a shape no check foresaw
        problems.items.append(located(path, None, f"malformed workflow ({type(exc).__name__}: {exc})"))
        return None, problems.items
    return (workflow if not problems.items else None), problems.items


class _Parser:
    def __init__(self, problems: _Problems) -> None:
        self.p = problems
        self.people: set[str] = set()

    def _map(self, parent: Any, key: str, where: str) -> yamlio.LineDict:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            empty = yamlio.LineDict()
            empty.lines = {}
            empty.line = parent.line_of(key) if isinstance(parent, yamlio.LineDict) else 0
            return empty
        if not isinstance(value, yamlio.LineDict):
            self.p.add(parent, key, where, "expected a mapping")
            return self._map({}, key, where)
        return value

    def _names(self, node: Any, key: str, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.p.add(node, key, where, "expected a name or a list of names")
        return ()

    def _list(
        self, node: yamlio.LineDict, key: str, where: str, expected: str = "expected a list"
    ) -> list[Any]:
        """An optional list under ``key`` (empty when absent); a non-list is a problem, read as empty."""
        raw = node.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.p.add(node, key, f"{where}.{key}", expected)
            return []
        return raw

    def _unknown_keys(self, node: yamlio.LineDict, allowed: set[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.p.add(
                    node,
                    key,
                    f"{where}.{key}" if where else key,
                    f"unknown key (expected one of: {', '.join(sorted(allowed))})",
                )

    def workflow(self, path: Path, raw: yamlio.LineDict) -> Workflow:
        self._unknown_keys(
            raw,
            {"version", "settings", "policies", "roles", "people", "permissions", "types", "calendar"},
            "",
        )
        if raw.get("version", 1) != 1:
            self.p.add(raw, "version", "version", "only version 1 is understood")
        settings = self._map(raw, "settings", "settings")
        policies = self._map(raw, "policies", "policies")
        roles_raw = raw.get("roles")
        roles: dict[str, str] = {}
        if isinstance(roles_raw, list):
            roles = {str(r): "" for r in roles_raw}
        elif isinstance(roles_raw, dict):
            roles = {str(k): str(v or "") for k, v in roles_raw.items()}
        else:
            self.p.add(raw, "roles", "roles", "expected a list or mapping of role names")
        people: dict[str, Person] = {}
        people_raw = self._map(raw, "people", "people")
        for email, spec in people_raw.items():
            where = f"people.{email}"
            if not isinstance(spec, dict):
                self.p.add(people_raw, email, where, "expected a mapping with name and roles")
                continue
            person_roles = self._names(spec, "roles", where + ".roles", spec.get("roles"))
            for role in person_roles:
                if role not in roles:
                    self.p.add(spec, "roles", where + ".roles", f"unknown role {role!r}")
            people[email.lower()] = Person(email.lower(), str(spec.get("name") or email), person_roles)
        permissions: dict[str, tuple[str, ...]] = {}
        perm_raw = self._map(raw, "permissions", "permissions")
        for action, allowed in perm_raw.items():
            names = self._names(perm_raw, action, f"permissions.{action}", allowed)
            for role in names:
                if role != ANYONE and role not in roles:
                    self.p.add(perm_raw, action, f"permissions.{action}", f"unknown role {role!r}")
            permissions[action] = names
        self.people = set(people)
        types: dict[str, TicketType] = {}
        types_raw = self._map(raw, "types", "types")
        if not types_raw:
            self.p.add(raw, "types", "types", "no ticket types defined")
        prefixes: dict[str, str] = {}
        for type_name, spec in types_raw.items():
            if not isinstance(spec, yamlio.LineDict):
                self.p.add(types_raw, type_name, f"types.{type_name}", "expected a mapping")
                continue
            ticket_type = self.ticket_type(type_name, spec, set(roles), policies)
            if ticket_type.prefix in prefixes:
                self.p.add(
                    spec,
                    "prefix",
                    f"types.{type_name}.prefix",
                    f"prefix {ticket_type.prefix!r} is also used by {prefixes[ticket_type.prefix]}",
                )
            prefixes[ticket_type.prefix] = type_name
            types[type_name] = ticket_type
        self.check_linked(types)
        calendar = self.calendar(raw)
        return Workflow(path, dict(settings), dict(policies), roles, people, permissions, types, calendar)

    def calendar(self, raw: yamlio.LineDict) -> Calendar:
        node = self._map(raw, "calendar", "calendar")
        self._unknown_keys(node, {"timezone", "days", "hours", "holidays"}, "calendar")
        try:
            return Calendar.parse(
                str(node.get("timezone", "UTC")),
                node.get("days") or WEEKDAYS[:5],
                str(node.get("hours", "09:00-17:00")),
                node.get("holidays") or [],
            )
        except (ValueError, TypeError) as exc:
            self.p.add(node, None, "calendar", str(exc))
            return Calendar()

    def check_linked(self, types: Mapping[str, TicketType]) -> None:
        for ticket_type in types.values():
            for transition in ticket_type.transitions:
                for spec in transition.create:
                    where = f"types.{ticket_type.name}.transitions.{transition.name}.create"
                    target = types.get(spec.type)
                    if target is None:
                        self.p.items.append(
                            located(self.p.path, spec.line, f"{where}: unknown type {spec.type!r}")
                        )
                        continue
                    for name in [*spec.copy, *spec.map, *spec.sets]:
                        declared = target.field(name)
                        if declared is None or (declared.system and name not in ("title",)):
                            problem = f"{where}: type {spec.type} has no field {name!r} to fill"
                            self.p.items.append(located(self.p.path, spec.line, problem))
                    for name, value in spec.sets.items():
                        declared = target.field(name)
                        if declared is not None and declared.problem(value):
                            self.p.items.append(
                                located(self.p.path, spec.line, f"{where}: {declared.problem(value)}")
                            )

    def ticket_type(
        self, name: str, spec: yamlio.LineDict, roles: set[str], policies: Mapping[str, Any]
    ) -> TicketType:
        where = f"types.{name}"
        self._unknown_keys(
            spec,
            {
                "prefix",
                "label",
                "source",
                "initial",
                "fields",
                "states",
                "transitions",
                "create",
                "sla",
                "timers",
            },
            where,
        )
        prefix = str(spec.get("prefix", ""))
        if not PREFIX.match(prefix):
            self.p.add(
                spec,
                "prefix",
                f"{where}.prefix",
                "expected 1-8 capital letters or digits, starting with a letter",
            )
        fields = self.fields(spec, where)
        checker = _RefChecker(self.p, set(fields) | set(_COMMON), policies)
        states: dict[str, State] = {}
        states_raw = self._map(spec, "states", f"{where}.states")
        for state_name, s in states_raw.items():
            s_where = f"{where}.states.{state_name}"
            if not isinstance(s, yamlio.LineDict):
                if s is not None:
                    self.p.add(
                        states_raw, state_name, s_where, "expected a mapping (owner, label, stage, terminal)"
                    )
                s = yamlio.LineDict()
                s.lines, s.line = {}, states_raw.line_of(state_name)
            else:
                self._unknown_keys(s, {"owner", "label", "stage", "terminal", "waiting", "assign"}, s_where)
            owner = s.get("owner")
            if owner is not None and not isinstance(owner, str):
                self.p.add(s, "owner", f"{s_where}.owner", "expected one role name")
                owner = None
            if owner is not None and owner not in roles:
                self.p.add(s, "owner", f"{s_where}.owner", f"unknown role {owner!r}")
            states[state_name] = State(
                state_name,
                str(s.get("label") or state_name),
                owner,
                str(s.get("stage") or ""),
                bool(s.get("terminal", False)),
                s.get("waiting"),
                self.assign(s, s_where, roles, owner, checker),
            )
        if not states:
            self.p.add(spec, "states", f"{where}.states", "no states defined")
        initial = str(spec.get("initial", next(iter(states), "")))
        if states and initial not in states:
            self.p.add(spec, "initial", f"{where}.initial", f"unknown state {initial!r}")
        transitions = []
        t_raw = spec.get("transitions") or []
        if not isinstance(t_raw, list):
            self.p.add(spec, "transitions", f"{where}.transitions", "expected a list")
            t_raw = []
        seen: set[tuple[str, str]] = set()
        for i, t in enumerate(t_raw):
            t_where = f"{where}.transitions[{i}]"
            if not isinstance(t, yamlio.LineDict):
                self.p.add(spec, "transitions", t_where, "expected a mapping")
                continue
            transition = self.transition(t, t_where, states, roles, checker, fields)
            for source in transition.sources:
                if (source, transition.name) in seen:
                    self.p.add(
                        t, "name", t_where, f"two transitions named {transition.name!r} leave {source!r}"
                    )
                seen.add((source, transition.name))
            transitions.append(transition)
        create_raw = self._map(spec, "create", f"{where}.create")
        self._unknown_keys(create_raw, {"requires", "emails"}, f"{where}.create")
        create = CreateSpec(
            self.requires(create_raw, f"{where}.create", checker),
            self.emails(create_raw, f"{where}.create", checker),
        )
        fields_raw = self._map(spec, "fields", f"{where}.fields")
        for f in fields.values():
            node = fields_raw.get(f.name)
            for owner_t in f.set_by:
                if not any(t.name == owner_t for t in transitions):
                    where_set_by = f"{where}.fields.{f.name}.set_by"
                    self.p.add(node, "set_by", where_set_by, f"unknown transition {owner_t!r}")
        label = str(spec.get("label") or name)
        sla = self.sla(spec, where, states, transitions, roles, checker)
        timers = self.timers(spec, where, states, transitions, roles, checker)
        return TicketType(
            name, prefix, label, initial, fields, states, tuple(transitions), create, sla, timers
        )

    def _duration(self, node: Any, key: str, where: str) -> Duration | None:
        raw = node.get(key) if isinstance(node, dict) else None
        if raw is None:
            return None
        try:
            return parse_duration(str(raw))
        except ValueError as exc:
            self.p.add(node, key, f"{where}.{key}", str(exc))
            return None

    def _clock(self, node: yamlio.LineDict, where: str, default: str) -> bool:
        clock = str(node.get("clock", default))
        if clock not in ("business", "calendar"):
            self.p.add(node, "clock", f"{where}.clock", "expected business or calendar")
        return clock == "business"

    def actions(
        self,
        node: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        sources: tuple[str, ...],
        roles: set[str],
        checker: _RefChecker,
    ) -> Actions:
        note = node.get("note")
        email = None
        if node.get("email") is not None:
            if isinstance(node["email"], str):
                email = EmailSpec(
                    node["email"], None, str(node.get("to") or "customer"), node.line_of("email")
                )
            else:
                self.p.add(node, "email", f"{where}.email", "expected a template name (and to: beside it)")
        transition = node.get("transition")
        if transition is not None:
            leaving = {t.name for t in transitions for s in sources if s in t.sources} if sources else set()
            if not any(t.name == transition for t in transitions):
                self.p.add(node, "transition", f"{where}.transition", f"unknown transition {transition!r}")
            elif sources and transition not in leaving:
                self.p.add(
                    node,
                    "transition",
                    f"{where}.transition",
                    f"{transition!r} leaves none of {', '.join(sources)}",
                )
        actions = Actions(
            str(note) if note is not None else None,
            self.assign(node, where, roles, "-", checker),
            self._names(node, "add_labels", f"{where}.add_labels", node.get("add_labels")),
            email,
            str(transition) if transition is not None else None,
        )
        if not actions.describe():
            self.p.add(node, None, where, "does nothing: give note, assign, add_labels, email or transition")
        return actions

    def sla(
        self,
        spec: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        roles: set[str],
        checker: _RefChecker,
    ) -> Sla | None:
        node = spec.get("sla")
        if node is None:
            return None
        s_where = f"{where}.sla"
        if not isinstance(node, yamlio.LineDict):
            self.p.add(spec, "sla", s_where, "expected a mapping with targets")
            return None
        self._unknown_keys(node, {"clock", "at_risk", "pause", "stop", "targets", "escalate"}, s_where)
        targets = []
        raw_targets = node.get("targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            self.p.add(
                node, "targets", f"{s_where}.targets", "expected a list of {when:, response:, resolution:}"
            )
            raw_targets = []
        for i, item in enumerate(raw_targets):
            t_where = f"{s_where}.targets[{i}]"
            if not isinstance(item, yamlio.LineDict):
                self.p.add(node, "targets", t_where, "expected {when:, response:, resolution:}")
                continue
            self._unknown_keys(item, {"when", "response", "resolution", "clock"}, t_where)
            when = checker.condition(item.get("when"), item, "when", f"{t_where}.when")
            business = self._clock(item, t_where, "business") if "clock" in item else None
            response = self._duration(item, "response", t_where)
            targets.append(SlaTarget(response, self._duration(item, "resolution", t_where), when, business))
        at_risk = node.get("at_risk", 0.8)
        if isinstance(at_risk, bool) or not isinstance(at_risk, (int, float)) or not 0 < at_risk < 1:
            self.p.add(node, "at_risk", f"{s_where}.at_risk", "expected a share between 0 and 1, e.g. 0.8")
            at_risk = 0.8
        pause_raw = node.get("pause")
        pause = (
            self._names(node, "pause", f"{s_where}.pause", pause_raw)
            if pause_raw is not None
            else tuple(n for n, st in states.items() if st.waiting)
        )
        stop = self._names(node, "stop", f"{s_where}.stop", node.get("stop"))
        for key, named in (("pause", pause), ("stop", stop)):
            for state in named:
                if state not in states:
                    self.p.add(node, key, f"{s_where}.{key}", f"unknown state {state!r}")
        escalate_raw = node.get("escalate")
        escalate = Actions()
        if escalate_raw is not None:
            if isinstance(escalate_raw, yamlio.LineDict):
                self._unknown_keys(
                    escalate_raw, {"note", "assign", "add_labels", "email", "to"}, f"{s_where}.escalate"
                )
                escalate = self.actions(
                    escalate_raw, f"{s_where}.escalate", states, transitions, (), roles, checker
                )
            else:
                self.p.add(node, "escalate", f"{s_where}.escalate", "expected a mapping of actions")
        business = self._clock(node, s_where, "business")
        return Sla(tuple(targets), business, float(at_risk), pause, stop, escalate, node.line)

    def timers(
        self,
        spec: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        roles: set[str],
        checker: _RefChecker,
    ) -> tuple[Timer, ...]:
        result = []
        names: set[str] = set()
        for i, node in enumerate(self._list(spec, "timers", where, "expected a list of timers")):
            t_where = f"{where}.timers[{i}]"
            if not isinstance(node, yamlio.LineDict):
                self.p.add(spec, "timers", t_where, "expected a mapping")
                continue
            self._unknown_keys(
                node,
                {"name", "state", "states", "after", "since", "every", "window", "clock", "when",
                 "note", "assign", "add_labels", "email", "to", "transition"},
                t_where,
            )  # fmt: skip
            name = str(node.get("name", ""))
            if not NAME.match(name):
                self.p.add(node, "name", f"{t_where}.name", "expected a lower_snake_case name")
            if name in names:
                self.p.add(node, "name", f"{t_where}.name", f"two timers named {name!r}")
            names.add(name)
            timer_states = self._names(
                node, "states", f"{t_where}.states", node.get("states") or node.get("state")
            )
            for state in timer_states:
                if state not in states:
                    self.p.add(
                        node, "states" if "states" in node else "state", t_where, f"unknown state {state!r}"
                    )
            after = self._duration(node, "after", t_where)
            every = self._every(node, t_where)
            if (after is None) == (every is None):
                self.p.add(node, None, t_where, "give after: DURATION or every: 'mon 09:00', one of them")
            since = str(node.get("since", "state_entered"))
            if since not in ("state_entered", "created", "updated") and since not in checker.known:
                self.p.add(node, "since", f"{t_where}.since", f"unknown field {since!r}")
            when = checker.condition(node.get("when"), node, "when", f"{t_where}.when")
            actions = self.actions(node, t_where, states, transitions, timer_states, roles, checker)
            window = self._duration(node, "window", t_where) or Duration(1)
            business = self._clock(node, t_where, "calendar")
            result.append(
                Timer(name, actions, timer_states, after, since, every, window, business, when, node.line)
            )
        return tuple(result)

    def _every(self, node: yamlio.LineDict, where: str) -> tuple[int, dt.time] | None:
        raw = node.get("every")
        if raw is None:
            return None
        parts = str(raw).lower().split()
        try:
            day = WEEKDAYS.index(parts[0][:3])
            hour, minute = (int(x) for x in (parts[1] if len(parts) > 1 else "00:00").split(":"))
            return day, dt.time(hour, minute)
        except (ValueError, IndexError):
            self.p.add(
                node, "every", f"{where}.every", f"{raw!r} is not a weekday and time such as 'mon 09:00'"
            )
            return None

    def fields(self, spec: yamlio.LineDict, where: str) -> dict[str, Field]:
        fields: dict[str, Field] = {}
        raw = self._map(spec, "fields", f"{where}.fields")
        for name, f in raw.items():
            f_where = f"{where}.fields.{name}"
            if not NAME.match(name):
                self.p.add(raw, name, f_where, "field names are lower_snake_case")
            if not isinstance(f, yamlio.LineDict):
                self.p.add(raw, name, f_where, "expected a mapping with at least a type")
                continue
            self._unknown_keys(f, {"type", "label", "values", "min", "max", "set_by"}, f_where)
            kind = str(f.get("type", "text"))
            if kind not in FIELD_TYPES:
                self.p.add(
                    f,
                    "type",
                    f"{f_where}.type",
                    f"unknown type {kind!r} (expected one of: {', '.join(sorted(FIELD_TYPES))})",
                )
            values = self._names(f, "values", f"{f_where}.values", f.get("values"))
            if kind == "enum" and not values:
                self.p.add(f, "type", f_where, "an enum needs values")
            common = _COMMON.get(name)
            if common is not None and common.system:
                self.p.add(raw, name, f_where, f"{name!r} is kept by erflow and cannot be redefined")
            bounds = {}
            for bound in ("min", "max"):
                value = f.get(bound)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    self.p.add(f, bound, f"{f_where}.{bound}", "expected a number")
                    value = None
                bounds[bound] = value
            fields[name] = Field(
                name,
                kind,
                str(f.get("label") or name),
                values,
                bounds["min"],
                bounds["max"],
                self._names(f, "set_by", f"{f_where}.set_by", f.get("set_by")),
            )
        return fields

    def transition(
        self,
        t: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        roles: set[str],
        checker: _RefChecker,
        fields: Mapping[str, Field],
    ) -> Transition:
        self._unknown_keys(
            t,
            {
                "name",
                "label",
                "from",
                "to",
                "roles",
                "requires",
                "rules",
                "set",
                "add_labels",
                "remove_labels",
                "emails",
                "fresh",
                "note",
                "assign",
                "create",
                "documents",
            },
            where,
        )
        name = str(t.get("name", ""))
        if not NAME.match(name):
            self.p.add(t, "name", f"{where}.name", "expected a lower_snake_case name")
        sources = self._names(t, "from", f"{where}.from", t.get("from"))
        if not sources:
            self.p.add(t, "from", f"{where}.from", "a transition needs a from state")
        for s in sources:
            if s not in states:
                self.p.add(t, "from", f"{where}.from", f"unknown state {s!r}")
        branches: list[Branch] = []
        to = t.get("to")
        if isinstance(to, str):
            branches.append(Branch(to))
        elif isinstance(to, list):
            for b in to:
                if isinstance(b, dict) and isinstance(b.get("to"), str):
                    branches.append(
                        Branch(b["to"], checker.condition(b.get("when"), t, "to", f"{where}.to.when"))
                    )
                else:
                    self.p.add(t, "to", f"{where}.to", "each branch needs to: STATE (and optionally when:)")
            if branches and branches[-1].when is not None:
                self.p.add(t, "to", f"{where}.to", "the last branch must have no when: (it is the default)")
        elif to is not None:
            self.p.add(t, "to", f"{where}.to", "expected a state or a list of branches")
        for b in branches:
            if b.to not in states:
                self.p.add(t, "to", f"{where}.to", f"unknown state {b.to!r}")
        t_roles = self._names(t, "roles", f"{where}.roles", t.get("roles"))
        if not t_roles:
            self.p.add(t, "name", f"{where}.roles", "a transition needs the roles that may take it")
        for role in t_roles:
            if role not in roles:
                self.p.add(t, "roles", f"{where}.roles", f"unknown role {role!r}")
        rules = []
        rules_raw = t.get("rules") or []
        if not isinstance(rules_raw, list):
            self.p.add(t, "rules", f"{where}.rules", "expected a list")
            rules_raw = []
        for i, r in enumerate(rules_raw):
            r_where = f"{where}.rules[{i}]"
            if not isinstance(r, dict) or r.get("require") is None:
                self.p.add(t, "rules", r_where, "expected require: CONDITION, message: TEXT")
                continue
            require = checker.condition(r["require"], t, "rules", f"{r_where}.require")
            when = checker.condition(r.get("when"), t, "rules", f"{r_where}.when")
            if require is not None:
                rules.append(Rule(require, str(r.get("message") or conditions.describe(require)), when))
        sets = t.get("set") or {}
        if not isinstance(sets, dict):
            self.p.add(t, "set", f"{where}.set", "expected a mapping of field: value")
            sets = {}
        for key, value in sets.items():
            f = fields.get(key) or _COMMON.get(key)
            if f is None or f.system:
                self.p.add(t, "set", f"{where}.set.{key}", "unknown field" if f is None else "kept by erflow")
            elif f.problem(value):
                self.p.add(t, "set", f"{where}.set.{key}", str(f.problem(value)))
        note = str(t.get("note", "optional"))
        if note not in ("optional", "required"):
            self.p.add(t, "note", f"{where}.note", "expected optional or required")
        return Transition(
            name=name,
            label=str(t.get("label") or name),
            sources=sources,
            branches=tuple(branches),
            roles=t_roles,
            requires=self.requires(t, where, checker),
            rules=tuple(rules),
            sets=dict(sets),
            add_labels=self._names(t, "add_labels", f"{where}.add_labels", t.get("add_labels")),
            remove_labels=self._names(t, "remove_labels", f"{where}.remove_labels", t.get("remove_labels")),
            emails=self.emails(t, where, checker),
            fresh=bool(t.get("fresh", False)),
            note=note,
            assign=self.assign(t, where, roles, None, checker),
            create=self.linked(t, where, checker),
            documents=self.documents(t, where, checker),
            line=t.line,
        )

    def assign(
        self, node: yamlio.LineDict, where: str, roles: set[str], owner: str | None, checker: _RefChecker
    ) -> tuple[Assign, ...]:
        """``assign:`` as one mapping, or a route: a list of them, the first whose ``when`` holds."""
        raw = node.get("assign")
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        result = []
        for i, item in enumerate(items):
            a_where = f"{where}.assign" + (f"[{i}]" if isinstance(raw, list) else "")
            if not isinstance(item, dict):
                self.p.add(node, "assign", a_where, "expected {person: EMAIL} or {role: ROLE, rule: RULE}")
                continue
            unknown = set(item) - {"person", "role", "rule", "when"}
            if unknown:
                self.p.add(node, "assign", a_where, f"unknown key {sorted(unknown)[0]!r}")
            person = item.get("person")
            role = item.get("role")
            rule = str(item.get("rule", "keep"))
            if person is not None and (role is not None or "rule" in item):
                self.p.add(node, "assign", a_where, "give a person, or a role and a rule, not both")
            if person is not None and str(person).lower() not in self.people:
                self.p.add(node, "assign", a_where, f"unknown person {person!r}")
            if role is not None and role not in roles:
                self.p.add(node, "assign", a_where, f"unknown role {role!r}")
            if rule not in ASSIGN_RULES:
                self.p.add(
                    node,
                    "assign",
                    a_where,
                    f"unknown rule {rule!r} (expected one of: {', '.join(ASSIGN_RULES)})",
                )
            if person is None and role is None and owner is None and node is not None and "from" not in node:
                self.p.add(node, "assign", a_where, "a rule needs a role (the state has no owner role)")
            when = checker.condition(item.get("when"), node, "assign", f"{a_where}.when")
            result.append(Assign(str(person).lower() if person else None, role, rule, when))
        if isinstance(raw, list) and result and result[-1].when is not None:
            self.p.add(
                node, "assign", f"{where}.assign", "the last branch must have no when: (it is the default)"
            )
        return tuple(result)

    def documents(self, node: yamlio.LineDict, where: str, checker: _RefChecker) -> tuple[Document, ...]:
        """``documents:``: files written from templates/documents/, at a path inside the store."""
        result = []
        for i, item in enumerate(
            self._list(node, "documents", where, "expected a list of {template:, path:}")
        ):
            d_where = f"{where}.documents[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("template"), str):
                self.p.add(node, "documents", d_where, "expected {template: NAME, path: 'folder/{id}.md'}")
                continue
            path = str(item.get("path", ""))
            problem = document_path_problem(path)
            if problem:
                self.p.add(node, "documents", f"{d_where}.path", problem)
            when = checker.condition(item.get("when"), node, "documents", f"{d_where}.when")
            result.append(Document(item["template"], path, when))
        return tuple(result)

    def linked(self, node: yamlio.LineDict, where: str, checker: _RefChecker) -> tuple[LinkedTicket, ...]:
        """``create:`` on a transition; the other type's fields are checked once every type is known."""
        result = []
        expected = "expected a list of {type: TYPE, link: RELATION, ...}"
        for i, item in enumerate(self._list(node, "create", where, expected)):
            c_where = f"{where}.create[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                self.p.add(
                    node, "create", c_where, "expected {type: TYPE, link: RELATION, copy: [...], set: {...}}"
                )
                continue
            unknown = set(item) - {"type", "link", "copy", "map", "set", "description", "when"}
            if unknown:
                self.p.add(node, "create", c_where, f"unknown key {sorted(unknown)[0]!r}")
            link = str(item.get("link", "relates"))
            if link not in LINK_INVERSE:
                self.p.add(
                    node,
                    "create",
                    c_where,
                    f"unknown relation {link!r} (expected one of: {', '.join(LINK_INVERSE)})",
                )
            copy = self._names(node, "create", f"{c_where}.copy", item.get("copy"))
            for name in copy:
                checker.field(name, node, "create", f"{c_where}.copy")
            mapping = item.get("map") or {}
            if not isinstance(mapping, dict):
                self.p.add(node, "create", f"{c_where}.map", "expected new_field: this_field")
                mapping = {}
            for source in mapping.values():
                checker.field(str(source), node, "create", f"{c_where}.map")
            sets = item.get("set") or {}
            if not isinstance(sets, dict):
                self.p.add(node, "create", f"{c_where}.set", "expected field: value")
                sets = {}
            when = checker.condition(item.get("when"), node, "create", f"{c_where}.when")
            result.append(
                LinkedTicket(
                    item["type"],
                    link,
                    copy,
                    {str(k): str(v) for k, v in mapping.items()},
                    dict(sets),
                    bool(item.get("description", True)),
                    when,
                    node.line_of("create"),
                )
            )
        return tuple(result)

    def requires(self, node: yamlio.LineDict, where: str, checker: _RefChecker) -> tuple[Requirement, ...]:
        plain: list[str] = []
        result: list[Requirement] = []
        for i, item in enumerate(self._list(node, "requires", where)):
            if isinstance(item, str):
                checker.field(item, node, "requires", f"{where}.requires[{i}]")
                plain.append(item)
            elif isinstance(item, dict) and isinstance(item.get("fields"), list):
                for f in item["fields"]:
                    checker.field(str(f), node, "requires", f"{where}.requires[{i}].fields")
                when = checker.condition(item.get("when"), node, "requires", f"{where}.requires[{i}].when")
                result.append(Requirement(tuple(str(f) for f in item["fields"]), when))
            else:
                self.p.add(
                    node,
                    "requires",
                    f"{where}.requires[{i}]",
                    "expected a field name or {when: ..., fields: [...]}",
                )
        return (Requirement(tuple(plain)),) + tuple(result) if plain else tuple(result)

    def emails(self, node: yamlio.LineDict, where: str, checker: _RefChecker) -> tuple[EmailSpec, ...]:
        result = []
        for i, item in enumerate(self._list(node, "emails", where)):
            if isinstance(item, str):
                result.append(EmailSpec(item, line=node.line_of("emails")))
            elif isinstance(item, dict) and isinstance(item.get("template"), str):
                when = checker.condition(item.get("when"), node, "emails", f"{where}.emails[{i}].when")
                line = (
                    item.line_of("template") if isinstance(item, yamlio.LineDict) else node.line_of("emails")
                )
                result.append(EmailSpec(item["template"], when, str(item.get("to") or "customer"), line))
            else:
                self.p.add(
                    node,
                    "emails",
                    f"{where}.emails[{i}]",
                    "expected a template name or {template: ..., when: ...}",
                )
        return tuple(result)


class _RefChecker:
    """Checks that conditions and requirements name fields and policies that exist."""

    def __init__(self, problems: _Problems, known: set[str], policies: Mapping[str, Any]) -> None:
        self.p = problems
        self.known = known
        self.policies = policies

    def field(self, name: str, node: Any, key: str, where: str) -> None:
        if name not in self.known:
            self.p.add(node, key, where, f"unknown field {name!r}")

    def condition(self, raw: Any, node: Any, key: str, where: str) -> Mapping[str, Any] | None:
        """The condition if it is well formed (problems reported), else None."""
        if raw is None:
            return None
        return dict(raw) if self._valid(raw, node, key, where) else None

    def _valid(self, raw: Any, node: Any, key: str, where: str) -> bool:
        if not isinstance(raw, dict) or not raw:
            self.p.add(node, key, where, "a condition is a mapping of field: expected value")
            return False
        ok = True
        for k, v in raw.items():
            if k in ("all", "any"):
                if not isinstance(v, list) or not v:
                    self.p.add(node, key, where, f"{k}: expected a list of conditions")
                    ok = False
                    continue
                ok = all([self._valid(sub, node, key, f"{where}.{k}") for sub in v]) and ok
            elif k == "not":
                ok = self._valid(v, node, key, f"{where}.not") and ok
            elif k.startswith("policy."):
                if k[7:] not in self.policies:
                    self.p.add(node, key, where, f"unknown policy {k[7:]!r}")
                    ok = False
            else:
                self.field(k, node, key, where)
                ok = k in self.known and ok
                ok = self._valid_expected(k, v, node, key, where) and ok
        return ok

    def _valid_expected(self, name: str, expected: Any, node: Any, key: str, where: str) -> bool:
        if not isinstance(expected, dict):
            if isinstance(expected, (list, dict)):
                self.p.add(node, key, where, f"{name}: expected a value or a mapping of operators")
                return False
            return True
        ok = True
        for op, arg in expected.items():
            problem = None
            if op not in conditions.OPERATORS:
                problem = f"unknown operator {op!r} (expected one of: {_OPERATOR_LIST})"
            elif op == "set" and not isinstance(arg, bool):
                problem = "set: expected true or false"
            elif op == "in" and not isinstance(arg, list):
                problem = "in: expected a list of values"
            elif op in ("gt", "gte", "lt", "lte") and (
                isinstance(arg, bool) or not isinstance(arg, (int, float))
            ):
                problem = f"{op}: expected a number"
            elif op in ("not", "contains") and isinstance(arg, (list, dict)):
                problem = f"{op}: expected a single value"
            if problem:
                self.p.add(node, key, where, problem)
                ok = False
        return ok
