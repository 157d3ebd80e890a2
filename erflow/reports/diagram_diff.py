"""Two workflow versions drawn as one diagram: the union of their states and transitions, what the
new version adds in green, what it drops in red and dashed, and what it changes (a state's label,
owner or end; a transition's roles, gate fields or emails) in orange.

Mermaid's state diagrams cannot colour a transition, so the Mermaid form is a flowchart: states are
nodes (an end state is a rounded "stadium"), colours are classDef classes for nodes and linkStyle
lines for transitions. The DOT form sets color attributes."""

from __future__ import annotations

import json
import re

from erflow.reports.diagram import Counts
from erflow.reports.wfdiff import ADDED, CHANGED, REMOVED, TypeDiff, WorkflowDiff, union_edges, union_states

GREEN, RED, ORANGE = "#1a7f37", "#cf222e", "#d97706"
COLOURS = {ADDED: GREEN, REMOVED: RED, CHANGED: ORANGE}
LEGEND = "green: added, red dashed: removed, orange: changed"
_CLASSES = {
    ADDED: f"fill:#dafbe1,stroke:{GREEN},color:{GREEN},stroke-width:2px",
    REMOVED: f"fill:#ffebe9,stroke:{RED},color:{RED},stroke-width:2px,stroke-dasharray:5 5",
    CHANGED: f"fill:#fff1e5,stroke:{ORANGE},color:{ORANGE},stroke-width:2px",
}
_LINKS = {
    ADDED: f"stroke:{GREEN},color:{GREEN},stroke-width:2px",
    REMOVED: f"stroke:{RED},color:{RED},stroke-width:2px,stroke-dasharray:5 5",
    CHANGED: f"stroke:{ORANGE},color:{ORANGE},stroke-width:2px",
}
# Words a Mermaid flowchart reads as its own: a state named so gets another node id.
_RESERVED = {
    "end",
    "graph",
    "subgraph",
    "flowchart",
    "style",
    "class",
    "classdef",
    "click",
    "linkstyle",
    "direction",
}


def render(diff: WorkflowDiff, fmt: str, counts: Counts | None = None) -> str:
    """Each type of either version as one diagram of both, its differences coloured."""
    draw = _mermaid if fmt == "mermaid" else _dot
    return "".join(draw(item, diff, counts) for item in diff.types)


def _label(item: TypeDiff, name: str, label: str, counts: Counts | None) -> str:
    if counts is None:
        return label
    n = counts.get((item.name, name), 0)
    return f"{label} ({n} ticket{'' if n == 1 else 's'})"


def _title(item: TypeDiff, diff: WorkflowDiff) -> str:
    shown = item.shown
    return f"{shown.label} ({shown.prefix}-): {diff.old_label} \u2192 {diff.new_label}"


def _node(name: str) -> str:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) and name.lower() not in _RESERVED:
        return name
    return "s_" + re.sub(r"\W", "_", name) + f"_{sum(map(ord, name))}"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _mermaid(item: TypeDiff, diff: WorkflowDiff, counts: Counts | None) -> str:
    lines = ["---", f"title: {json.dumps(_title(item, diff), ensure_ascii=False)}", "---", "flowchart LR"]
    lines.append(f"    %% {LEGEND}")
    lines += [f"    classDef {mark} {style}" for mark, style in _CLASSES.items()]
    lines.append(f'    _start(("start")) --> {_node(item.shown.initial)}')
    marked: dict[str, list[str]] = {ADDED: [], REMOVED: [], CHANGED: []}
    for name, state, mark in union_states(item):
        text = _quoted(_label(item, name, state.label, counts))
        lines.append(f"    {_node(name)}([{text}])" if state.terminal else f"    {_node(name)}[{text}]")
        if mark:
            marked[mark].append(_node(name))
    links: dict[str, list[str]] = {ADDED: [], REMOVED: [], CHANGED: []}
    for index, (source, target, name, mark) in enumerate(union_edges(item), start=1):
        arrow = "-.->" if mark == REMOVED else "-->"
        lines.append(f"    {_node(source)} {arrow}|{_quoted(name)}| {_node(target)}")
        if mark:
            links[mark].append(str(index))
    lines += [f"    class {','.join(nodes)} {mark}" for mark, nodes in marked.items() if nodes]
    lines += [f"    linkStyle {','.join(ids)} {_LINKS[mark]}" for mark, ids in links.items() if ids]
    return "\n".join(lines) + "\n"


def _dot(item: TypeDiff, diff: WorkflowDiff, counts: Counts | None) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def colour(mark: str, dashed: str) -> str:
        if not mark:
            return ""
        style = f", style={dashed}" if mark == REMOVED else ""
        return f", color={quote(COLOURS[mark])}, fontcolor={quote(COLOURS[mark])}, penwidth=2{style}"

    lines = [f"digraph {quote(item.name)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    lines.append(f'  label={quote(_title(item, diff))[:-1]}\\n{LEGEND}"; labelloc=t;')
    for name, state, mark in union_states(item):
        shape = ", peripheries=2" if state.terminal else ""
        label = quote(_label(item, name, state.label, counts))
        lines.append(f"  {quote(name)} [label={label}{shape}{colour(mark, quote('rounded,dashed'))}];")
    for source, target, name, mark in union_edges(item):
        lines.append(f"  {quote(source)} -> {quote(target)} [label={quote(name)}{colour(mark, 'dashed')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
