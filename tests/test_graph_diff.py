"""`erflow graph --against FILE|REV [--new FILE|REV]`: two workflow versions drawn as one diagram
(added green, removed red and dashed, changed orange) in Mermaid and DOT, told as a text outline (on a
terminal, or --format text) and as JSON; errors as one line with the contract's exit code.

The edit made to the default workflow (``EDITS``), as the new version against the committed one:
a state ``on_hold`` with transitions ``hold`` and ``resume`` (added); the state pm_review relabelled
(changed); request_info given another role, gate field and email (changed); config_solves_it sent to
``declined`` instead of ``closed`` (its old edge removed, its new one added). Read the other way round
(--against the edited file --new HEAD), the added ones are removed.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import Cli, describe, one_line_error

import erflow

GREEN, RED, ORANGE = "#1a7f37", "#cf222e", "#d97706"

EDITS = [
    (
        "      pm_review: {owner: pm, label: PM review, stage: Review}\n",
        "      pm_review: {owner: pm, label: Product review, stage: Review}\n"
        "      on_hold: {owner: pm, label: On hold, stage: Review}\n",
    ),
    (
        "        roles: [pm]\n        requires: [info_needed]\n"
        "        set: {pm_validation: needs_info}\n        emails: [pm_more_info]\n",
        "        roles: [pm, support]\n        requires: [info_needed, priority]\n"
        "        set: {pm_validation: needs_info}\n        emails: [pm_more_info, intake_acknowledgement]\n"
        "\n      - name: hold\n        label: Put on hold\n        from: pm_review\n        to: on_hold\n"
        "        roles: [pm]\n"
        "\n      - name: resume\n        label: Resume\n        from: on_hold\n        to: pm_review\n"
        "        roles: [pm]\n",
    ),
    (
        "        from: pm_review\n        to: closed\n",
        "        from: pm_review\n        to: declined\n",
    ),
]


def edited(text: str) -> str:
    for old, new in EDITS:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def changed(run: Cli, store: Path) -> Path:
    """The store's workflow.yaml edited in the work tree (HEAD holds the default one)."""
    flow = store / "workflow.yaml"
    flow.write_text(edited(flow.read_text(encoding="utf-8")), encoding="utf-8")
    return flow


def links(mermaid: str) -> list[str]:
    """The diagram's link lines, in the order linkStyle counts them (from 0)."""
    return [line.strip() for line in mermaid.splitlines() if re.match(r"\s*\S+ -(-|\.-)>", line)]


def link_styles(mermaid: str) -> dict[int, str]:
    """Each styled link's index -> its style."""
    found: dict[int, str] = {}
    for line in mermaid.splitlines():
        if line.strip().startswith("linkStyle "):
            _, ids, style = line.split(maxsplit=2)
            found.update({int(i): style for i in ids.split(",")})
    return found


def classes(mermaid: str) -> dict[str, str]:
    """Each classed node -> its class."""
    found: dict[str, str] = {}
    for line in mermaid.splitlines():
        if line.strip().startswith("class "):
            _, nodes, name = line.split()
            found.update(dict.fromkeys(nodes.split(","), name))
    return found


def style_of(mermaid: str, link: str) -> str:
    return link_styles(mermaid).get(links(mermaid).index(link), "")


# --- the text outline and JSON -------------------------------------------------------------------


def test_text_outline_lists_what_the_work_tree_adds_removes_and_changes(run: Cli, changed: Path) -> None:
    out = run.ok("graph", "--against", "HEAD", "--format", "text").stdout
    lines = out.splitlines()
    assert lines[0] == "Changes from HEAD to the work tree:"
    assert "Enhancement request (enhancement, ER-)" in lines
    assert "  states added: on_hold" in lines
    assert "  state changed: pm_review: label PM review \u2192 Product review" in lines
    added = lines.index("  transitions added:")
    assert lines[added + 1 : added + 3] == [
        "    hold: pm_review \u2192 on_hold",
        "    resume: on_hold \u2192 pm_review",
    ]
    assert (
        "    request_info: pm_review \u2192 needs_info: roles +support; requires +priority; "
        "emails +intake_acknowledgement"
    ) in lines
    assert "    config_solves_it: pm_review \u2192 declined: targets +declined \u2212closed" in lines
    assert "Bug report" not in out  # unchanged types are not listed


def test_text_outline_read_the_other_way_round_tells_removals(run: Cli, changed: Path) -> None:
    copy = run.root.parent / "edited.yaml"
    copy.write_text(changed.read_text(encoding="utf-8"), encoding="utf-8")
    run.git("checkout", "--", "workflow.yaml")
    out = run.ok("graph", "--against", str(copy), "--new", "HEAD", "--format", "text").stdout
    lines = out.splitlines()
    assert lines[0] == f"Changes from {copy} to HEAD:"
    assert "  states removed: on_hold" in lines
    removed = lines.index("  transitions removed:")
    assert lines[removed + 1 : removed + 3] == [
        "    hold: pm_review \u2192 on_hold",
        "    resume: on_hold \u2192 pm_review",
    ]
    assert (
        "    request_info: pm_review \u2192 needs_info: roles \u2212support; requires \u2212priority; "
        "emails \u2212intake_acknowledgement"
    ) in lines


