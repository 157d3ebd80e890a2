"""The workflow engine, pure: which transitions are open, every reason one is not, and the plan
a transition would apply. No files, git, clock or templates here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from erflow.core import conditions
from erflow.core.conditions import is_set
from erflow.core.errors import NotFound, NotPermitted, Refused, UsageError
from erflow.core.fields import Field
from erflow.core.record import Record, field
from erflow.core.workflow import Assign, EmailSpec, LinkedTicket, TicketType, Transition, Workflow


class Evaluation(Record):
    """One transition judged against a ticket and an actor."""

    transition: Transition
    to: str
    reasons: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    permitted: bool = True

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.transition.name,
            "to": self.to,
            "label": self.transition.label,
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "missing": list(self.missing),
        }


class Plan(Record, frozen=False):
    """What applying a transition does: the new values, the state move, and the emails due."""

    transition: Transition
    from_state: str
    to_state: str
    values: dict[str, Any]
    changes: dict[str, list[Any]] = field(default_factory=dict)
    emails: list[EmailSpec] = field(default_factory=list)
    linked: list[LinkedTicket] = field(default_factory=list)


def parse_sets(ticket_type: TicketType, pairs: Mapping[str, str]) -> dict[str, Any]:
    """Typed values from ``--set K=V`` text; unknown fields and bad values are usage errors."""
    parsed: dict[str, Any] = {}
    for name, raw in pairs.items():
        declared = ticket_type.field(name)
        if declared is None:
            from erflow.core.names import hint

            raise UsageError(
                f"--set {name}: no field {name!r} in type {ticket_type.name}",
                hint=hint(name, [f.name for f in ticket_type.all_fields()])
                or "erflow show ID lists the fields",
            )
        if declared.system:
            raise Refused(
                f"--set {name}: {name!r} is kept by erflow", hint="state changes only through erflow advance"
            )
        try:
            parsed[name] = declared.parse(raw)
        except ValueError as exc:
            raise UsageError(f"--set {exc}") from None
    return parsed


def _role_reason(
    workflow: Workflow, actor: str, allowed: tuple[str, ...], what: str, ticket: Mapping[str, Any]
) -> str | None:
    roles = workflow.roles_of(actor, ticket)
    if not roles:
        return f"{actor} is not listed under people in workflow.yaml, so has no roles"
    if set(roles) & set(allowed):
        return None
    return f"{actor} ({', '.join(roles)}) may not {what}; it needs {' or '.join(allowed)}"


def evaluate(
    workflow: Workflow,
    ticket_type: TicketType,
    current: Mapping[str, Any],
    transition: Transition,
    actor: str,
    sets: Mapping[str, Any] | None = None,
    note: str | None = None,
    *,
    check_note: bool = False,
    system: bool = False,
) -> Evaluation:
    """Judge one transition; collect every reason it cannot be taken."""
    sets = sets or {}
    state = str(current.get("state"))
    merged = _merged(transition, current, sets)
    reasons: list[str] = []
    permitted = True
    role_problem = (
        None
        if system
        else _role_reason(workflow, actor, transition.roles, f"take {transition.name}", current)
    )
    if role_problem:
        reasons.append(role_problem)
        permitted = False
    owned = [
        name for name in sets if (owners := ticket_type.owners_of(name)) and transition.name not in owners
    ]
    for name in owned:
        reasons.append(f"{name} is set only by {', '.join(sorted(ticket_type.owners_of(name)))}")
    missing: list[str] = []
    for requirement in transition.requires:
        if requirement.when is not None and not conditions.holds(requirement.when, merged, workflow.policies):
            continue
        for name in requirement.fields:
            if not is_set(merged.get(name)) and name not in missing:
                missing.append(name)
    if missing:
        fresh = " in this step (--set)" if transition.fresh else ""
        reasons.append(f"missing{fresh}: {', '.join(missing)}")
    for rule in transition.rules:
        if rule.when is not None and not conditions.holds(rule.when, merged, workflow.policies):
            continue
        if not conditions.holds(rule.require, merged, workflow.policies):
            numbers = conditions.explain(rule.require, merged, workflow.policies)
            reasons.append(rule.message + (f" ({'; '.join(numbers)})" if numbers else ""))
    if check_note and transition.note == "required" and not (note and note.strip()):
        reasons.append("a note is required (--note TEXT)")
    return Evaluation(
        transition, target(transition, state, merged, workflow), tuple(reasons), tuple(missing), permitted
    )


def _merged(transition: Transition, current: Mapping[str, Any], sets: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for name in fresh_fields(transition):
        merged.pop(name, None)
    merged.update(sets)
    return merged


def fresh_fields(transition: Transition) -> set[str]:
    """The fields a ``fresh`` transition must be given anew (old values do not count); else none."""
    if not transition.fresh:
        return set()
    return transition.required_fields() | _condition_fields(transition)


def _condition_fields(transition: Transition) -> set[str]:
    found: set[str] = set()
    for requirement in transition.requires:
        if requirement.when:
            found |= conditions.fields_of(requirement.when)
    return found


def target(transition: Transition, state: str, values: Mapping[str, Any], workflow: Workflow) -> str:
    for branch in transition.branches:
        if branch.when is None or conditions.holds(branch.when, values, workflow.policies):
            return branch.to
    return state


def options(
    workflow: Workflow, ticket_type: TicketType, current: Mapping[str, Any], actor: str
) -> list[Evaluation]:
    """Every transition out of the ticket's state, judged for this actor."""
    state = str(current.get("state"))
    return [evaluate(workflow, ticket_type, current, t, actor) for t in ticket_type.transitions_from(state)]


