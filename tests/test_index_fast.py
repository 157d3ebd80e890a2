"""The index's fast paths answer as its slow ones: a first index parsed in worker processes holds
the rows a serial parse makes, ``list --json`` written from the index's JSON texts is the output
made row by row, and a hand edit that keeps the inode and size is seen by the next list."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, describe
from test_index import INDEX, copies

from erflow.core.errors import ErflowError
from erflow.store import index, index_listed
from erflow.store import index_rows as parsing
from erflow.store.ticketfile import parse_bytes
from erflow.store.tickets import Store


def odd_store(run: Cli) -> list[str]:
    """A store of valid tickets (non-ASCII titles, two states, two creation orders) and files that
    cannot be read (no front-matter, NUL, not UTF-8, an id unlike the name, a symlink); their ids."""
    ticket_id = run.ticket_at("pm_review")
    made = copies(run, ticket_id, 24, title="Ödd “quoted” 名前")
    for other in made[::3]:
        path = run.path(other)
        path.write_text(
            path.read_text(encoding="utf-8").replace("state: pm_review", "state: intake"), "utf-8"
        )
    folder = run.path(ticket_id).parent
    (folder / "ER-BAD001.md").write_text("no front-matter\n", encoding="utf-8")
    (folder / "ER-BAD002.md").write_bytes(b"---\nid: ER-BAD002\x00\n---\n")
    (folder / "ER-BAD003.md").write_bytes(b"---\nid: ER-BAD003\ntitle: \xff\n---\n")
    (folder / "ER-BAD004.md").write_text(run.path(made[0]).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "ER-LINK00.md").symlink_to(run.path(ticket_id))
    return [ticket_id, *made]


def index_rows(root: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(root / INDEX)) as db:
        return db.execute("SELECT * FROM files ORDER BY path").fetchall()


def row_by_row(
    root: Path, types: tuple[str, ...] = (), states: tuple[str, ...] = ()
) -> tuple[str, list[str]]:
    """``list --json``'s output and problems as made from the index one Indexed at a time."""
    items = list(Store(root).indexed(types, states))
    texts = [item.raw or "null" for item in items if item.problem is None]
    out = "[]\n" if not texts else "[\n" + ",\n".join(texts) + "\n]\n"
    return out, [item.problem for item in items if item.problem is not None]


def from_files(root: Path, states: tuple[str, ...] = ()) -> str:
    """``list --json`` as it must be, made without the index: every ticket file (no symlink) read
    and checked, oldest first, one per line; only of these states when given."""
    found = []
    for path in sorted((root / "tickets").rglob("*.md")):
        if path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        try:
            meta = parse_bytes(path.read_bytes(), rel).ticket.meta
        except ErflowError:
            continue
        if not states or meta.get("state") in states:
            found.append((str(meta.get("created", "")), str(meta.get("id", "")), rel, meta))
    texts = [json.dumps(meta, ensure_ascii=False, default=str) for *_, meta in sorted(found)]
    return "[]\n" if not texts else "[\n" + ",\n".join(texts) + "\n]\n"


# ---------------------------------------------------------------------------------------------
# The first index, parsed in worker processes


