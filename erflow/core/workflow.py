"""The workflow as frozen objects: ticket types with their fields, states, transitions, SLA and timers,
and the people and roles that work them. erflow.core.loader builds them from workflow.yaml's bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from erflow.core.businesstime import Calendar, Duration
from erflow.core.errors import NotFound
from erflow.core.fields import COMMON_FIELDS, Field
from erflow.core.record import Record, field

if TYPE_CHECKING:
    from pathlib import Path  # an annotation only: pathlib is not paid for by importing the model

ANYONE = "*"
CUSTOMER = "customer"  # the role of a ticket's customer (customer_email), who acts by email


def is_customer(actor: str, ticket: Mapping[str, Any]) -> bool:
    address = ticket.get("customer_email")
    return bool(actor) and isinstance(address, str) and address.strip().lower() == actor.strip().lower()


class Requirement(Record):
    fields: tuple[str, ...]
    when: Mapping[str, Any] | None = None


class Rule(Record):
    require: Mapping[str, Any]
    message: str
    when: Mapping[str, Any] | None = None


class EmailSpec(Record):
    template: str
    when: Mapping[str, Any] | None = None
    to: str = "customer"
    line: int = field(default=0, compare=False)  # where workflow.yaml names it (0: not known)


class Branch(Record):
    to: str
    when: Mapping[str, Any] | None = None


# unchanged: the owner stays whoever they are (a route's branch that reassigns nothing).
ASSIGN_RULES = ("keep", "queue", "fewest_open", "round_robin", "unchanged")


class Assign(Record):
    """Who gets a ticket: a person, or a role by a rule; ``when`` makes it one branch of a route.
    ``keep``: the owner stays when they hold the role, and the rule picks only otherwise."""

    person: str | None = None
    role: str | None = None  # None: the owner role of the state entered
    rule: str = "keep"
    when: Mapping[str, Any] | None = None
    keep: bool = False


class LinkedTicket(Record):
    """A ticket of another type that a transition creates and links to the ticket it moves."""

    type: str
    link: str  # the relation from the moving ticket to the new one
    copy: tuple[str, ...] = ()
    map: Mapping[str, str] = field(default_factory=dict)  # new ticket's field -> this ticket's field
    sets: Mapping[str, Any] = field(default_factory=dict)
    description: bool = True
    when: Mapping[str, Any] | None = None
    line: int = 0


class Document(Record):
    """A file a transition writes into the store from a document template (``{id}`` in the path)."""

    template: str
    path: str
    when: Mapping[str, Any] | None = None


class Transition(Record):
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


class ReplyRule(Record):
    """What a customer's email reply does to a ticket in a state: the transition it takes (as the
    customer, under the ``customer`` role), when its text ``match``es (a regular expression; None: any
    reply), and the field its text fills (None: it is the transition's note)."""

    transition: str
    match: str | None = None
    fills: str | None = None  # workflow.yaml: field
    line: int = field(default=0, compare=False)


class State(Record):
    name: str
    label: str
    owner: str | None = None
    stage: str = ""
    terminal: bool = False
    waiting: str | None = None
    assign: tuple[Assign, ...] = ()
    on_reply: tuple[ReplyRule, ...] = ()
    line: int = field(default=0, compare=False)  # where workflow.yaml names it (0: not known)


class IntakeRoute(Record):
    """One intake rule: a message to ``to`` (an address), or whose subject or text matches (regular
    expressions, case-insensitive), becomes a ticket of ``type`` with the fields ``sets``."""

    type: str
    to: str | None = None
    subject: str | None = None
    body: str | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


class Intake(Record):
    """How mail comes in (workflow.yaml ``intake:``): the desk's address (the Reply-To of every
    customer email), the routes a new message is tried against in order, the type it gets when none
    matches (None: it waits in quarantine), whether the creation's acknowledgement goes out, the
    largest message taken, and whether a reply from another address than the ticket's customer may
    move the ticket (``verify_sender``: it may not; it is logged as unverified)."""

    address: str | None = None
    routes: tuple[IntakeRoute, ...] = ()
    default_type: str | None = None
    acknowledge: bool = True
    max_bytes: int = 10 * 1024 * 1024
    verify_sender: bool = True


class Actions(Record):
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


class Timer(Record):
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


class SlaTarget(Record):
    response: Duration | None
    resolution: Duration | None
    when: Mapping[str, Any] | None = None
    business: bool | None = None  # None: the SLA's clock


class Sla(Record):
    """Response and resolution targets; the resolution clock pauses in ``pause`` states."""

    targets: tuple[SlaTarget, ...]
    business: bool = True
    at_risk: float = 0.8
    pause: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()  # states that stop the resolution clock, besides terminal ones
    escalate: Actions = Actions()
    line: int = 0


class Follows(Record):
    """A type whose tickets follow the ticket they are linked to by ``link`` (e.g. created_by): when
    that ticket enters a state named in ``states``, the follower moves to the state mapped to, and
    with ``notes`` the notes added to that ticket are copied to it, in the same commit."""

    link: str
    states: Mapping[str, str]
    notes: bool = True
    line: int = 0


class CreateSpec(Record):
    requires: tuple[Requirement, ...] = ()
    emails: tuple[EmailSpec, ...] = ()


class TicketType(Record):
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
    follows: Follows | None = None
    # Who signs the type's emails: a name, or "{owner}" (the owner's name under people); "" is
    # settings.sender_name.
    sender_name: str = ""

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


class Person(Record):
    email: str
    name: str
    roles: tuple[str, ...]
    mute: tuple[str, ...] = ()  # events this person is never sent email for (MUTABLE)


NOTIFY_EVENTS = (
    "assigned",
    "customer_replied",
    "role_needed",
    "sla_at_risk",
    "sla_breached",
    "timer_fired",
    "stuck",
)
MUTABLE = (*NOTIFY_EVENTS, "digest")  # what a person may mute: the events, and the daily digest


class Recipient(Record):
    """Who a notification goes to: ``owner`` (the ticket's owner), ``role`` (the members of the roles
    that take the ticket's next transitions), ``on_call`` (the rota's person of the week), ``members``
    (every member of the role ``name``) or ``person`` (the address ``name``)."""

    kind: str
    name: str = ""


class NotifyRule(Record):
    """One ``notifications.rules`` item: on ``event``, when its filters hold, ``template`` to ``to``.
    ``share`` (sla_at_risk), ``after`` and ``business`` (stuck) and ``timers`` (timer_fired) belong
    to one event each."""

    event: str
    template: str
    to: tuple[Recipient, ...]
    types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    when: Mapping[str, Any] | None = None
    hours: str | None = None  # inside or outside the calendar's business hours; None: any time
    share: float = 0.8
    after: Duration | None = None
    business: bool = True
    timers: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)


