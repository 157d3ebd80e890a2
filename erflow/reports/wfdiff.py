"""Two versions of a workflow compared, type by type: the states and transitions one has and the
other has not, and the transitions both have that changed (roles, gate fields, emails, targets);
told as data (``as_json``) or as a plain text outline. erflow.reports.diagram draws it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from erflow.core.workflow import State, TicketType, Transition, Workflow

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_STATE_FACETS = ("label", "owner", "terminal")


@dataclass(frozen=True)
class Delta:
    """What a set of names gained and lost."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def as_json(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed)}

    def phrase(self, what: str) -> str:
        signed = [f"+{n}" for n in self.added] + [f"\u2212{n}" for n in self.removed]
        return f"{what} {' '.join(signed)}"


def delta(old: Iterable[str], new: Iterable[str]) -> Delta:
    before, after = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    return Delta(tuple(n for n in after if n not in before), tuple(n for n in before if n not in after))


@dataclass(frozen=True)
class TransitionDiff:
    """One transition out of one state (``name`` from ``source``): added, removed or changed. For a
    change, the facets that differ; ``targets`` are the states it reaches in the version that has
    it (the new one when both do)."""

    name: str
    source: str
    status: str
    targets: tuple[str, ...]
    roles: Delta = Delta()
    requires: Delta = Delta()
    emails: Delta = Delta()
    reaches: Delta = Delta()

    def facets(self) -> dict[str, Delta]:
        found = {"roles": self.roles, "requires": self.requires, "emails": self.emails}
        found["targets"] = self.reaches
        return {k: v for k, v in found.items() if v}

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "from": self.source, "to": list(self.targets)}
        data.update({k: v.as_json() for k, v in self.facets().items()})
        return data


@dataclass(frozen=True)
class StateDiff:
    """A state both versions have whose label, owner role or terminal flag differ: facet -> (old, new)."""

    name: str
    changes: Mapping[str, tuple[Any, Any]]


@dataclass
class TypeDiff:
    """One ticket type compared; ``old`` or ``new`` is None when the type is only in the other."""

    name: str
    old: TicketType | None
    new: TicketType | None
    states_added: list[str] = field(default_factory=list)
    states_removed: list[str] = field(default_factory=list)
    states_changed: list[StateDiff] = field(default_factory=list)
    transitions: list[TransitionDiff] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.old is None:
            return ADDED
        if self.new is None:
            return REMOVED
        return CHANGED if self.differs else "same"

    @property
    def differs(self) -> bool:
        return bool(self.states_added or self.states_removed or self.states_changed or self.transitions)

    @property
    def shown(self) -> TicketType:
        """The version that draws the type's title and initial state (the new one if it has it)."""
        shown = self.new or self.old
        assert shown is not None
        return shown

    def state_mark(self, name: str) -> str:
        if name in self.states_added:
            return ADDED
        if name in self.states_removed:
            return REMOVED
        return CHANGED if any(s.name == name for s in self.states_changed) else ""

    def transition_mark(self, name: str, source: str) -> str:
        """``changed`` when the transition from ``source`` changed in roles, gate or emails (an edge
        added or removed by a target change is marked as such by the diagram)."""
        for item in self.transitions:
            if item.name == name and item.source == source:
                if item.status != CHANGED:
                    return item.status
                return CHANGED if item.roles or item.requires or item.emails else ""
        return ""

    def by_status(self, status: str) -> list[TransitionDiff]:
        return [t for t in self.transitions if t.status == status]

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.name,
            "status": self.status,
            "states": {
                ADDED: self.states_added,
                REMOVED: self.states_removed,
                CHANGED: [
                    {"state": s.name, "changes": {k: list(v) for k, v in s.changes.items()}}
                    for s in self.states_changed
                ],
            },
            "transitions": {s: [t.as_json() for t in self.by_status(s)] for s in (ADDED, REMOVED, CHANGED)},
        }


@dataclass
class WorkflowDiff:
    """Every type compared, in the new version's order, then the types only the old one has."""

    old_label: str
    new_label: str
    types: list[TypeDiff]

    @property
    def same(self) -> bool:
        return not any(t.differs for t in self.types)

    def as_json(self) -> dict[str, Any]:
        return {
            "old": self.old_label,
            "new": self.new_label,
            "same": self.same,
            "types": [t.as_json() for t in self.types if t.differs],
        }


def compare(
    old: Workflow, new: Workflow, old_label: str, new_label: str, only: str | None = None
) -> WorkflowDiff:
    """``old`` against ``new``; ``only``: that type alone (it must be in one of them)."""
    names = [n for n in dict.fromkeys([*new.types, *old.types]) if only is None or n == only]
    return WorkflowDiff(
        old_label, new_label, [compare_type(n, old.types.get(n), new.types.get(n)) for n in names]
    )


