"""Every state move in the history, kept between runs: what ``commits.read_moves`` reads from one
``git log`` over all history, from ``git rev-list`` (which lists commits without reading them) and
a cache of each commit's move, so that only the commits not seen before are read and parsed.

The cache, ``<git dir>/erflow/moves.json``, maps a commit id to its move (or to 0: the commit names
no ticket). A commit's message never changes, so an entry never goes stale; a cache that is not of
this version, or not whole, is ignored and written anew.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from erflow.store.commits import MOVE_FORMAT, Move, parse_move
from erflow.store.files import write_atomic
from erflow.store.git import Git, run_bytes

CACHE = "moves.json"
VERSION = 1

# A commit's entry: [author time, ticket, state moved to or None, [tickets created]], or 0.
Entry = list[Any] | int


def read_moves(git: Git, upto: str = "HEAD") -> Iterator[Move]:
    """The same moves as ``commits.read_moves``, in the same order (``git rev-list`` walks as ``git
    log`` does), each commit read from git only the first time it is met."""
    if git.head() is None:
        return
    commits = run_bytes(git, ["rev-list", upto, "--"]).decode("ascii").split()
    path = cache_path(git)
    known = _read(path)
    missing = [c for c in commits if c not in known]
    if missing:
        known.update(_from_git(git, missing))
        _write(path, known)
    for commit in commits:
        entry = known[commit]
        if entry:
            assert isinstance(entry, list)
            yield Move(entry[0], entry[1], entry[2], tuple(entry[3]))


def cache_path(git: Git) -> Path:
    return git.git_dir() / "erflow" / CACHE


def _from_git(git: Git, commits: Sequence[str]) -> dict[str, Entry]:
    """The entry of each of these commits, from one ``git log --no-walk``."""
    found: dict[str, Entry] = dict.fromkeys(commits, 0)
    given = "".join(f"{c}\n" for c in commits).encode("ascii")
    out = run_bytes(git, ["log", "--no-walk=unsorted", "--stdin", f"--format=%H {MOVE_FORMAT}"], input=given)
    for raw in out.split(b"\n"):
        commit, _, line = raw.partition(b" ")
        key = commit.decode("ascii", "replace")
        if key not in found:
            continue  # a line that continues the one before (a folded trailer)
        move = parse_move(line)
        if move is not None:
            found[key] = [move.when, move.ticket, move.to_state, list(move.created)]
    return found


def _read(path: Path) -> dict[str, Entry]:
    """The cache's entries; none when it is missing, of another version or not well formed."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != [VERSION, MOVE_FORMAT]:
        return {}
    entries = data.get("commits")
    if not isinstance(entries, dict) or not all(_valid(e) for e in entries.values()):
        return {}
    return entries


def _valid(entry: Any) -> bool:
    if entry == 0 and type(entry) is int:
        return True
    return (
        type(entry) is list
        and len(entry) == 4
        and type(entry[0]) is int
        and type(entry[1]) is str
        and (entry[2] is None or type(entry[2]) is str)
        and type(entry[3]) is list
        and (not entry[3] or all(type(c) is str for c in entry[3]))
    )


def _write(path: Path, entries: dict[str, Entry]) -> None:
    data = {"version": [VERSION, MOVE_FORMAT], "commits": entries}
    try:
        write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")), durable=False)
    except OSError:  # a read-only repository: read from git every time
        pass