def find_transition(ticket_type: TicketType, state: str, name: str) -> Transition:
    for transition in ticket_type.transitions_from(state):
        if transition.name == name:
            return transition
    if any(t.name == name for t in ticket_type.transitions):
        open_names = ", ".join(t.name for t in ticket_type.transitions_from(state)) or "none"
        raise Refused(
            f"transition {name!r} does not leave state {state!r}", hint=f"from {state}: {open_names}"
        )
    from erflow.core.names import hint

    raise NotFound(
        f"no transition {name!r} in type {ticket_type.name}",
        hint=hint(name, [t.name for t in ticket_type.transitions], "transitions"),
    )


def plan(
    workflow: Workflow,
    ticket_type: TicketType,
    current: Mapping[str, Any],
    name: str,
    actor: str,
    sets: Mapping[str, Any],
    note: str | None,
    *,
    workload: WorkloadSource | None = None,
    system: bool = False,
) -> Plan:
    """``system``: the workflow itself acts (a timer): roles are not checked, gates and rules are."""
    """The plan for one transition, or NotPermitted / Refused listing every reason."""
    state = str(current.get("state"))
    if ticket_type.states.get(state) is None:
        raise Refused(f"state {state!r} is not a state of type {ticket_type.name}")
    transition = find_transition(ticket_type, state, name)
    judged = evaluate(
        workflow, ticket_type, current, transition, actor, sets, note, check_note=True, system=system
    )
    if judged.reasons:
        error = NotPermitted if not judged.permitted else Refused
        raise error(
            f"{current.get('id')}: {name} refused: " + "; ".join(judged.reasons),
            reasons=judged.reasons,
            missing=judged.missing,
            hint="give missing fields with --set FIELD=VALUE"
            if judged.missing and judged.permitted
            else None,
        )
    values = _merged(transition, current, sets)
    for key, value in transition.sets.items():
        values[key] = list(value) if isinstance(value, list) else value
    labels = [label for label in values.get("labels") or [] if label not in transition.remove_labels]
    labels += [label for label in transition.add_labels if label not in labels]
    if labels or "labels" in values:
        values["labels"] = labels
    values["state"] = judged.to
    if judged.to != state or transition.assign:
        owner = owner_for(
            workflow, ticket_type, judged.to, values, assign=transition.assign, workload=workload
        )
        if owner is not None:
            values["owner"] = owner
    emails = [
        spec
        for spec in transition.emails
        if spec.when is None or conditions.holds(spec.when, values, workflow.policies)
    ]
    linked = [
        spec
        for spec in transition.create
        if spec.when is None or conditions.holds(spec.when, values, workflow.policies)
    ]
    return Plan(transition, state, judged.to, values, diff(current, values), emails, linked)


class Workload(Record):
    """Per person: how many open tickets they own, and when they were last given one."""

    open: Mapping[str, int] = field(default_factory=dict)
    latest: Mapping[str, str] = field(default_factory=dict)


WorkloadSource = Callable[[], Workload]


def owner_for(
    workflow: Workflow,
    ticket_type: TicketType,
    state: str,
    values: Mapping[str, Any],
    *,
    assign: Sequence[Assign] = (),
    workload: WorkloadSource | None = None,
) -> str | None:
    """Who owns a ticket entering ``state`` (or taking a transition that assigns).

    The first ``assign`` branch whose condition holds (the transition's, else the state's) decides;
    without one, the state's owner role with the rule ``keep``: the owner stays if they hold the
    role, else the only person with the role, else the role itself as a queue. None when nothing
    names an owner.
    """
    role = ticket_type.states[state].owner
    for spec in assign or ticket_type.states[state].assign:
        if spec.when is None or conditions.holds(spec.when, values, workflow.policies):
            return _assignee(workflow, spec, role, values.get("owner"), workload)
    if role is None:
        return None
    return _assignee(workflow, Assign(role=role), role, values.get("owner"), workload)


def _assignee(
    workflow: Workflow, spec: Assign, state_role: str | None, current: Any, workload: WorkloadSource | None
) -> str | None:
    if spec.person:
        return spec.person
    if spec.rule == "unchanged":
        return current if isinstance(current, str) and current else None
    role = spec.role or state_role
    if role is None:
        return None
    holders = [p.email for p in workflow.people_with_role(role)]
    if spec.rule == "queue" or not holders:
        return role
    if (spec.rule == "keep" or spec.keep) and isinstance(current, str) and current in holders:
        return current
    if spec.rule == "keep":
        return holders[0] if len(holders) == 1 else role
    load = workload() if workload else Workload()
    if spec.rule == "fewest_open":
        return min(holders, key=lambda p: load.open.get(p, 0))
    return min(holders, key=lambda p: load.latest.get(p, ""))  # round_robin: least recently given one


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old != new and key != "updated":
            changes[key] = [old, new]
    return changes


def check_settable(ticket_type: TicketType, name: str) -> Field:
    """Refuse an edit outside transitions of a field that a transition owns."""
    declared = ticket_type.field(name)
    if declared is None:
        from erflow.core.names import hint

        raise UsageError(
            f"no field {name!r} in type {ticket_type.name}",
            hint=hint(name, [f.name for f in ticket_type.all_fields()]) or "erflow show ID lists the fields",
        )
    if declared.system:
        raise Refused(
            f"{name!r} is kept by erflow and cannot be set", hint="states change through erflow advance"
        )
    owners = ticket_type.owners_of(name)
    if owners:
        raise Refused(
            f"{name!r} is set by the transition{'s' if len(owners) > 1 else ''} {', '.join(sorted(owners))}",
            hint="use erflow advance ID TRANSITION --set ...",
        )
    return declared
