"""Whether git is in the middle of an operation (a rebase, merge, cherry-pick, revert, bisect or
``git am``) or HEAD is detached: states in which a commit erflow made would be lost (a rebase abort
or a checkout leaves it only in the reflog) or mixed into someone else's half-done work.

Told from the files git keeps in its folder (a few ``stat`` calls, no git process in the usual
case), so every command can afford to ask. A linked work tree has a git folder of its own, where
git keeps that work tree's HEAD and operation state: that is the folder looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from erflow.store.git import Git


@dataclass(frozen=True)
class Operation:
    """A git operation in progress: what it is, and the git commands that end it."""

    state: str  # "a rebase is in progress"
    ends: str  # "finish it with `git rebase --continue` or undo it with `git rebase --abort`"

    def __str__(self) -> str:
        return f"{self.state}: {self.ends}"


def _ends(command: str, finish: str = "--continue") -> str:
    return f"finish it with `git {command} {finish}` or undo it with `git {command} --abort`"


REBASE = Operation("a rebase is in progress", _ends("rebase"))
AM = Operation("a `git am` is in progress", _ends("am"))
MERGE = Operation("a merge is in progress", _ends("merge"))
CHERRY_PICK = Operation("a cherry-pick is in progress", _ends("cherry-pick"))
REVERT = Operation("a revert is in progress", _ends("revert"))
BISECT = Operation("a bisect is in progress", "end it with `git bisect reset`")
DETACHED = Operation(
    "HEAD is detached",
    "check out a branch with `git switch BRANCH` (`git switch -c NEW` keeps commits made here)",
)


def in_progress(git_dir: Path, git: Git) -> Operation | None:
    """The operation git is in the middle of in this work tree (``git_dir``: its git folder), else
    whether HEAD is detached; None when on a branch with nothing in progress."""
    if (git_dir / "rebase-merge").is_dir():
        return REBASE
    if (git_dir / "rebase-apply").is_dir():
        return AM if (git_dir / "rebase-apply" / "applying").exists() else REBASE
    if (git_dir / "MERGE_HEAD").is_file():
        return MERGE
    if (git_dir / "CHERRY_PICK_HEAD").is_file():
        return CHERRY_PICK
    if (git_dir / "REVERT_HEAD").is_file():
        return REVERT
    sequence = _sequence(git_dir)
    if sequence is not None:
        return sequence
    if (git_dir / "BISECT_LOG").is_file() or (git_dir / "BISECT_START").is_file():
        return BISECT
    return DETACHED if _detached(git_dir, git) else None


def _sequence(git_dir: Path) -> Operation | None:
    """A cherry-pick or revert of several commits that stopped between two of them (its conflict
    already committed, the rest still to do): git's sequencer folder says which."""
    todo = git_dir / "sequencer" / "todo"
    try:
        first = todo.read_text(encoding="utf-8", errors="replace").split(maxsplit=1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return REVERT if first and first[0] in ("revert", "r") else CHERRY_PICK


def _detached(git_dir: Path, git: Git) -> bool:
    """HEAD names a commit rather than a branch. Read from the HEAD file; a reftable repository
    keeps a placeholder there, and git itself is asked."""
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        head = ""
    if head.startswith("ref: ") and head != "ref: refs/heads/.invalid":
        return False
    return not git.run("symbolic-ref", "-q", "HEAD", check=False).strip()