class Notifications(Record):
    """workflow.yaml ``notifications:``: the rules, and the role whose members take the on-call
    rota (one per ISO week, in ``people:`` order)."""

    rules: tuple[NotifyRule, ...] = ()
    on_call: str | None = None


class Workflow(Record):
    path: Path
    settings: Mapping[str, Any]
    policies: Mapping[str, Any]
    roles: Mapping[str, str]
    people: Mapping[str, Person]
    permissions: Mapping[str, tuple[str, ...]]
    types: Mapping[str, TicketType]
    calendar: Calendar = Calendar()
    intake: Intake = Intake()
    notifications: Notifications = Notifications()

    def type(self, name: str) -> TicketType:
        found = self.types.get(name)
        if found is None:
            import difflib

            close = difflib.get_close_matches(name, list(self.types), n=1)
            raise NotFound(
                f"no ticket type {name!r}",
                hint=f"did you mean {close[0]}?" if close else f"types: {', '.join(self.types)}",
            )
        return found

    def type_of_id(self, ticket_id: str) -> TicketType | None:
        prefix = ticket_id.split("-", 1)[0].upper()
        return next((t for t in self.types.values() if t.prefix == prefix), None)

    def roles_of(self, actor: str, ticket: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The actor's roles; with a ticket's values, also ``customer`` when the actor is the
        ticket's customer (its customer_email)."""
        person = self.people.get(actor.lower())
        roles = person.roles if person else ()
        if ticket is not None and is_customer(actor, ticket):
            roles = (*roles, CUSTOMER)
        return roles

    def may(self, actor: str, action: str, ticket: Mapping[str, Any] | None = None) -> bool:
        allowed = self.permissions.get(action, (ANYONE,))
        roles = self.roles_of(actor, ticket)
        if not roles:
            return False
        return (ANYONE in allowed and actor.lower() in self.people) or bool(set(allowed) & set(roles))

    def people_with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]


_COMMON = {f.name: f for f in COMMON_FIELDS}


_RESERVED = ("tickets", "templates", ".git", ".erflow", "workflow.yaml", "mail", "outbox")


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
