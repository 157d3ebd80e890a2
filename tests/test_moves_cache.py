"""store.moves reads every state move from git rev-list and a cache of each commit's move: the
same moves, in the same order, as commits.read_moves's one git log over all history, whatever the
history (merges, commits without trailers, several tickets created, a folded trailer) and whatever
the cache holds."""

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from erflow.core.errors import InvalidData
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


def rewrite(cache: Path, edit: Callable[[bytes], bytes]) -> None:
    """Change the cache's lines by hand and give it the checksum of the change."""
    header, _, body = cache.read_bytes().partition(b"\n")
    body = edit(body)
    fields = header.split(b" ")
    fields[4] = hashlib.sha256(body).hexdigest().encode()
    cache.write_bytes(b" ".join(fields) + b"\n" + body)


def tip_of(cache: Path) -> str:
    return cache.read_bytes().split(b"\n", 1)[0].split(b" ")[3].decode()


def test_the_cache_is_used_and_one_damaged_or_of_another_version_is_read_anew(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    marks = history(root)
    repo = Git(root)
    expected = list(commits.read_moves(repo))
    legacy = moves.cache_path(repo).parent / "moves.json"
    legacy.parent.mkdir()
    legacy.write_text("{}", encoding="utf-8")
    assert list(moves.read_moves(repo)) == expected
    assert not legacy.exists()  # the earlier version's cache is gone
    cache = moves.cache_path(repo)
    assert tip_of(cache) == marks["head"]
    good = cache.read_bytes()
    first = marks["first"].encode()
    rewrite(cache, lambda body: body.replace(first + b"\x1f1000\x1fER-A1", first + b"\x1f1000\x1fER-CACHED"))
    assert list(moves.read_moves(repo))[-1] == Move(1000, "ER-CACHED", "intake", ())  # read from the cache
    header, _, body = good.partition(b"\n")
    for broken in (
        good.replace(b"ER-A1", b"ER-A2", 1),  # damaged: the checksum no longer holds
        good[:-10],  # cut short
        header.replace(b"erflow-moves 2 ", b"erflow-moves 1 ") + b"\n" + body,  # another version
        header.replace(header.split(b" ")[2], b"0" * 16) + b"\n" + body,  # another log format
        b"\xff not a cache",
        b"",
    ):
        cache.write_bytes(broken)
        assert list(moves.read_moves(repo)) == expected, broken
        assert cache.read_bytes() == good, broken  # written anew
    rewrite(cache, lambda body: body.replace(b"\x1f1000\x1f", b"\x1fsoon\x1f", 1))
    with pytest.raises(InvalidData):
        list(moves.read_moves(repo))  # well summed, not well formed (made by hand): it goes
    assert list(moves.read_moves(repo)) == expected
    assert cache.read_bytes() == good


def test_commits_on_top_of_the_cached_tip_are_read_alone_and_others_listed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    marks = history(root)
    repo = Git(root)
    list(moves.read_moves(repo))
    cache = moves.cache_path(repo)
    first = marks["first"].encode()

    def mark(body: bytes) -> bytes:
        return body.replace(first + b"\x1f1000\x1fER-A1", first + b"\x1f1000\x1fER-CACHED")

    rewrite(cache, mark)
    commit(root, 1600, moved("ER-A1", "reopened"))
    commit(root, 1600, "no trailers\n")
    commit(root, 1450, moved("ER-E1", "intake"))  # older than the commit below it
    expected = list(commits.read_moves(repo))
    assert moves._on_top(repo, git(root, "rev-parse", "HEAD").encode(), marks["head"].encode())
    got = list(moves.read_moves(repo))
    assert got[:-1] == expected[:-1] and got[-1].ticket == "ER-CACHED"  # the cached ones kept
    assert tip_of(cache) == git(root, "rev-parse", "HEAD")
    assert list(moves.read_moves(repo)) == got  # the new tip's walk, from the cache
    for upto in (marks["fork"], marks["first"], "side", "main~1", "HEAD~2"):  # older: listed
        want = list(commits.read_moves(repo, upto))
        assert [m for m in moves.read_moves(repo, upto) if m.ticket != "ER-CACHED"] == want[:-1], upto
    assert tip_of(cache) == git(root, "rev-parse", "HEAD")  # nothing missing: left as it was
    git(root, "checkout", "-q", "-b", "other", marks["fork"])
    commit(root, 1700, moved("ER-F1", "intake"))
    git(root, "checkout", "-q", "main")
    git(
        root,
        "merge",
        "-q",
        "--no-ff",
        "other",
        "-m",
        "merge\n\nErflow-Ticket: ER-M2\nErflow-To: m",
        when=1800,
    )
    head, cached_tip = git(root, "rev-parse", "HEAD").encode(), tip_of(cache).encode()
    assert not moves._on_top(repo, head, cached_tip) and moves._on_top(repo, head, head + b"x") is False
    got = list(moves.read_moves(repo))  # a merge on top: the walk listed, the new commits read
    assert got[:-1] == list(commits.read_moves(repo))[:-1] and got[-1].ticket == "ER-CACHED"
    rewrite(cache, lambda body: b"".join(line + b"\n" for line in body.split(b"\n")[:3]))
    assert list(moves.read_moves(repo, "HEAD~1")) == list(commits.read_moves(repo, "HEAD~1"))
    assert tip_of(cache) == git(root, "rev-parse", "HEAD~1")  # most were missing: one walk, cached


def test_a_git_folder_that_cannot_be_written_to_goes_without_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    history(root)
    repo = Git(root)
    blocked = moves.cache_path(repo).parent
    blocked.write_text("a file where the cache's folder would be", encoding="utf-8")
    assert list(moves.read_moves(repo)) == list(commits.read_moves(repo))
    assert list(moves.read_moves(repo)) == list(commits.read_moves(repo))
    assert blocked.is_file() and [p.name for p in blocked.parent.iterdir() if ".tmp" in p.name] == []


def test_a_walk_stopped_early_writes_no_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    history(root)
    repo = Git(root)
    walk = moves.move_tuples(repo)
    assert next(walk)[1] == "ER-B2"
    walk.close()
    folder = moves.cache_path(repo).parent
    assert not moves.cache_path(repo).exists() and list(folder.iterdir()) == []


def test_a_store_without_commits_has_no_moves_and_writes_no_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    repo = Git(root)
    assert list(moves.read_moves(repo)) == []
    assert not moves.cache_path(repo).exists()


def test_the_cache_read_in_small_chunks_splits_no_character_nor_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    history(root)
    commit(root, 1600, moved("ER-Ü1", "prüfung ✓"))
    commit(root, 1601, "more\n\nErflow-Ticket: ER-A1\nErflow-To: état\nErflow-Created: ER-Ω9\n")
    repo = Git(root)
    expected = list(commits.read_moves(repo))
    assert list(moves.read_moves(repo)) == expected
    for size in (1, 2, 3, 5, 64):
        monkeypatch.setattr(moves, "_READ", size)
        assert list(moves.read_moves(repo)) == expected, size
    assert expected[0] == Move(1601, "ER-A1", "état", ("ER-Ω9",))
