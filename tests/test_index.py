"""The front-matter index (.erflow/index.sqlite): derived, refreshed from the files' stat, never the
truth; whatever happens to it, a command still answers from the files."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, describe, read_only

from erflow.store import index, index_rows
from erflow.store.ticketfile import parse
from erflow.store.tickets import Store

INDEX = Path(".erflow") / "index.sqlite"


def listed(run: Cli, *args: str) -> list[dict[str, Any]]:
    result = run("list", "--json", *args)
    assert result.exit_code == 0, describe(result)
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def rows(run: Cli) -> dict[str, dict[str, Any]]:
    """The index's rows by path, read with sqlite3 (the test's own connection)."""
    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db:
        db.row_factory = sqlite3.Row
        return {r["path"]: dict(r) for r in db.execute("SELECT * FROM files")}


def copies(run: Cli, ticket_id: str, count: int, *, title: str = "Copy") -> list[str]:
    """``count`` more valid tickets made by hand from ``ticket_id``'s file (new ids, own titles and
    creation times), as a person might add them; their ids."""
    text = run.path(ticket_id).read_text(encoding="utf-8")
    made = []
    for n in range(count):
        new_id = f"ER-T{n:05d}"
        path = run.root / "tickets" / "ER" / new_id[3:5] / f"{new_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        changed = text.replace(ticket_id, new_id).replace("Export invoices to CSV", f"{title} {n} — ünïcödé")
        changed = changed.replace(
            "created: '2026-11-02T09:00:00+00:00'", f"created: '2026-10-{1 + n % 28:02d}T09:00:00+00:00'"
        )
        path.write_text(changed, encoding="utf-8")
        made.append(new_id)
    return made


def expected_json(root: Path) -> str:
    """``list --json`` as it must be: every ticket file parsed, oldest first, one per line."""
    metas = []
    for path in sorted((root / "tickets").rglob("*.md")):
        try:
            metas.append(parse(path.read_text(encoding="utf-8"), path).ticket.meta)
        except Exception:  # noqa: BLE001 - a bad file is not listed
            continue
    metas.sort(key=lambda m: (str(m.get("created", "")), str(m.get("id", ""))))
    if not metas:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(m, ensure_ascii=False, default=str) for m in metas) + "\n]\n"


# ---------------------------------------------------------------------------------------------
# Filling and refreshing


def test_list_fills_the_index_and_git_ignores_it(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")

    assert [t["id"] for t in listed(run)] == [ticket_id]

    (row,) = rows(run).values()
    assert row["path"] == run.path(ticket_id).relative_to(run.root).as_posix()
    assert json.loads(row["meta"])["state"] == "pm_review"
    assert (row["id"], row["type"], row["state"], row["problem"]) == (
        ticket_id,
        "enhancement",
        "pm_review",
        None,
    )
    assert run.git("status", "--porcelain", "--untracked-files=all") == ""


def test_the_blob_id_of_a_row_is_gits(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)

    (row,) = rows(run).values()
    assert row["blob"] == run.git("hash-object", str(run.path(ticket_id))).strip()
    assert row["blob"] == run.git("rev-parse", f"HEAD:{row['path']}").strip()


def test_an_edited_file_is_read_again(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), "utf-8")

    assert [t["priority"] for t in listed(run)] == ["high"]
    assert json.loads(next(iter(rows(run).values()))["meta"])["priority"] == "high"


def test_an_edit_of_the_same_size_and_time_is_seen_through_its_new_inode(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    path = run.path(ticket_id)
    before = path.stat()
    replaced = path.with_name("replacement")
    replaced.write_text(
        path.read_text(encoding="utf-8").replace("priority: normal", "priority: urgent"), "utf-8"
    )
    os.utime(replaced, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replaced, path)  # as erflow writes: same size and mtime, another inode

    assert [t["priority"] for t in listed(run)] == ["urgent"]


def test_a_renamed_file_leaves_no_stale_row(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    old = run.path(ticket_id)
    new = run.root / "tickets" / "elsewhere" / old.name
    new.parent.mkdir()
    old.rename(new)

    assert [t["id"] for t in listed(run)] == [ticket_id]
    assert list(rows(run)) == [f"tickets/elsewhere/{old.name}"]


def test_a_deleted_file_is_no_longer_listed(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    (other,) = copies(run, ticket_id, 1)
    assert len(listed(run)) == 2
    run.path(other).unlink()

    assert [t["id"] for t in listed(run)] == [ticket_id]
    assert len(rows(run)) == 1


def test_list_json_is_every_file_parsed_oldest_first_one_per_line(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 40)
    expected = expected_json(run.root)

    cold = run("list", "--json")
    warm = run("list", "--json")

    assert cold.exit_code == warm.exit_code == 0
    assert cold.stdout == warm.stdout == expected
    assert len(json.loads(expected)) == 41


def test_list_json_of_an_empty_store_is_an_empty_array(run: Cli, store: Path) -> None:
    result = run("list", "--json")

    assert (result.exit_code, result.stdout) == (0, "[]\n")


def test_filters_give_the_same_tickets_from_the_index_as_from_the_files(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    made = copies(run, ticket_id, 6)
    for other in made[:3]:
        path = run.path(other)
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("state: pm_review", "state: intake").replace("owner: ", "owner: X"), "utf-8"
        )
    everything = listed(run)
    owner = next(t["owner"] for t in everything if t["state"] == "intake")

    assert [t["id"] for t in listed(run, "--state", "intake")] == [
        t["id"] for t in everything if t["state"] == "intake"
    ]
    assert len(listed(run, "--state", "intake")) == 3
    assert listed(run, "--type", "bug") == []
    assert [t["id"] for t in listed(run, "--owner", owner.upper())] == [
        t["id"] for t in everything if t["owner"] == owner
    ]
    assert listed(run, "--state", "pm_review", "--where", f"id={ticket_id}") == [
        t for t in everything if t["id"] == ticket_id
    ]


def test_a_bad_file_is_named_and_hides_no_other_ticket(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    bad = run.path(ticket_id).parent / "ER-BAD000.md"
    bad.write_text("no front-matter\n", encoding="utf-8")
    first = run("list", "--json")
    again = run("list", "--json", "--state", "intake")

    assert first.exit_code == again.exit_code == 0
    assert [t["id"] for t in json.loads(first.stdout)] == [ticket_id]
    assert json.loads(again.stdout) == []
    assert "ER-BAD000.md" in first.stderr and first.stderr == again.stderr
    problem = rows(run)[bad.relative_to(run.root).as_posix()]
    assert problem["meta"] is None and "ER-BAD000.md" in problem["problem"]


def test_the_old_json_index_is_removed(run: Cli) -> None:
    run.ticket_at("pm_review")
    old = run.root / ".erflow" / "index.json"
    old.parent.mkdir(exist_ok=True)
    old.write_text('{"version": 1, "files": {}}', encoding="utf-8")

    listed(run)

    assert not old.exists()


# ---------------------------------------------------------------------------------------------
# A cache never fails a command


def test_a_corrupt_index_is_ignored_and_made_anew(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    (run.root / INDEX).write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)

    assert [t["id"] for t in listed(run)] == [ticket_id]
    assert len(rows(run)) == 1


def test_an_index_from_another_version_is_rebuilt_not_trusted(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db, db:
        db.execute("UPDATE files SET meta = json_set(meta, '$.priority', 'from another version')")
        db.execute("UPDATE info SET value = '0.0.1' WHERE key = 'erflow'")

    assert [t["priority"] for t in listed(run)] == ["normal"]

    with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db, db:
        db.execute("UPDATE files SET meta = json_set(meta, '$.priority', 'from another schema')")
        db.execute("PRAGMA user_version = 99")

    assert [t["priority"] for t in listed(run)] == ["normal"]
    assert [t["id"] for t in listed(run)] == [ticket_id]


def test_an_index_that_cannot_be_made_falls_back_to_the_files(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 3)
    (run.root / ".erflow").write_text("a file where the cache folder goes\n", encoding="utf-8")

    result = run("list", "--json")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == expected_json(run.root)


def test_a_read_only_index_falls_back_to_the_files(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 3)
    listed(run)
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), "utf-8")

    with read_only(run.root / INDEX, run.root / ".erflow"):
        result = run("list", "--json")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == expected_json(run.root)
    assert "high" in result.stdout


def test_an_index_locked_past_the_timeout_falls_back_to_the_files(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    listed(run)
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), "utf-8")

    with contextlib.closing(sqlite3.connect(run.root / INDEX, isolation_level=None)) as db:
        db.execute("BEGIN EXCLUSIVE")
        result = run("list", "--json", env={"ERFLOW_LOCK_TIMEOUT": "0.2"})
        db.execute("ROLLBACK")

    assert (result.exit_code, result.stderr) == (0, "")
    assert [t["priority"] for t in json.loads(result.stdout)] == ["high"]


def test_two_processes_refreshing_at_once_both_answer_and_leave_a_sound_index(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 150)
    expected = expected_json(run.root)
    env = {**os.environ, "PYTHONPATH": str(Path(index.__file__).parents[2])}
    command = [sys.executable, "-m", "erflow", "list", "--json", "--store", str(run.root)]

    for _ in range(3):
        shutil.rmtree(run.root / ".erflow", ignore_errors=True)
        procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]

        for code, out, err in results:
            assert (code, err.decode()) == (0, "")
            assert out.decode() == expected
        with contextlib.closing(sqlite3.connect(run.root / INDEX)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM files").fetchone() == (151,)


# ---------------------------------------------------------------------------------------------
# The Store API


def test_indexed_yields_oldest_first_filtered_with_bad_files_always(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 5)
    (run.path(ticket_id).parent / "ER-BAD000.md").write_text("---\nid: [\n---\n", encoding="utf-8")
    store = Store(run.root)

    everything = list(store.indexed())
    intake = list(store.indexed(types=["enhancement"], states=["intake"]))

    metas = [i.meta for i in everything if i.meta is not None]
    assert [m["id"] for m in metas] == [m["id"] for m in sorted(metas, key=lambda m: (m["created"], m["id"]))]
    assert len(metas) == 6
    assert [i.path.name for i in everything if i.problem] == ["ER-BAD000.md"]
    assert [i.path.name for i in intake] == ["ER-BAD000.md"]
    assert all(i.raw == json.dumps(i.meta, ensure_ascii=False, default=str) for i in everything if i.meta)


def test_metas_by_blob_gives_the_front_matter_of_known_blobs_only(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    blob = run.git("hash-object", str(run.path(ticket_id))).strip()
    store = Store(run.root)

    assert store.metas_by_blob([blob]) == {}  # no index yet
    listed(run)
    found = store.metas_by_blob([blob, "0" * 40])

    assert list(found) == [blob]
    assert found[blob]["id"] == ticket_id and found[blob]["state"] == "pm_review"


def test_a_refresh_of_many_files_reports_its_progress(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 9)
    monkeypatch.setattr(index_rows, "PROGRESS_FROM", 5)
    store = Store(run.root)
    seen: list[tuple[int, int]] = []
    store.progress = lambda done, total: seen.append((done, total))

    assert len(list(store.indexed())) == 10
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    seen.clear()
    list(store.indexed())  # nothing to parse: no progress
    assert seen == []


def test_a_first_index_of_many_files_shows_a_progress_bar_on_a_terminal_only(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, index_rows.PROGRESS_FROM)
    env = {**os.environ, "PYTHONPATH": str(Path(index.__file__).parents[2])}
    command = [sys.executable, "-m", "erflow", "list", "--json", "--store", str(run.root)]
    master, terminal = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:  # read the terminal as it is written, so the bar never blocks on it
        with contextlib.suppress(OSError):  # EIO once the other end is closed
            while chunk := os.read(master, 65536):
                seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        out, _ = proc.communicate(timeout=120)
        reader.join(timeout=10)
    finally:
        os.close(master)

    assert proc.returncode == 0
    assert len(json.loads(out)) == index_rows.PROGRESS_FROM + 1
    assert b"Indexing ticket files" in b"".join(seen)
    shutil.rmtree(run.root / ".erflow")
    piped = subprocess.run(command, env=env, capture_output=True, check=True)
    assert piped.stderr == b""


def test_the_columns_a_head_is_read_from_agree_with_the_front_matter(run: Cli) -> None:
    from erflow.store.ticketfile import HEAD

    ticket_id = run.ticket_at("pm_review")
    copies(run, ticket_id, 3)
    store = Store(run.root)
    list(store.indexed())  # the index is built: heads now come from its columns
    items = list(store.indexed())
    assert len(items) == 4 and all(i.problem is None for i in items)
    for item in items:
        assert item._head is not None  # noqa: SLF001 - read from the columns, not the JSON
        meta = json.loads(str(item.raw))
        assert item.head == {k: meta.get(k) for k in HEAD}
    assert {i.head["owner"] for i in items if i.head} == {"destyn@example.com"}
