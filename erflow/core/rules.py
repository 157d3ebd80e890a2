"""The rules themselves as the audit guards them: who may change workflow.yaml and templates/, and
what a change of workflow.yaml did, told as a person reads it (roles granted, gates removed,
transitions and states added or removed)."""

from __future__ import annotations

from erflow.core.workflow import ANYONE, TicketType, Transition, Workflow

ADMIN_ROLE = "admin"
PERMISSION = "workflow"  # permissions.workflow in workflow.yaml; the admin role when it is absent


def may_change(workflow: Workflow, actor: str) -> bool:
    """Whether ``actor`` may change the rules: a person of ``workflow`` holding a role that
    ``permissions.workflow`` names (``admin`` when the workflow names none)."""
    allowed = workflow.permissions.get(PERMISSION) or (ADMIN_ROLE,)
    if actor.lower() not in workflow.people:
        return False
    return ANYONE in allowed or bool(set(allowed) & set(workflow.roles_of(actor)))


def allowed_roles(workflow: Workflow) -> tuple[str, ...]:
    return workflow.permissions.get(PERMISSION) or (ADMIN_ROLE,)


def changes(old: Workflow, new: Workflow) -> list[str]:
    """What going from ``old`` to ``new`` changed that widens or reshapes what people may do, one
    short phrase each, in a stable order."""
    found: list[str] = []
    for email, person in new.people.items():
        before = set(old.roles_of(email))
        for role in person.roles:
            if role not in before:
                found.append(f"grants {email} -> {role}")
    for email, person in old.people.items():
        kept = set(new.roles_of(email))
        for role in person.roles:
            if role not in kept:
                found.append(f"revokes {email} -> {role}")
    for action in dict.fromkeys([*old.permissions, *new.permissions]):
        was, now = old.permissions.get(action, (ANYONE,)), new.permissions.get(action, (ANYONE,))
        for role in now:
            if role not in was:
                found.append(f"permits {role} to {action}")
    for name in dict.fromkeys([*old.types, *new.types]):
        if name not in new.types:
            found.append(f"removes type {name}")
        elif name not in old.types:
            found.append(f"adds type {name}")
        else:
            found += _type_changes(old.types[name], new.types[name])
    return found


def _type_changes(old: TicketType, new: TicketType) -> list[str]:
    name = old.name
    found = [f"adds state {name}.{s}" for s in new.states if s not in old.states]
    found += [f"removes state {name}.{s}" for s in old.states if s not in new.states]
    before = _moves(old)
    after = _moves(new)
    for key, transition in after.items():
        label = f"{name}.{key[0]} from {key[1]}"
        if key not in before:
            found.append(f"adds transition {label} -> {', '.join(transition.targets(key[1]))}")
            continue
        was = before[key]
        for role in transition.roles:
            if role not in was.roles:
                found.append(f"opens transition {label} to role {role}")
        for target in transition.targets(key[1]):
            if target not in was.targets(key[1]):
                found.append(f"lets transition {label} reach {target}")
        dropped = [f for f in sorted(was.required_fields()) if f not in transition.required_fields()]
        for field_name in dropped:
            found.append(f"removes gate {name}.{key[0]}: {field_name}")
        for rule in was.rules:
            if rule not in transition.rules:
                found.append(f"removes rule of {name}.{key[0]}: {rule.message}")
    found += [f"removes transition {name}.{k[0]} from {k[1]}" for k in before if k not in after]
    return found


def _moves(ticket_type: TicketType) -> dict[tuple[str, str], Transition]:
    return {(t.name, source): t for t in ticket_type.transitions for source in t.sources}
