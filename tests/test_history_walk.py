"""How erflow asks git: one status per change, a history walk bounded by the ticket's creation, and
the commit-graph (with changed-path filters) that keeps `history` fast in a long history."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PM, Cli, git

from erflow.store.git import Git

SKEWED = "2026-08-01T09:00:00+00:00"  # more than 30 days before the tests' clock


def transitions(run: Cli, ticket_id: str) -> list[str | None]:
    return [entry["transition"] for entry in run.json("history", ticket_id)]


def test_history_is_whole_when_a_later_commit_carries_an_earlier_date(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok(
        "advance", ticket_id, "request_info", "--set", "info_needed=Which columns?",
        user=PM, env={"GIT_COMMITTER_DATE": SKEWED},
    )  # fmt: skip
    run.ok("advance", ticket_id, "info_received", user=PM)

    assert transitions(run, ticket_id) == [None, "submit", "request_info", "info_received"]


def test_history_is_whole_when_the_ticket_is_dated_long_after_its_commits(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERFLOW_NOW", "2027-11-02T09:00:00+00:00")  # git's clock stays a year behind
    ticket_id = run.ticket_at("pm_review")

    history = run.json("history", ticket_id)

    assert [e["action"] for e in history] == ["new", "advance"]
    assert history[0]["to"] == "intake"


def test_history_finds_the_commits_made_after_the_commit_graph_was_written(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    assert Git(run.root).write_commit_graph()
    run.ok("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", user=PM)
    run.ok("note", ticket_id, "called the customer", user=PM)

    assert transitions(run, ticket_id) == [None, "submit", "request_info", None]


def test_init_keeps_a_commit_graph_with_changed_path_filters(bare: Cli, tmp_path: Path) -> None:
    root = tmp_path / "s"
    bare.ok("init", str(root))

    for key in ("core.commitGraph", "fetch.writeCommitGraph", "gc.writeCommitGraph"):
        assert git(root, "config", "--get", key).strip() == "true"
    graphs = list((root / ".git" / "objects" / "info" / "commit-graphs").glob("*.graph"))
    assert graphs
    assert all(b"BIDX" in graph.read_bytes() for graph in graphs)  # the changed-path filters' index


def test_writing_the_commit_graph_outside_a_repository_fails_quietly(tmp_path: Path) -> None:
    assert Git(tmp_path).write_commit_graph() is False


def test_status_tells_head_and_which_of_the_paths_have_changes(run: Cli) -> None:
    root = run.init()
    (root / "a note.txt").write_text("untracked\n", encoding="utf-8")
    (root / "workflow.yaml").write_text("changed: true\n", encoding="utf-8")
    run.git("mv", "templates/pm_more_info.j2", "templates/asked.j2")

    status = Git(root).status(["a note.txt", "workflow.yaml", "templates", ".gitignore"])

    assert status.head == run.head()
    assert sorted(status.dirty) == [
        "a note.txt", "templates/asked.j2", "templates/pm_more_info.j2", "workflow.yaml"
    ]  # fmt: skip


def test_status_in_a_repository_without_a_commit_finds_nothing_changed(tmp_path: Path) -> None:
    repo = Git(tmp_path)
    repo.init()
    (tmp_path / "x.md").write_text("x\n", encoding="utf-8")

    status = repo.status(["x.md"])

    assert status.head is None
    assert status.dirty == []
