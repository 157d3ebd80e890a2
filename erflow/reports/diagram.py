"""The workflow as a diagram: Mermaid state diagrams or Graphviz DOT."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from erflow.core.workflow import TicketType

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
