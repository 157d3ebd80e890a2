"""The index cache (.erflow/index.json): derived, rebuilt when stale or damaged, never the truth."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli, describe


def listed(run: Cli) -> dict[str, str]:
    result = run("list", "--json")
    assert result.exit_code == 0, describe(result)
    return {t["id"]: t["priority"] for t in json.loads(result.stdout)}


def test_list_fills_the_index_and_git_ignores_it(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")

    assert listed(run) == {ticket_id: "normal"}

    index = json.loads((run.root / ".erflow" / "index.json").read_text(encoding="utf-8"))
    assert [Path(p).stem for p in index["files"]] == [ticket_id]
    assert run.git("status", "--porcelain", "--untracked-files=all") == ""


def test_a_file_changed_behind_the_index_is_read_again(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), "utf-8")

    assert listed(run) == {ticket_id: "high"}


def test_a_damaged_index_is_ignored_and_rebuilt(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    index = run.root / ".erflow" / "index.json"
    for damage in ("{not json", '{"version": 1, "files": {"x": [1, 2]}}', '{"version": 99}', "[]"):
        index.write_text(damage, encoding="utf-8")
        assert listed(run) == {ticket_id: "normal"}, damage
        assert json.loads(index.read_text(encoding="utf-8"))["version"] == 1


def test_a_bad_file_stays_named_when_read_from_the_index(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    bad = run.path(ticket_id).parent / "ER-BAD000.md"
    bad.write_text("no front-matter\n", encoding="utf-8")
    first = run("list")
    again = run("list")

    assert first.exit_code == again.exit_code == 0
    assert "ER-BAD000.md" in first.stderr and first.stderr == again.stderr
