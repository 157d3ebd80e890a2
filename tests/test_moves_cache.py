"""store.moves reads every state move from git rev-list and a cache of each commit's move: the
same moves, in the same order, as commits.read_moves's one git log over all history, whatever the
history (merges, commits without trailers, several tickets created, a folded trailer) and whatever
the cache holds."""

import json
import os
import subprocess
from pathlib import Path

from erflow.store import commits, moves
from erflow.store.commits import Move
from erflow.store.git import Git


def git(root: Path, *args: str, when: int = 1_700_000_000, message: str | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": f"@{when} +0000",
        "GIT_COMMITTER_DATE": f"@{when} +0000",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, input=message, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(root: Path, when: int, message: str) -> str:
    git(root, "commit", "-q", "--allow-empty", "-F", "-", when=when, message=message)
    return git(root, "rev-parse", "HEAD")


def moved(ticket: str, to: str) -> str:
    return f"{ticket} advance\n\nErflow-Ticket: {ticket}\nErflow-To: {to}\n"


def history(root: Path) -> dict[str, str]:
    """A history with a side branch merged back, commits at the same second, and odd messages."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    marks = {"first": commit(root, 1000, "ER-A1 new\n\nErflow-Ticket: ER-A1\nErflow-To: intake\n")}
    commit(root, 1000, moved("ER-A1", "pm_review"))  # the same second: the order must hold
    commit(root, 1100, "a hand edit, no trailers\n")
    created = "split\n\nErflow-Ticket: ER-A1\nErflow-Created: ER-B1\nErflow-Created: ER-B2\nErflow-To: x\n"
    commit(root, 1200, created)
    marks["fork"] = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "side")
    commit(root, 1300, moved("ER-B1", "pm_review"))
    commit(root, 1250, "two\n\nErflow-Ticket: ER-B2\nErflow-Ticket: ER-C9\nerflow-to: lower\nErflow-To: y\n")
    git(root, "checkout", "-q", "main")
    commit(root, 1280, moved("ER-A1", "closed"))
    commit(root, 1290, "folded\n\nErflow-Ticket: ER-D1\nErflow-To: long\n  and folded\nErflow-Actor: a\n")
    git(
        root,
        "merge",
        "-q",
        "--no-ff",
        "side",
        "-m",
        "merge\n\nErflow-Ticket: ER-M1\nErflow-To: merged",
        when=1400,
    )
    commit(root, 1500, "only created\n\nErflow-Created: ER-Z1\n")
    commit(root, 1500, moved("ER-B2", "closed"))
    marks["head"] = git(root, "rev-parse", "HEAD")
    return marks


def test_cached_moves_are_the_moves_of_one_git_log_in_its_order(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    marks = history(root)
    repo = Git(root)
    expected = list(commits.read_moves(repo))
    tickets = [m.ticket for m in expected]
    assert "ER-M1" in tickets and "ER-C9" not in tickets  # the merge's move; the second ticket not
    assert Move(1200, "ER-A1", "x", ("ER-B1", "ER-B2")) in expected
    assert [m.to_state for m in expected if m.ticket == "ER-A1"][-2:] == ["pm_review", "intake"]
    assert len(expected) == 9  # the hand edit and the commit that names no ticket left out
    cache = moves.cache_path(repo)
    assert not cache.exists()
    assert list(moves.read_moves(repo)) == expected  # from git, then cached
    assert cache.is_file()
    assert list(moves.read_moves(repo)) == expected  # from the cache
    for upto in (marks["fork"], marks["first"], "side", "main~1"):
        assert list(moves.read_moves(repo, upto)) == list(commits.read_moves(repo, upto)), upto
    commit(root, 1600, moved("ER-A1", "reopened"))  # a new commit: read from git, the rest cached
    commit(root, 1450, moved("ER-E1", "intake"))  # older than the merge
    assert list(moves.read_moves(repo)) == list(commits.read_moves(repo))
    assert list(moves.read_moves(repo))[:2] == [
        Move(1450, "ER-E1", "intake", ()),  # newest first in the walk, not by time
        Move(1600, "ER-A1", "reopened", ()),
    ]


def test_the_cache_is_used_and_one_not_well_formed_is_read_anew(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    marks = history(root)
    repo = Git(root)
    expected = list(commits.read_moves(repo))
    list(moves.read_moves(repo))
    cache = moves.cache_path(repo)
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["commits"][marks["first"]] = [1000, "ER-CACHED", None, []]
    cache.write_text(json.dumps(data), encoding="utf-8")
    assert list(moves.read_moves(repo))[-1] == Move(1000, "ER-CACHED", None, ())  # read from the cache
    for broken in (
        {**data, "commits": {**data["commits"], marks["first"]: [1000, 7, None, []]}},
        {**data, "commits": {**data["commits"], marks["first"]: ["1000", "ER-A1", None, []]}},
        {**data, "commits": {**data["commits"], marks["first"]: True}},
        {**data, "version": [0, data["version"][1]]},
        {**data, "commits": []},
        [],
    ):
        cache.write_text(json.dumps(broken), encoding="utf-8")
        assert list(moves.read_moves(repo)) == expected, broken
    cache.write_bytes(b"\xff not json")
    assert list(moves.read_moves(repo)) == expected
    assert json.loads(cache.read_text(encoding="utf-8"))["commits"][marks["head"]][1] == "ER-B2"


def test_a_store_without_commits_has_no_moves_and_writes_no_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    repo = Git(root)
    assert list(moves.read_moves(repo)) == []
    assert not moves.cache_path(repo).exists()
