"""Git states in which a commit would be lost: a rebase, merge, cherry-pick, revert or bisect in
progress, or a detached HEAD. Every writing command refuses (exit 7, naming the state and the git
command that ends it) and writes nothing; reading commands work and warn on stderr.

Each state is made with real git in a store in tmp_path: a conflicting change on a side branch
(``notes.txt``, a file outside tickets/, edited by hand on both sides), then the git command that
stops in that state.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PM, SUPPORT, Cli, describe, one_line_error

from erflow.store import journal

NOTES = "notes.txt"


IDENTITY = ("-c", "user.name=Hand Editor", "-c", "user.email=hand@example.com")


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """git as a person runs it in the store (the person's identity given, as their config would)."""
    proc = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def hand_commit(run: Cli, text: str, message: str) -> None:
    (run.root / NOTES).write_text(text, encoding="utf-8")
    run.commit_all(message)


@dataclass(frozen=True)
class GitState:
    """What git shows of a store: HEAD (None when detached), the branch, the index, git status and
    the ticket file's bytes."""

    head: str
    branch: str
    index: str
    status: str
    ticket: bytes


def state_of(run: Cli, ticket_id: str) -> GitState:
    return GitState(
        run.head(),
        git(run.root, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip(),
        git(run.root, "ls-files", "-s"),
        git(run.root, "status", "--porcelain", "--untracked-files=all"),
        run.path(ticket_id).read_bytes(),
    )


@pytest.fixture
def ticket(run: Cli, store: Path) -> str:
    """A ticket in pm_review; ``notes.txt`` written by hand on main (twice), and differently on
    ``side``."""
    ticket_id = run.new()
    run.ok("advance", ticket_id, "submit", user=SUPPORT)
    hand_commit(run, "base\n", "notes: base")
    git(run.root, "branch", "side")
    hand_commit(run, "main\n", "notes: main")
    hand_commit(run, "later\n", "notes: later")
    git(run.root, "switch", "-q", "side")
    hand_commit(run, "side\n", "notes: side")
    git(run.root, "switch", "-q", "main")
    return ticket_id


def _rebase_conflict(root: Path) -> None:
    out = git(root, "rebase", "-i", "side", env={"GIT_SEQUENCE_EDITOR": "true"}, check=False)
    assert (root / ".git" / "rebase-merge").is_dir(), out


def _rebase_break(root: Path) -> None:
    git(root, "rebase", "-i", "HEAD~1", env={"GIT_SEQUENCE_EDITOR": "sed -i 1ibreak"})
    git(root, "rebase", "--edit-todo", env={"GIT_SEQUENCE_EDITOR": "true", "GIT_EDITOR": "true"})


def _rebase_edit(root: Path) -> None:
    git(root, "rebase", "-i", "HEAD~1", env={"GIT_SEQUENCE_EDITOR": "sed -i s/^pick/edit/"})


def _merge_conflict(root: Path) -> None:
    out = git(root, "merge", "--no-edit", "side", check=False)
    assert (root / ".git" / "MERGE_HEAD").is_file(), out


def _cherry_pick_conflict(root: Path) -> None:
    git(root, "cherry-pick", "side", check=False)
    assert (root / ".git" / "CHERRY_PICK_HEAD").is_file()


def _revert_conflict(root: Path) -> None:
    git(root, "revert", "--no-edit", "HEAD~1", check=False)  # "main" -> "base" meets "later"
    assert (root / ".git" / "REVERT_HEAD").is_file()


def _bisect(root: Path) -> None:
    git(root, "bisect", "start")


def _detached(root: Path) -> None:
    git(root, "checkout", "-q", "--detach")


# (name, how git gets there, what erflow must name, the git command that ends it)
STATES: list[tuple[str, Callable[[Path], None], str, list[str]]] = [
    ("rebase_conflict", _rebase_conflict, "a rebase is in progress", ["rebase", "--abort"]),
    ("rebase_break_edit_todo", _rebase_break, "a rebase is in progress", ["rebase", "--abort"]),
    ("rebase_edit", _rebase_edit, "a rebase is in progress", ["rebase", "--abort"]),
    ("merge_conflict", _merge_conflict, "a merge is in progress", ["merge", "--abort"]),
    ("cherry_pick", _cherry_pick_conflict, "a cherry-pick is in progress", ["cherry-pick", "--abort"]),
    ("revert", _revert_conflict, "a revert is in progress", ["revert", "--abort"]),
    ("bisect", _bisect, "a bisect is in progress", ["bisect", "reset"]),
    ("detached_head", _detached, "HEAD is detached", ["checkout", "-q", "main"]),
]
ENDS = {
    "a rebase is in progress": "`git rebase --abort`",
    "a merge is in progress": "`git merge --abort`",
    "a cherry-pick is in progress": "`git cherry-pick --abort`",
    "a revert is in progress": "`git revert --abort`",
    "a bisect is in progress": "`git bisect reset`",
    "HEAD is detached": "`git switch BRANCH`",
}


@pytest.mark.parametrize(("enter", "named", "end"), [s[1:] for s in STATES], ids=[s[0] for s in STATES])
def test_a_note_is_refused_mid_operation_and_nothing_changes(
    run: Cli, ticket: str, enter: Callable[[Path], None], named: str, end: list[str]
) -> None:
    before = state_of(run, ticket)
    enter(run.root)
    during = state_of(run, ticket)

    refused = run("note", ticket, "written mid-rebase", user=PM)

    assert refused.exit_code == 7, describe(refused)
    line = one_line_error(refused)
    assert named in line and ENDS[named] in line, line
    assert state_of(run, ticket) == during
    assert journal.load(run.root / ".git") is None
    assert "written mid-rebase" not in run.git("log", "--all", "--format=%B", "--reflog")

    for reading in (("show", ticket), ("list",), ("transitions", ticket), ("history", ticket)):
        shown = run(*reading, "--json")
        assert shown.exit_code == 0, describe(shown)
        json.loads(shown.stdout)  # the warning is not in the data
        assert shown.stderr.count("erflow: warning: the store is mid-operation") == 1, describe(shown)
        assert named in shown.stderr

    git(run.root, *end)
    assert state_of(run, ticket) == before
    quiet = run("show", ticket)
    assert quiet.exit_code == 0 and quiet.stderr == "", describe(quiet)
    run.ok("note", ticket, "after the abort", user=PM)
    assert "after the abort" in run.path(ticket).read_text(encoding="utf-8")


WRITES: list[list[str]] = [
    ["new", "enhancement", "--title", "Mid-rebase ticket"],
    [
        "advance",
        "{id}",
        "approve",
        "--set",
        "problem=p",
        "--set",
        "scope=s",
        "--set",
        "desired_outcome=o",
        "--set",
        "config_checked=true",
    ],
    ["set", "{id}", "info_needed=Which columns?"],
    ["assign", "{id}", PM],
    ["link", "{id}", "relates", "{id}"],
    ["log-time", "{id}", "1.5"],
    ["email", "{id}", "intake_acknowledgement"],
    ["email", "{id}", "intake_acknowledgement", "--send"],
    ["sweep", "--now", "2027-06-01T09:00:00+00:00"],
    ["sync"],
]


@pytest.mark.parametrize("command", WRITES, ids=[" ".join(p for p in c if p != "{id}")[:24] for c in WRITES])
def test_every_writing_command_is_refused_on_a_rebase_stopped_on_a_conflict(
    run: Cli, ticket: str, command: list[str]
) -> None:
    _rebase_conflict(run.root)
    during = state_of(run, ticket)
    files = run.snapshot().files

    result = run(*[part.format(id=ticket) for part in command], user=PM)

    assert result.exit_code == 7, describe(result)
    assert "a rebase is in progress" in one_line_error(result)
    assert state_of(run, ticket) == during
    assert run.snapshot().files == files
    assert journal.load(run.root / ".git") is None


def test_dry_runs_and_reports_read_mid_operation_with_one_warning(run: Cli, ticket: str) -> None:
    _rebase_conflict(run.root)
    during = state_of(run, ticket)
    reads = [
        ["advance", ticket, "approve", "--dry-run", "--set", "problem=p", "--set", "scope=s",
         "--set", "desired_outcome=o", "--set", "config_checked=true"],
        ["new", "enhancement", "--title", "Would be", "--dry-run"],
        ["email", ticket, "intake_acknowledgement", "--dry-run"],
        ["sweep", "--dry-run"],
        ["report", "board"],
        ["graph"],
        ["check"],
        ["audit"],
    ]  # fmt: skip
    for command in reads:
        result = run(*command, user=PM)
        assert result.exit_code == 0, describe(result)
        warning = "erflow: warning: the store is mid-operation, a rebase"
        assert result.stderr.count(warning) == 1, describe(result)
        assert "`git rebase --continue`" in result.stderr
    assert state_of(run, ticket) == during


def test_init_in_a_repository_mid_rebase_is_refused_and_writes_nothing(bare: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for text in ("one\n", "two\n"):
        (repo / NOTES).write_text(text, encoding="utf-8")
        git(repo, "add", NOTES)
        git(repo, "commit", "-qm", text.strip())
    git(repo, "rebase", "-i", "HEAD~1", env={"GIT_SEQUENCE_EDITOR": "sed -i 1ibreak"})
    head = git(repo, "rev-parse", "HEAD")

    result = bare("init", str(repo), user=SUPPORT)

    assert result.exit_code == 7, describe(result)
    assert "a rebase is in progress" in one_line_error(result)
    assert sorted(p.name for p in repo.iterdir()) == [".git", NOTES]
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_linked_work_tree_is_judged_by_its_own_git_state(run: Cli, ticket: str, tmp_path: Path) -> None:
    """A work tree of the store's repository keeps its own HEAD and rebase state: a rebase there
    refuses changes there, and not in the main work tree (and the other way round)."""
    other = tmp_path / "other"
    git(run.root, "worktree", "add", "-q", "-b", "elsewhere", str(other), "side")
    git(other, "rebase", "-i", "HEAD~1", env={"GIT_SEQUENCE_EDITOR": "sed -i 1ibreak"})

    refused = run("note", ticket, "there", user=PM, store=other)
    assert refused.exit_code == 7, describe(refused)
    assert "a rebase is in progress" in one_line_error(refused)
    run.ok("note", ticket, "here", user=PM)


def test_a_change_that_adds_files_commits_only_its_own_whatever_else_is_staged(run: Cli, store: Path) -> None:
    (store / "notes.txt").write_text("a person's own work, staged\n", encoding="utf-8")
    git(store, "add", "notes.txt")
    ticket_id = run.new()  # a new file: erflow stages its paths; the person's file is not committed
    assert git(store, "show", "--name-only", "--format=", "HEAD").split() == [
        run.path(ticket_id).relative_to(store).as_posix()
    ]
    assert git(store, "diff", "--cached", "--name-only").split() == ["notes.txt"]
