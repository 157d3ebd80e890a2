"""erflow check judges each ticket from its index row and reads only the files that have a problem:
its lines must be exactly those of the old way, which read and parsed every file."""

import os
from pathlib import Path

from erflow.app import check
from erflow.app.context import Context
from erflow.core.errors import ErflowError
from erflow.core.workflow import Workflow
from erflow.store import paths, workflow_file
from erflow.store.tickets import Store
from tests.conftest import Cli


def slow_ticket_problems(ctx: Context, wf: Workflow, shown: list[str]) -> list[str]:
    """The old way: every ticket file read and parsed with its lines, in path order, no memo."""
    problems: list[str] = []
    for path in ctx.store.paths():
        rel = ctx.store.relative(path)
        try:
            parsed = ctx.store.read_path(path)
        except ErflowError as exc:
            if exc.message not in problems and exc.message not in shown:
                problems.append(exc.message)
            continue
        verdicts = check.Verdicts(size=0)
        problems += check._ticket_problems(wf, parsed.ticket.meta, parsed.lines, rel, verdicts)
    return problems


def variant(source: Path, new_id: str, old_id: str, edit: dict[str, str], extra: str = "") -> Path:
    """A copy of the ticket file ``source`` as ``new_id``, some front-matter lines replaced."""
    lines = source.read_text(encoding="utf-8").replace(old_id, new_id).split("\n")
    for index, line in enumerate(lines):
        key = line.split(":", 1)[0]
        if key in edit and index < lines.index("---", 1):
            lines[index] = edit[key]
    if extra:
        lines.insert(1, extra)
    target = source.parent.parent / new_id[3:5] / f"{new_id}.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


def test_check_from_the_index_says_exactly_what_parsing_every_file_says(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    root = run.root
    assert root is not None
    source = next((root / "tickets").rglob(f"{ticket_id}.md"))
    prefix = ticket_id.split("-")[0]
    good = [variant(source, f"{prefix}-GOOD{n:02d}", ticket_id, {}) for n in range(5)]
    bad = [
        variant(source, f"{prefix}-UNKN01", ticket_id, {}, extra="colour: red"),
        variant(source, f"{prefix}-ENUM01", ticket_id, {"priority": "priority: sky-high"}),
        variant(source, f"{prefix}-ENUM02", ticket_id, {"priority": "priority: sky-high"}),
        variant(source, f"{prefix}-OWNR01", ticket_id, {"owner": "owner: nobody@nowhere.example"}),
        variant(source, f"{prefix}-STAT01", ticket_id, {"state": "state: limbo"}),
        variant(source, f"{prefix}-YAML01", ticket_id, {"title": "title: [unclosed"}),
        variant(source, f"{prefix}-WRID01", ticket_id, {"id": f"id: {prefix}-OTHER1"}),
        variant(source, f"{prefix}-TYPE01", ticket_id, {"type": "type: gizmo"}),
        variant(source, f"{prefix}-PRIO01", ticket_id, {"id": "id: ZZ-PRIO01"}),
    ]
    link = source.parent / f"{prefix}-LINK01.md"
    os.symlink(good[0], link)
    ctx = Context(Store(root), "", "2026-01-01T00:00:00+00:00", {})
    wf, _ = workflow_file.load_with_problems(ctx.store.workflow_path)
    assert wf is not None
    shown = paths.links(root, "tickets")
    expected = slow_ticket_problems(ctx, wf, shown)
    named = {line.split(":", 1)[0] for line in expected}
    assert named == {ctx.store.relative(path) for path in bad}, expected
    assert any("colour" in line for line in expected) and any("sky-high" in line for line in expected)
    assert len(shown) == 1 and "LINK01" in shown[0]
    for _ in range(2):  # the index made, then read warm
        assert check._tickets_problems(ctx, wf, shown) == expected
    bad[1].write_text(good[1].read_text(encoding="utf-8").replace("GOOD01", "ENUM01"), encoding="utf-8")
    good[2].write_text(good[2].read_text(encoding="utf-8") + "\nmore\n", encoding="utf-8")
    expected = slow_ticket_problems(ctx, wf, shown)
    assert not any("ENUM01" in line for line in expected)
    assert check._tickets_problems(ctx, wf, shown) == expected
    checked = run("check")
    assert checked.exit_code == 6
    assert checked.stdout.splitlines() == shown + expected


def test_the_memo_keeps_each_verdict_per_type_key_and_value_and_forgets_past_its_size() -> None:
    wf = workflow_file.load_with_problems(Path(check.__file__).parents[1] / "defaults" / "workflow.yaml")[0]
    assert wf is not None
    kind = next(iter(wf.types.values()))
    declared = kind.field("priority")
    assert declared is not None
    verdicts = check.Verdicts(size=3)
    assert verdicts.of(kind, "priority", "low") is None
    assert verdicts.of(kind, "priority", "sky") == declared.problem("sky") is not None
    assert verdicts.of(kind, "colour", None) == f"unknown field 'colour' for type {kind.name}"
    assert len(verdicts.seen) == 3
    assert verdicts.of(kind, "priority", "sky") == declared.problem("sky")
    assert verdicts.of(kind, "priority", "high") is None
    assert len(verdicts.seen) == 1
    assert verdicts.of(kind, "priority", True) == declared.problem(True) is not None
    assert verdicts.of(kind, True, "x") == f"unknown field True for type {kind.name}"
    assert verdicts.of(kind, 1, "x") == f"unknown field 1 for type {kind.name}"
    assert len(verdicts.seen) == 1