def serial_rows(run: Cli, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The rows of an index of the odd store parsed in this process, the index then removed."""
    odd_store(run)
    monkeypatch.setattr(parsing, "PARALLEL_FROM", 10**9)
    list(Store(run.root).indexed())
    serial = index_rows(run.root)
    shutil.rmtree(run.root / ".erflow")
    return serial


def test_a_parallel_first_index_holds_the_rows_of_a_serial_one(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = serial_rows(run, monkeypatch)

    parsed_here: list[str] = []
    load_entry = parsing.load_entry

    def counted(root: Path, rel: str) -> object:
        parsed_here.append(rel)
        return load_entry(root, rel)

    monkeypatch.setattr(parsing, "load_entry", counted)
    monkeypatch.setattr(parsing, "PARALLEL_FROM", 5)
    monkeypatch.setattr(parsing, "PROGRESS_FROM", 5)
    monkeypatch.setattr(parsing, "CHUNK", 4)
    store = Store(run.root)
    seen: list[tuple[int, int]] = []
    store.progress = lambda done, total: seen.append((done, total))
    list(store.indexed())

    assert index_rows(run.root) == serial and len(serial) == 30
    assert parsed_here == []  # every file was parsed in a worker process, none in this one
    total = len(serial)
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # a first index makes its own indexes after the rows: they are there, the same as a serial one's
    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as connection:
        made = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        assert sorted(made) == sorted((s.split()[2], s) for s in index._INDEXES)
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT path FROM files WHERE (created, id, path) > ('', '', '') "
            "ORDER BY created, id, path"
        ).fetchall()
        assert "files_order" in str(plan)


def test_a_parallel_parse_gives_the_list_of_a_serial_one(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    odd_store(run)
    monkeypatch.setattr(parsing, "PARALLEL_FROM", 5)
    monkeypatch.setattr(parsing, "CHUNK", 3)
    parallel = run("list", "--json")
    assert parallel.exit_code == 0, describe(parallel)

    assert parallel.stdout == from_files(run.root)
    assert parallel.stderr.count("erflow: skipped") == 5


# ---------------------------------------------------------------------------------------------
# list --json from the index's JSON texts


@pytest.mark.parametrize("page", [index.PAGE, 4])
def test_list_json_from_the_texts_is_the_list_made_row_by_row(
    run: Cli, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    odd_store(run)
    monkeypatch.setattr(index, "PAGE", page)
    for args, types, states in [
        ((), (), ()),
        (("--state", "intake"), (), ("intake",)),
        (("--type", "enhancement", "--state", "pm_review"), ("enhancement",), ("pm_review",)),
        (("--type", "bug"), ("bug",), ()),
    ]:
        for _ in ("cold or refreshed", "warm"):
            fast = run("list", "--json", *args)
            assert fast.exit_code == 0, describe(fast)
            slow, problems = row_by_row(run.root, types, states)
            assert fast.stdout == slow
            assert fast.stderr == "".join(f"erflow: skipped {p}\n" for p in problems)
            assert len(problems) == 5
        shutil.rmtree(run.root / ".erflow")
    assert run("list", "--json").stdout == from_files(run.root)
    assert run("list", "--json", "--state", "intake").stdout == from_files(run.root, ("intake",))
    assert len(from_files(run.root, ("intake",)).splitlines()) == 2 + 8


def test_json_texts_from_the_files_when_the_index_cannot_be_made(run: Cli) -> None:
    odd_store(run)
    expected, problems = row_by_row(run.root)
    shutil.rmtree(run.root / ".erflow")
    (run.root / ".erflow").write_text("not a folder\n", encoding="utf-8")

    found, runs = Store(run.root).indexed_json()
    result = run("list", "--json")

    assert found == problems and (b"[\n" + b",\n".join(runs) + b"\n]\n").decode() == expected
    assert result.exit_code == 0 and result.stdout == expected


def test_the_texts_of_some_states_are_cut_in_runs_of_whole_documents(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_store(run)
    monkeypatch.setattr(index, "PAGE", 4)
    problems, runs = Store(run.root).indexed_json(states=["pm_review", "intake"])
    cut = list(runs)

    assert len(cut) == 7 and all(r for r in cut)  # 25 documents: 6 pages of 4 and one of 1
    assert (b"[\n" + b",\n".join(cut) + b"\n]\n").decode() == from_files(run.root)
    assert len(problems) == 5


# ---------------------------------------------------------------------------------------------
# The list of every ticket, kept for the index's generation (.erflow/list.json)


def listed_again(run: Cli) -> tuple[list[str], str]:
    """What the index gives of every ticket, asserted the same as a list made without the index."""
    problems, runs = Store(run.root).indexed_json()
    text = (b"[\n" + b",\n".join(runs) + b"\n]\n").decode()
    assert text == from_files(run.root)
    return problems, text


def test_the_list_of_every_ticket_is_kept_from_the_second_list_with_no_change(run: Cli) -> None:
    """A list that changed rows does not keep the list (after an advance more are likely: no file of
    every ticket written after each); the next one, with nothing changed, does."""
    made = odd_store(run)
    first = listed_again(run)
    assert not (run.root / index_listed.LISTED).exists()
    assert listed_again(run) == first
    kept = (run.root / index_listed.LISTED).read_bytes()
    assert len(first[0]) == 5 and b'"problems": [' in kept.rsplit(b"\n", 1)[1]

    run.path(made[2]).unlink()
    assert listed_again(run) != first and (run.root / index_listed.LISTED).read_bytes() == kept
    listed_again(run)
    assert (run.root / index_listed.LISTED).read_bytes() != kept


def test_the_list_of_every_ticket_is_kept_and_served_while_no_row_changes(run: Cli) -> None:
    odd_store(run)
    first = listed_again(run)
    listed_again(run)

    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db:  # the texts served are the file's
        db.execute("UPDATE files SET meta = json_set(meta, '$.title', 'from the rows')")
        db.commit()
    assert listed_again(run) == first
    assert run("list", "--json").stdout == first[1]


def test_a_kept_list_whose_trailer_is_longer_than_the_tail_read_is_served_whole(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_store(run)
    first = listed_again(run)
    listed_again(run)
    trailer = (run.root / index_listed.LISTED).read_bytes().rsplit(b"\n", 1)[1]
    monkeypatch.setattr(index_listed, "_TAIL", len(trailer) // 2)
    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db:  # served from the file, not the rows
        db.execute("UPDATE files SET meta = json_set(meta, '$.title', 'from the rows')")
        db.commit()
    assert listed_again(run) == first and len(first[0]) == 5


@pytest.mark.parametrize("change", ["edit", "new", "delete"])
def test_a_changed_ticket_file_makes_the_kept_list_stale(run: Cli, change: str) -> None:
    made = odd_store(run)
    listed_again(run)
    listed_again(run)
    assert (run.root / index_listed.LISTED).exists()
    path = run.path(made[3])
    if change == "edit":  # same size, and the mtime set forward: the row changes, so does the list
        data = path.read_bytes()
        path.write_bytes(data.replace(b"state: pm_review", b"state: pm_xeview"))
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    elif change == "new":
        shutil.copy(path, path.with_name("ER-NEW001.md"))
        text = path.with_name("ER-NEW001.md").read_text(encoding="utf-8")
        path.with_name("ER-NEW001.md").write_text(text.replace(made[3], "ER-NEW001"), "utf-8")
    else:
        path.unlink()

    problems, text = listed_again(run)
    assert ("pm_xeview" in text) == (change == "edit") and ("ER-NEW001" in text) == (change == "new")
    assert (made[3] in text) == (change != "delete")


@pytest.mark.parametrize("damage", ["cut", "other generation", "not json", "symlink", "folder"])
def test_a_kept_list_that_is_not_whole_or_not_ours_is_made_again(run: Cli, damage: str) -> None:
    odd_store(run)
    expected = listed_again(run)
    listed_again(run)
    kept = run.root / index_listed.LISTED
    data = kept.read_bytes()
    kept.unlink()
    if damage == "cut":
        kept.write_bytes(data[:-10])
    elif damage == "other generation":
        kept.write_bytes(data.replace(b'"generation": "', b'"generation": "0'))
    elif damage == "not json":
        kept.write_bytes(b"[\n" + data)
    elif damage == "symlink":  # a file elsewhere, made for this generation: never read through a link
        elsewhere = run.root.parent / "elsewhere.json"
        elsewhere.write_bytes(data.replace(b"Saves", b"Spent"))
        kept.symlink_to(elsewhere)
    else:
        kept.mkdir()

    assert listed_again(run) == expected
    if damage != "folder":
        assert kept.is_file() and not kept.is_symlink() and kept.read_bytes() == data


# ---------------------------------------------------------------------------------------------
# A hand edit between two lists


def test_a_hand_edit_in_place_of_the_same_size_is_seen_by_the_next_list(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    assert [t["priority"] for t in run.json("list")] == ["normal"]
    before = path.stat()

    data = path.read_bytes()
    changed = data.replace(b"priority: normal", b"priority: urgent")
    assert len(changed) == len(data) and changed != data
    with open(path, "r+b") as handle:  # in place: the same inode, the same size
        handle.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    after = path.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)

    assert [t["priority"] for t in run.json("list")] == ["urgent"]
    assert [i.meta["priority"] for i in Store(run.root).indexed() if i.meta] == ["urgent"]


def test_a_first_index_made_by_another_erflow_meanwhile_is_brought_up_to_date(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first index's rows are written under the write lock; one that finds rows there once it
    has the lock (another erflow made them while it waited) leaves them and refreshes as usual."""
    odd_store(run)
    monkeypatch.setattr(parsing, "PARALLEL_FROM", 5)
    list(Store(run.root).indexed())
    made = index_rows(run.root)
    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db:
        db.execute("DELETE FROM files WHERE path NOT IN (SELECT path FROM files ORDER BY path LIMIT 3)")
        db.commit()
    connection = index._open(run.root)
    try:
        walked = sorted(index.walk(run.root))
        assert index._first_index(connection, run.root, walked, None) is False  # not empty: left alone
        assert len(index_rows(run.root)) == 3
        index._refresh(connection, run.root, None)
    finally:
        connection.close()
    assert index_rows(run.root) == made


def test_a_first_index_of_many_files_holds_every_row_and_its_indexes(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = serial_rows(run, monkeypatch)
    monkeypatch.setattr(parsing, "PARALLEL_FROM", 5)
    monkeypatch.setattr(parsing, "CHUNK", 4)  # rows written in several batches within the transaction
    out = run.ok("list", "--json").stdout
    assert index_rows(run.root) == serial
    assert out == row_by_row(run.root)[0]
    # The stats of a first index are taken as each file is read (the walk takes none): each row's
    # is the file's own, so the next refresh reads nothing again.
    for path, mtime_ns, size, ino, *_ in serial:
        st = os.lstat(run.root / path)
        assert (mtime_ns, size, ino) == (st.st_mtime_ns, st.st_size, st.st_ino), path