def compare_type(name: str, old: TicketType | None, new: TicketType | None) -> TypeDiff:
    diff = TypeDiff(name, old, new)
    before: Mapping[str, State] = old.states if old else {}
    after: Mapping[str, State] = new.states if new else {}
    diff.states_added = [s for s in after if s not in before]
    diff.states_removed = [s for s in before if s not in after]
    for state_name, state in after.items():
        was = before.get(state_name)
        if was is not None:
            facets = {f: (getattr(was, f), getattr(state, f)) for f in _STATE_FACETS}
            changed = {f: pair for f, pair in facets.items() if pair[0] != pair[1]}
            if changed:
                diff.states_changed.append(StateDiff(state_name, changed))
    moves_before, moves_after = _moves(old), _moves(new)
    for key, transition in moves_after.items():
        targets = tuple(transition.targets(key[1]))
        was_t = moves_before.get(key)
        if was_t is None:
            diff.transitions.append(TransitionDiff(key[0], key[1], ADDED, targets))
            continue
        item = TransitionDiff(
            key[0],
            key[1],
            CHANGED,
            targets,
            roles=delta(was_t.roles, transition.roles),
            requires=delta(_required(was_t), _required(transition)),
            emails=delta(_emails(was_t), _emails(transition)),
            reaches=delta(was_t.targets(key[1]), targets),
        )
        if item.facets():
            diff.transitions.append(item)
    for key, transition in moves_before.items():
        if key not in moves_after:
            diff.transitions.append(
                TransitionDiff(key[0], key[1], REMOVED, tuple(transition.targets(key[1])))
            )
    return diff


def _moves(ticket_type: TicketType | None) -> dict[tuple[str, str], Transition]:
    if ticket_type is None:
        return {}
    return {(t.name, source): t for t in ticket_type.transitions for source in t.sources}


def _required(transition: Transition) -> list[str]:
    return [f for r in transition.requires for f in r.fields]


def _emails(transition: Transition) -> list[str]:
    return [e.template if e.to == "customer" else f"{e.template} (to {e.to})" for e in transition.emails]


# --- the text outline ----------------------------------------------------------------------------


def outline(diff: WorkflowDiff) -> str:
    """The differences as indented plain lines, per type; one line when there are none."""
    if diff.same:
        return f"No difference between {diff.old_label} and {diff.new_label}.\n"
    lines = [f"Changes from {diff.old_label} to {diff.new_label}:"]
    for item in diff.types:
        if item.differs:
            lines += ["", *_type_lines(item)]
    return "\n".join(lines) + "\n"


def _type_lines(item: TypeDiff) -> list[str]:
    shown = item.shown
    head = f"{shown.label} ({item.name}, {shown.prefix}-)"
    lines = [head + {ADDED: ": new type", REMOVED: ": type removed"}.get(item.status, "")]
    if item.states_added:
        lines.append(f"  states added: {', '.join(item.states_added)}")
    if item.states_removed:
        lines.append(f"  states removed: {', '.join(item.states_removed)}")
    for state in item.states_changed:
        said = "; ".join(f"{k} {_show(a)} \u2192 {_show(b)}" for k, (a, b) in state.changes.items())
        lines.append(f"  state changed: {state.name}: {said}")
    for status in (ADDED, REMOVED, CHANGED):
        found = item.by_status(status)
        if found:
            lines.append(f"  transitions {status}:")
            lines += [f"    {_transition_line(t)}" for t in found]
    return lines


def _transition_line(item: TransitionDiff) -> str:
    route = f"{item.name}: {item.source} \u2192 {' | '.join(item.targets)}"
    if item.status != CHANGED:
        return route
    return f"{route}: " + "; ".join(d.phrase(k) for k, d in item.facets().items())


def _show(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def union_states(item: TypeDiff) -> list[tuple[str, State, str]]:
    """Every state of either version (new ones' order first), with the version that has it and its
    mark."""
    after: Mapping[str, State] = item.new.states if item.new else {}
    before: Mapping[str, State] = item.old.states if item.old else {}
    merged = [*after.items(), *((n, s) for n, s in before.items() if n not in after)]
    return [(n, s, item.state_mark(n)) for n, s in merged]


def union_edges(item: TypeDiff) -> list[tuple[str, str, str, str]]:
    """Every (source, target, transition, mark) edge of either version: one only the new version
    draws is added, one only the old draws is removed, and one both draw is changed when its
    transition's roles, gate or emails changed."""
    after, before = _edges(item.new), _edges(item.old)
    found = [(s, t, n, item.transition_mark(n, s) if (s, t, n) in before else ADDED) for s, t, n in after]
    found += [(s, t, n, REMOVED) for s, t, n in before if (s, t, n) not in after]
    return found


def _edges(ticket_type: TicketType | None) -> list[tuple[str, str, str]]:
    if ticket_type is None:
        return []
    return [
        (s, target, t.name) for t in ticket_type.transitions for s in t.sources for target in t.targets(s)
    ]