def test_json_holds_the_same_differences(run: Cli, changed: Path) -> None:
    data = run.json("graph", "--against", "HEAD", "--type", "enhancement")
    assert data["old"] == "HEAD" and data["new"] == "the work tree" and data["same"] is False
    [enhancement] = data["types"]
    assert enhancement["type"] == "enhancement" and enhancement["status"] == "changed"
    assert enhancement["states"]["added"] == ["on_hold"] and enhancement["states"]["removed"] == []
    assert enhancement["states"]["changed"] == [
        {"state": "pm_review", "changes": {"label": ["PM review", "Product review"]}}
    ]
    transitions = enhancement["transitions"]
    assert [t["name"] for t in transitions["added"]] == ["hold", "resume"]
    assert transitions["removed"] == []
    by_name = {t["name"]: t for t in transitions["changed"]}
    assert by_name["request_info"] == {
        "name": "request_info",
        "from": "pm_review",
        "to": ["needs_info"],
        "roles": {"added": ["support"], "removed": []},
        "requires": {"added": ["priority"], "removed": []},
        "emails": {"added": ["intake_acknowledgement"], "removed": []},
    }
    assert by_name["config_solves_it"]["targets"] == {"added": ["declined"], "removed": ["closed"]}


# --- the diagrams --------------------------------------------------------------------------------


def test_mermaid_colours_added_removed_and_changed_states_and_transitions(run: Cli, changed: Path) -> None:
    out = run.ok("graph", "--against", "HEAD", "--type", "enhancement").stdout
    assert out.startswith(
        '---\ntitle: "Enhancement request (ER-): HEAD \u2192 the work tree"\n---\nflowchart LR\n'
    )
    assert f"    classDef added fill:#dafbe1,stroke:{GREEN}" in out
    assert f"    classDef removed fill:#ffebe9,stroke:{RED}" in out
    assert "stroke-dasharray:5 5" in out.split("classDef removed", 1)[1].splitlines()[0]
    assert f"    classDef changed fill:#fff1e5,stroke:{ORANGE}" in out
    assert '    on_hold["On hold"]' in out.splitlines()
    assert '    closed(["Closed"])' in out.splitlines()  # an end state
    assert classes(out) == {"on_hold": "added", "pm_review": "changed"}
    assert links(out)[0] == '_start(("start")) --> intake'
    assert style_of(out, 'pm_review -->|"hold"| on_hold').startswith(f"stroke:{GREEN}")
    assert style_of(out, 'on_hold -->|"resume"| pm_review').startswith(f"stroke:{GREEN}")
    assert style_of(out, 'pm_review -->|"request_info"| needs_info').startswith(f"stroke:{ORANGE}")
    assert style_of(out, 'pm_review -->|"config_solves_it"| declined').startswith(f"stroke:{GREEN}")
    removed = style_of(out, 'pm_review -.->|"config_solves_it"| closed')
    assert removed.startswith(f"stroke:{RED}") and "stroke-dasharray" in removed
    assert style_of(out, 'intake -->|"submit"| pm_review') == ""  # unchanged: not styled
    styled = set(link_styles(out))
    assert len(styled) == 5 and max(styled) < len(links(out))


def test_dot_colours_added_removed_and_changed_states_and_transitions(run: Cli, changed: Path) -> None:
    out = run.ok("graph", "--against", "HEAD", "--type", "enhancement", "--format", "dot").stdout
    lines = out.splitlines()
    assert lines[0] == 'digraph "enhancement" {' and lines[-1] == "}"
    green = f'color="{GREEN}", fontcolor="{GREEN}", penwidth=2'
    red = f'color="{RED}", fontcolor="{RED}", penwidth=2'
    orange = f'color="{ORANGE}", fontcolor="{ORANGE}", penwidth=2'
    assert f'  "on_hold" [label="On hold", {green}];' in lines
    assert f'  "pm_review" [label="Product review", {orange}];' in lines
    assert f'  "pm_review" -> "on_hold" [label="hold", {green}];' in lines
    assert f'  "pm_review" -> "needs_info" [label="request_info", {orange}];' in lines
    assert f'  "pm_review" -> "declined" [label="config_solves_it", {green}];' in lines
    assert f'  "pm_review" -> "closed" [label="config_solves_it", {red}, style=dashed];' in lines
    assert '  "intake" -> "pm_review" [label="submit"];' in lines
    assert '  "closed" [label="Closed", peripheries=2];' in lines


def test_a_removed_state_is_red_and_dashed_in_both_formats(run: Cli, changed: Path) -> None:
    copy = run.root.parent / "edited.yaml"
    copy.write_text(changed.read_text(encoding="utf-8"), encoding="utf-8")
    args = ("graph", "--against", str(copy), "--new", "HEAD", "--type", "enhancement")
    mermaid = run.ok(*args).stdout
    assert classes(mermaid)["on_hold"] == "removed"
    assert style_of(mermaid, 'pm_review -.->|"hold"| on_hold').startswith(f"stroke:{RED}")
    dot = run.ok(*args, "--format", "dot").stdout
    assert (
        f'  "on_hold" [label="On hold", color="{RED}", fontcolor="{RED}", penwidth=2, '
        'style="rounded,dashed"];'
    ) in dot.splitlines()


