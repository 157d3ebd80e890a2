"""The workflow as a diagram: Mermaid state diagrams or Graphviz DOT."""

from __future__ import annotations

from collections.abc import Sequence

from .workflow import TicketType


def _edges(ticket_type: TicketType) -> list[tuple[str, str, str]]:
    edges = []
    for transition in ticket_type.transitions:
        for source in transition.sources:
            for target in transition.targets(source):
                edges.append((source, target, transition.name))
    return edges


def render(types: Sequence[TicketType], fmt: str) -> str:
    return "".join(_mermaid(t) if fmt == "mermaid" else _dot(t) for t in types)


def _mermaid(ticket_type: TicketType) -> str:
    lines = ["---", f"title: {ticket_type.label} ({ticket_type.prefix}-)", "---", "stateDiagram-v2"]
    lines.append(f"    [*] --> {ticket_type.initial}")
    for name, state in ticket_type.states.items():
        lines.append(f"    {name} : {state.label.replace(':', ' -')}")
    for source, target, label in _edges(ticket_type):
        lines.append(f"    {source} --> {target} : {label}")
    for name, state in ticket_type.states.items():
        if state.terminal:
            lines.append(f"    {name} --> [*]")
    return "\n".join(lines) + "\n"


def _dot(ticket_type: TicketType) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(ticket_type.name)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for name, state in ticket_type.states.items():
        shape = ", peripheries=2" if state.terminal else ""
        lines.append(f"  {quote(name)} [label={quote(state.label)}{shape}];")
    for source, target, label in _edges(ticket_type):
        lines.append(f"  {quote(source)} -> {quote(target)} [label={quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
