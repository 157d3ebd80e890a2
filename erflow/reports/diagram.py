"""The workflow as a diagram: Mermaid state diagrams, Graphviz DOT, or a text outline for a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from erflow.core.workflow import TicketType, Transition

Counts = Mapping[tuple[str, str], int]  # (type, state) -> tickets in it


def _edges(ticket_type: TicketType) -> list[tuple[str, str, str]]:
    edges = []
    for transition in ticket_type.transitions:
        for source in transition.sources:
            for target in transition.targets(source):
                edges.append((source, target, transition.name))
    return edges


def render(types: Sequence[TicketType], fmt: str, counts: Counts | None = None) -> str:
    """Each type's states and transitions; with ``counts``, each state's label says how many
    tickets sit in it (and the title how many in all)."""
    return "".join(_mermaid(t, counts) if fmt == "mermaid" else _dot(t, counts) for t in types)


def _label(ticket_type: TicketType, name: str, counts: Counts | None) -> str:
    label = ticket_type.states[name].label
    if counts is None:
        return label
    n = counts.get((ticket_type.name, name), 0)
    return f"{label} ({n} ticket{'' if n == 1 else 's'})"


def _title(ticket_type: TicketType, counts: Counts | None) -> str:
    title = f"{ticket_type.label} ({ticket_type.prefix}-)"
    if counts is None:
        return title
    total = sum(n for (type_name, _), n in counts.items() if type_name == ticket_type.name)
    return f"{title}: {total} ticket{'' if total == 1 else 's'}"


def _mermaid(ticket_type: TicketType, counts: Counts | None) -> str:
    title = _title(ticket_type, counts).replace(":", " -")
    lines = ["---", f"title: {title}", "---", "stateDiagram-v2"]
    lines.append(f"    [*] --> {ticket_type.initial}")
    for name in ticket_type.states:
        lines.append(f"    {name} : {_label(ticket_type, name, counts).replace(':', ' -')}")
    for source, target, label in _edges(ticket_type):
        lines.append(f"    {source} --> {target} : {label}")
    for name, state in ticket_type.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    return "\n".join(lines) + "\n"


def _dot(ticket_type: TicketType, counts: Counts | None) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(ticket_type.name)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    lines.append(f"  label={quote(_title(ticket_type, counts))}; labelloc=t;")
    for name, state in ticket_type.states.items():
        shape = ", peripheries=2" if state.terminal else ""
        lines.append(f"  {quote(name)} [label={quote(_label(ticket_type, name, counts))}{shape}];")
    for source, target, label in _edges(ticket_type):
        lines.append(f"  {quote(source)} -> {quote(target)} [label={quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def outline(types: Sequence[TicketType], counts: Counts | None = None) -> str:
    """Each type's states in workflow order, each with the transitions out of it: where they go,
    who may take them and the fields their gate needs; terminal states marked. Plain text."""
    blocks = []
    for ticket_type in types:
        lines = [_title(ticket_type, counts)]
        for name, state in ticket_type.states.items():
            marks = [
                m
                for m in ("start" if name == ticket_type.initial else "", "end" if state.terminal else "")
                if m
            ]
            lines.append(
                f"  {name}: {_label(ticket_type, name, counts)}" + (f" [{', '.join(marks)}]" if marks else "")
            )
            for transition in ticket_type.transitions_from(name):
                lines.append(f"    {_route(transition, name)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _route(transition: Transition, source: str) -> str:
    targets = transition.targets(source)
    route = f"{transition.name} \u2192 {' | '.join(targets)}"
    if transition.roles:
        route += f"  ({', '.join(transition.roles)})"
    needs = sorted(transition.required_fields())
    return route + (f"  needs {', '.join(needs)}" if needs else "")