def test_a_git_revision_or_tag_is_read_from_git(run: Cli, changed: Path) -> None:
    run.commit_all("hold requests")
    run.git("tag", "with-hold")
    out = run.ok("graph", "--against", "HEAD~1", "--format", "text").stdout
    assert out.startswith("Changes from HEAD~1 to the work tree:\n")
    assert "  states added: on_hold" in out
    back = run.ok("graph", "--against", "with-hold", "--new", "HEAD~1", "--format", "text").stdout
    assert "  states removed: on_hold" in back
    data = run.json("graph", "--against", "HEAD~1", "--type", "implementation")
    assert data["same"] is True and data["types"] == []


def test_a_type_only_the_old_version_has_is_drawn_all_red(run: Cli, store: Path) -> None:
    from erflow.core.loader import load_bytes

    flow = store / "workflow.yaml"
    workflow, problems = load_bytes(flow.read_bytes(), flow)
    assert workflow is not None and not problems
    from erflow.reports import diagram_diff, wfdiff

    diff = wfdiff.compare(workflow, workflow, "a", "b")
    assert diff.same
    only_old = wfdiff.WorkflowDiff("a", "b", [wfdiff.compare_type("bug", workflow.types["bug"], None)])
    assert only_old.types[0].status == "removed"
    dot = diagram_diff.render(only_old, "dot")
    node_lines = [line for line in dot.splitlines() if line.startswith('  "') and "->" not in line]
    assert node_lines and all(f'color="{RED}"' in line for line in node_lines)
    assert wfdiff.outline(only_old).splitlines()[2] == "Bug report (bug, BUG-): type removed"


# --- no change, errors, the terminal -------------------------------------------------------------


def test_no_difference_is_said_and_exits_0(run: Cli, store: Path) -> None:
    assert run.ok("graph", "--against", "HEAD", "--format", "text").stdout == (
        "No difference between HEAD and the work tree.\n"
    )
    assert run.json("graph", "--against", "HEAD")["same"] is True
    result = run.ok("graph", "--against", "HEAD", "--type", "bug")
    assert "erflow: no difference between HEAD and the work tree" in result.stderr
    assert "linkStyle" not in result.stdout and "\n    class " not in result.stdout
    assert "flowchart LR" in result.stdout


def test_an_unknown_revision_is_one_line_exit_4(run: Cli, store: Path) -> None:
    result = run("graph", "--against", "no-such-rev")
    assert result.exit_code == 4, describe(result)
    line = one_line_error(result)
    assert "--against no-such-rev" in line and "no revision" in line
    result = run("graph", "--against", "HEAD", "--new", "-x")
    assert result.exit_code == 4, describe(result)
    assert one_line_error(result)


def test_a_bad_workflow_file_is_one_line_exit_6_naming_file_and_line(run: Cli, store: Path) -> None:
    bad = run.root.parent / "bad.yaml"
    bad.write_text("version: 1\ntypes: [\n", encoding="utf-8")
    result = run("graph", "--against", str(bad))
    assert result.exit_code == 6, describe(result)
    assert one_line_error(result).startswith(f"erflow: {bad}:")


def test_usage_errors_exit_2(run: Cli, store: Path) -> None:
    for args in (
        ("graph", "--against", "HEAD", "--format", "svg"),
        ("graph", "--new", "HEAD"),
        ("graph", "--json"),
    ):
        result = run(*args)
        assert result.exit_code == 2, describe(result)
        assert one_line_error(result)
    result = run("graph", "--against", "HEAD", "--type", "nosuch")
    assert result.exit_code == 4, describe(result)


def on_a_terminal(*args: str) -> str:
    """erflow run with its stdout on a pseudo-terminal; what it wrote there."""
    env = {**os.environ, "PYTHONPATH": str(Path(erflow.__file__).parents[1]), "COLUMNS": "200"}
    master, terminal = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:
        with contextlib.suppress(OSError):  # EIO once the other end is closed
            while chunk := os.read(master, 65536):
                seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "erflow", *args], env=env, stdout=terminal)
        os.close(terminal)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        os.close(master)
    assert proc.returncode == 0
    return b"".join(seen).decode("utf-8").replace("\r\n", "\n")


def test_a_terminal_gets_the_outline_and_without_against_the_outline_of_today(
    run: Cli, changed: Path
) -> None:
    outline = on_a_terminal("graph", "--against", "HEAD", "--store", str(run.root))
    assert outline.startswith("Changes from HEAD to the work tree:\n")
    assert "  states added: on_hold" in outline
    today = on_a_terminal("graph", "--type", "bug", "--store", str(run.root))
    assert today == run.ok("graph", "--type", "bug", "--format", "text").stdout
    assert today.startswith("Bug report (BUG-)\n  intake: Intake [start]\n")
    assert "stateDiagram-v2" in run.ok("graph", "--type", "bug").stdout
