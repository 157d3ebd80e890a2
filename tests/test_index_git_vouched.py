"""The index trusts git's own stat check: while ``git status`` finds nothing under tickets/ and HEAD's
tickets/ tree is the one its rows were checked against, a list walks no folder. Whatever git or a
person does to the ticket files, the list is the one a fresh index (no .erflow/) gives."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import PM, Cli, describe, git
from test_index import INDEX, copies

from erflow.store import index, index_git, index_rows, vouch
from erflow.store.paths import Stat
from erflow.store.tickets import Store


def store_of(run: Cli, count: int = 6) -> list[str]:
    """A committed store of a walked ticket and ``count`` more made by hand; their ids."""
    ticket_id = run.ticket_at("pm_review")
    made = copies(run, ticket_id, count)
    run.commit_all("hand-made tickets")
    return [ticket_id, *made]


def listing(run: Cli, root: Path | None = None) -> tuple[str, str]:
    result = run("list", "--json", store=root or run.root)
    assert result.exit_code == 0, describe(result)
    return result.stdout, result.stderr


def fresh(run: Cli) -> tuple[str, str]:
    """The list as a fresh index makes it: from a copy of the store without .erflow/."""
    copy = run.root.parent / "fresh-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run.root, copy, symlinks=True, ignore=shutil.ignore_patterns(".erflow"))
    return listing(run, copy)


def recorded(root: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(root / INDEX)) as db:
        row = db.execute("SELECT value FROM info WHERE key = 'git_tree'").fetchone()
    return None if row is None else str(row[0])


def no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(root: Path) -> list[Stat]:
        raise AssertionError("the ticket files were walked")

    monkeypatch.setattr(index, "walk", refused)


def listed_without_a_walk(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is the one a fresh index makes, and made without a walk of the ticket files."""
    expected = fresh(run)
    no_walk(monkeypatch)
    assert listing(run) == expected


def vouched(run: Cli) -> None:
    """The index made and its rows found to be HEAD's tickets/ tree."""
    listing(run)
    assert recorded(run.root) == run.git("rev-parse", "HEAD:tickets").strip()


