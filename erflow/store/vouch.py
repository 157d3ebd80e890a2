"""What git vouches for about the ticket files, so that the index need not stat every one of them.

``git status`` compares the working tree with git's index, and the index with HEAD, from the stat
data git keeps (in C, with threads): when it finds nothing under tickets/ that could be a ticket
file, the ticket files are exactly those of HEAD's tickets/ tree, byte for byte. The index
(erflow.store.index) records a tree whose files its rows are known to hold; while that tree is
HEAD's and git finds nothing, its rows are exact without a walk of tickets/.

Every answer here is None (or False) whenever git cannot say: no HEAD, no tickets/ in it, git
missing or failing. A file git is told not to look at (assume-unchanged, skip-worktree) makes the
ticket files unvouched, as does anything git lists that ``paths.walk`` would list.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow.core.errors import ErflowError
from erflow.store.git import Git, run_bytes, run_together
from erflow.store.ticketfile import TICKETS

BLOB_MODES = (b"100644", b"100755")  # a regular file; 120000 is a symlink, 160000 a submodule
# An entry of ``git ls-tree -r -z``, from its start (after a NUL, or the output's start) to its NUL:
# '<mode> <type> <object id>\t<path>\0'.
_TREE_ENTRY = re.compile(rb"(?<![^\0])([0-7]{6}) [a-z]+ ([0-9a-f]{40,64})\t([^\0]*)\0")


@dataclass(frozen=True)
class Head:
    """HEAD's tree of the store's tickets/ folder, and where the store sits in its repository."""

    tree: str
    prefix: str  # '' at the top of the repository, else 'sub/dir/'


def head(root: Path) -> Head | None:
    """HEAD's tickets/ tree (one ``git rev-parse``), or None: no commit, no tickets/ in it, no git."""
    try:
        out = run_bytes(Git(root), ["rev-parse", "--show-prefix", "--verify", "-q", f"HEAD:./{TICKETS}"])
    except (ErflowError, OSError):
        return None
    lines = os.fsdecode(out).split("\n")
    if len(lines) < 2 or not re.fullmatch(r"[0-9a-f]{40,64}", lines[1]):
        return None
    return Head(lines[1], lines[0])


def changed(root: Path, prefix: str) -> list[str] | None:
    """What git sees of the ticket files against HEAD's: ``[]`` when ``git status`` lists nothing
    under tickets/ that ``walk`` would list; else the paths (from the store's root) it lists that
    way (a changed, staged, deleted or unmerged file; an untracked or ignored ``*.md`` or symlink; a
    folder git did not look into), which may differ from the index's rows even with the same stat.
    None when git cannot say, or is told to skip some ticket file (assume-unchanged, skip-worktree).
    ``--no-optional-locks``: a reading command never takes .git/index.lock."""
    status = [
        "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored",
        "--no-renames", "--", TICKETS,
    ]  # fmt: skip
    try:
        flags, out = run_together(Git(root), [["ls-files", "-v", "-z", "--", TICKETS], status])
    except (ErflowError, OSError):
        return None
    if flags.count(b"\0") != flags.startswith(b"H ") + flags.count(b"\0H "):  # a tag but H
        return None
    top = os.fsencode(f"{prefix}{TICKETS}/")  # git names paths from the repository's top
    found = []
    for entry in out.split(b"\0"):
        kind, name = entry[:3], entry[3:]
        if not name.startswith(top):
            if entry:
                return None  # not what was asked: git is not saying what we think
            continue
        rel = os.fsdecode(name[len(top) - len(TICKETS) - 1 :])
        if kind not in (b"?? ", b"!! ") or name.endswith((b".md", b"/")) or _link(os.path.join(root, rel)):
            found.append(rel.rstrip("/"))
    return found


def _link(path: str) -> bool:
    """A symlink, or something that cannot be told (not a vanished file: nothing to list)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def files(root: Path, tree: str) -> dict[str, str] | None:
    """(path from the store's root: blob id) of every ticket file of this tickets/ tree, as ``walk``
    would list them (``*.md`` regular files); None when the tree holds a symlink or a submodule
    (a row of one never holds a blob id), or git fails."""
    try:
        out = run_bytes(Git(root), ["ls-tree", "-r", "-z", "--full-tree", tree])
    except (ErflowError, OSError):
        return None
    entries = _TREE_ENTRY.findall(out)  # (mode, id, name): 100,000 entries read in C, not a loop
    if len(entries) != out.count(b"\0"):
        return None  # an entry the pattern does not read: git is not saying what we think
    if any(mode not in BLOB_MODES for mode, _, _ in entries):
        return None
    prefix = f"{TICKETS}/"
    return {prefix + os.fsdecode(name): blob.decode() for _, blob, name in entries if name.endswith(b".md")}


def changes(root: Path, old: str, new: str, most: int) -> dict[str, str | None] | None:
    """The ticket files that differ between two tickets/ trees: path from the store's root, and its
    blob id in ``new`` (None: not there); None when they are more than ``most``, when a symlink or a
    submodule is among them, or git fails."""
    try:
        out = run_bytes(Git(root), ["diff-tree", "-r", "-z", "--no-renames", old, new])
    except (ErflowError, OSError):
        return None
    fields = out.split(b"\0")
    found: dict[str, str | None] = {}
    for info, name in zip(fields[::2], fields[1::2], strict=False):
        parts = info.split(b" ")  # :oldmode newmode oldblob newblob status
        if len(parts) != 5:
            return None
        old_mode, new_mode, new_blob = parts[0][1:], parts[1], parts[3]
        if any(mode not in (*BLOB_MODES, b"000000") for mode in (old_mode, new_mode)):
            return None
        if name.endswith(b".md"):
            found[f"{TICKETS}/{os.fsdecode(name)}"] = None if new_mode == b"000000" else new_blob.decode()
            if len(found) > most:
                return None
    return found


class Asked:
    """``changed``, and ``files`` of HEAD's tree when it finds nothing changed: asked of git in a
    thread once ``start`` is called, while the caller does other work (the first index of a store
    parses every ticket file meanwhile), else when ``answers`` is called."""

    def __init__(self, root: Path, head: Head) -> None:
        self.root, self.head = root, head
        self._answers: tuple[list[str] | None, dict[str, str] | None] | None = None
        self._thread: Any = None  # a threading.Thread once started (threading imported only then)

    def start(self) -> None:
        import threading

        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        seen = changed(self.root, self.head.prefix)
        self._answers = seen, files(self.root, self.head.tree) if seen == [] else None

    def answers(self) -> tuple[list[str] | None, dict[str, str] | None]:
        """What ``changed`` says, and what ``files`` says when nothing changed (else None)."""
        if self._thread is not None:
            self._thread.join()
        if self._answers is None:  # not started, or it failed: asked here
            self._ask()
        assert self._answers is not None
        return self._answers