def same_size_edit(path: Path, old: bytes, new: bytes, *, in_place: bool = False) -> None:
    """``path`` with ``old`` replaced by ``new`` (as long), its size and mtime_ns kept: only its
    inode (a new file put in its place) or only its ctime (``in_place``) tells of the edit."""
    before = path.stat()
    data = path.read_bytes()
    changed = data.replace(old, new)
    assert len(changed) == len(data) and changed != data
    if in_place:
        # git may compare ctime in whole seconds (built without USE_NSEC): an edit in place, its
        # size and mtime kept, in the second git last took the file's stat, git cannot see.
        while int(time.time()) == before.st_ctime_ns // 1_000_000_000:
            time.sleep(0.05)
        with open(path, "r+b") as handle:
            handle.write(changed)
    else:
        path.with_name("new").write_bytes(changed)
        os.replace(path.with_name("new"), path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


# ---------------------------------------------------------------------------------------------
# The fast path is taken


def test_a_clean_store_is_listed_without_a_walk(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    store_of(run)
    vouched(run)
    listed_without_a_walk(run, monkeypatch)


def test_files_git_lists_that_are_no_tickets_keep_the_fast_path(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store_of(run)
    vouched(run)
    folder = run.path(ids[0]).parent
    (folder / ".ER-T00001.md.swp").write_bytes(b"swap")
    (folder / "notes.txt").write_text("not a ticket\n", encoding="utf-8")
    (run.root / ".gitignore").write_text(".erflow/\n*.orig\n", encoding="utf-8")
    (folder / "ER-T00002.md.orig").write_text("ignored\n", encoding="utf-8")
    run.commit_all("ignore backups")
    vouched(run)
    listed_without_a_walk(run, monkeypatch)


def test_a_commit_of_a_few_tickets_is_caught_up_without_a_walk(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store_of(run)
    vouched(run)
    copies(run, ids[0], 8)  # ER-T00000..7: six rewritten as they were, two new
    same_size_edit(run.path(ids[0]), b"priority: normal", b"priority: urgent", in_place=True)
    run.path(ids[2]).unlink()
    run.commit_all("a few changes")

    no_walk(monkeypatch)
    out, err = listing(run)
    monkeypatch.undo()
    assert (out, err) == fresh(run)
    assert '"priority": "urgent"' in out and ids[2] not in out and "ER-T00007" in out
    assert recorded(run.root) == run.git("rev-parse", "HEAD:tickets").strip()


def test_an_erflow_commit_is_caught_up_without_a_walk(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = store_of(run)
    vouched(run)
    run.ok("note", ids[0], "Called the customer", user=PM)

    no_walk(monkeypatch)
    out, err = listing(run)
    monkeypatch.undo()
    assert (out, err) == fresh(run)


def test_more_changes_than_a_catch_up_takes_are_walked(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = store_of(run)
    vouched(run)
    monkeypatch.setattr(index_git, "CATCH_UP_MOST", 2)
    for ticket_id in ids[1:4]:
        same_size_edit(run.path(ticket_id), b"priority: normal", b"priority: urgent")
    same_size_edit(run.path(ids[4]), b"priority: normal", b"priority: urgent", in_place=True)  # git sees it
    run.commit_all("four edits")

    out, err = listing(run)
    assert (out, err) == fresh(run)
    assert out.count('"priority": "urgent"') == 4
    assert recorded(run.root) == run.git("rev-parse", "HEAD:tickets").strip()


# ---------------------------------------------------------------------------------------------
# What git cannot vouch for is walked


@pytest.mark.parametrize("in_place", [False, True])
def test_a_hand_edit_of_the_same_size_and_time_is_seen(run: Cli, in_place: bool) -> None:
    ids = store_of(run)
    vouched(run)
    same_size_edit(run.path(ids[3]), b"priority: normal", b"priority: urgent", in_place=in_place)

    out, err = listing(run)
    assert '"priority": "urgent"' in out
    assert (out, err) == fresh(run)
    assert listing(run) == (out, err)


def test_a_new_untracked_ticket_file_is_seen(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    copies(run, ids[0], 9)

    out, err = listing(run)
    assert "ER-T00008" in out
    assert (out, err) == fresh(run)


def test_a_deleted_ticket_file_is_seen(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    run.path(ids[2]).unlink()

    out, err = listing(run)
    assert ids[2] not in out
    assert (out, err) == fresh(run)


def test_a_symlink_is_seen_and_never_vouched_for(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    link = run.path(ids[0]).parent / "ER-LINK00.md"
    link.symlink_to(run.path(ids[0]).name)

    out, err = listing(run)
    assert "ER-LINK00.md" in err
    assert (out, err) == fresh(run)

    run.commit_all("a symlink, committed")
    out, err = listing(run)
    assert "ER-LINK00.md" in err
    assert (out, err) == fresh(run)
    assert recorded(run.root) == run.git("rev-parse", "HEAD:tickets").strip() + " no"


def test_a_symlink_git_ignores_is_seen(run: Cli) -> None:
    ids = store_of(run)
    (run.root / ".gitignore").write_text(".erflow/\n*.lnk\n", encoding="utf-8")
    run.commit_all("ignore links")
    vouched(run)
    (run.path(ids[0]).parent / "x.lnk").symlink_to(run.path(ids[0]).name)

    out, err = listing(run)
    assert "x.lnk" in err
    assert (out, err) == fresh(run)


@pytest.mark.parametrize("pattern", ["ER-IG*.md", "tickets/ER/IG/", "tickets/ER/Z*", "tickets/"])
def test_ticket_files_git_ignores_are_seen(run: Cli, pattern: str) -> None:
    ids = store_of(run)
    (run.root / ".gitignore").write_text(f".erflow/\n{pattern}\n", encoding="utf-8")
    run.commit_all("ignore some")
    vouched(run)
    for folder in ("IG", "ZZ"):
        (run.root / "tickets" / "ER" / folder).mkdir()
    text = run.path(ids[1]).read_text(encoding="utf-8")
    for new_id, folder in (("ER-IG0001", "IG"), ("ER-IG0002", "IG"), ("ER-ZZ0001", "ZZ")):
        target = run.root / "tickets" / "ER" / folder / f"{new_id}.md"
        target.write_text(text.replace(ids[1], new_id), encoding="utf-8")

    out, err = listing(run)
    assert "ER-ZZ0001" in out and "ER-IG0002" in out
    assert (out, err) == fresh(run)


def test_a_nested_repository_of_tickets_is_seen(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    nested = run.root / "tickets" / "ER" / "NE"
    nested.mkdir()
    git(nested, "init", "-q")
    (nested / "ER-NE0001.md").write_text(
        run.path(ids[1]).read_text(encoding="utf-8").replace(ids[1], "ER-NE0001"), encoding="utf-8"
    )

    out, err = listing(run)
    assert "ER-NE0001" in out
    assert (out, err) == fresh(run)


@pytest.mark.parametrize("how", ["checkout", "reset"])
def test_another_commit_checked_out_is_seen(run: Cli, how: str) -> None:
    ids = store_of(run)
    vouched(run)
    same_size_edit(run.path(ids[1]), b"priority: normal", b"priority: urgent")
    run.path(ids[2]).unlink()
    run.commit_all("edit and delete")
    listing(run)

    if how == "checkout":
        run.git("checkout", "-q", "--detach", "HEAD~")
    else:
        run.git("reset", "-q", "--hard", "HEAD~")

    out, err = listing(run)
    assert '"priority": "urgent"' not in out and ids[2] in out
    assert (out, err) == fresh(run)


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_ticket_file_git_is_told_not_to_look_at_is_seen(run: Cli, flag: str) -> None:
    ids = store_of(run)
    vouched(run)
    run.git("update-index", flag, "--", str(run.path(ids[1]).relative_to(run.root)))
    same_size_edit(run.path(ids[1]), b"priority: normal", b"priority: urgent")
    assert run.git("status", "--porcelain") == ""  # git does not see it

    out, err = listing(run)
    assert '"priority": "urgent"' in out
    assert (out, err) == fresh(run)


def test_a_store_in_a_subfolder_of_its_repository_is_vouched_for(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = store_of(run)
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.move(run.root / ".git", repo / ".git")
    shutil.move(run.root, repo / "sub")
    run.store = repo / "sub"
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=H", "-c", "user.email=h@example.com", "commit", "-q", "-m", "moved")
    assert vouch.head(run.root) == vouch.Head(git(repo, "rev-parse", "HEAD:sub/tickets").strip(), "sub/")
    listing(run)
    assert recorded(run.root) == git(repo, "rev-parse", "HEAD:sub/tickets").strip()
    (run.root / "tickets" / "ER" / "ZZ").mkdir()
    (run.root / "tickets" / "ER" / "ZZ" / "x.txt").write_text("not a ticket\n", encoding="utf-8")
    expected = fresh(run)
    with monkeypatch.context() as patched:
        no_walk(patched)
        assert listing(run) == expected

    same_size_edit(run.path(ids[1]), b"priority: normal", b"priority: urgent")
    out, err = listing(run)
    assert '"priority": "urgent"' in out
    assert (out, err) == fresh(run)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=H", "-c", "user.email=h@example.com", "commit", "-q", "-m", "edit")
    assert listing(run) == (out, err)  # seen dirty: walked once more, then vouched for again
    with monkeypatch.context() as patched:
        no_walk(patched)
        assert listing(run) == (out, err)


def test_a_store_without_a_commit_is_walked(run: Cli) -> None:
    ids = store_of(run)
    shutil.rmtree(run.root / ".git")
    run.git("init", "-q")

    out, err = listing(run)
    assert ids[0] in out
    assert (out, err) == fresh(run)
    assert recorded(run.root) is None


def test_without_git_the_index_is_walked(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = store_of(run)
    vouched(run)
    path = run.path(ids[1])
    path.write_text(path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), "utf-8")
    run.commit_all("an edit")
    expected, _ = fresh(run)

    monkeypatch.setenv("PATH", str(run.root / "nowhere"))
    assert vouch.head(run.root) is None and vouch.changed(run.root, "") is None
    problems, runs = Store(run.root).indexed_json()
    assert (problems, (b"[\n" + b",\n".join(runs) + b"\n]\n").decode()) == ([], expected)


@pytest.mark.parametrize("dirty", [False, True])
def test_a_first_index_of_many_files_asks_git_while_it_parses_them(
    run: Cli, monkeypatch: pytest.MonkeyPatch, dirty: bool
) -> None:
    """A first index in worker processes: git is asked in a thread meanwhile (vouch.Asked), and
    the tree is recorded as the rows' only when git finds the ticket files clean."""
    ids = store_of(run)
    if dirty:
        same_size_edit(run.path(ids[2]), b"priority: normal", b"priority: urgent")
    expected = fresh(run)
    shutil.rmtree(run.root / ".erflow", ignore_errors=True)  # no index yet: the first is made below
    monkeypatch.setattr(index_rows, "PARALLEL_FROM", 3)
    started: list[vouch.Asked] = []
    start = vouch.Asked.start

    def watched(asked: vouch.Asked) -> None:
        started.append(asked)
        start(asked)

    monkeypatch.setattr(vouch.Asked, "start", watched)
    assert listing(run) == expected
    head_tree = run.git("rev-parse", "HEAD:tickets").strip()
    assert len(started) == 1 and recorded(run.root) == (f"{head_tree} no" if dirty else head_tree)
    seen, tree_files = started[0].answers()
    assert (seen == []) != dirty and (tree_files is None) == dirty
    assert listing(run) == expected


def test_a_dirty_store_is_judged_once_per_head(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    head_tree = run.git("rev-parse", "HEAD:tickets").strip()
    same_size_edit(run.path(ids[1]), b"priority: normal", b"priority: urgent")
    listing(run)
    assert recorded(run.root) == f"{head_tree} no"

    run.commit_all("the edit")
    out, err = listing(run)
    assert recorded(run.root) == run.git("rev-parse", "HEAD:tickets").strip()
    assert (out, err) == fresh(run)


def test_a_list_leaves_gits_index_as_it_was(run: Cli) -> None:
    ids = store_of(run)
    vouched(run)
    path = run.path(ids[1])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))  # stat-dirty
    git_index = run.root / ".git" / "index"
    before = git_index.stat()

    listing(run)
    listing(run)

    after = git_index.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
