"""Each command reads the ticket file it works on once, the advance menu included: the reads are
counted where the store reads a ticket file (``Store.read_file``) and where its index does
(``index_rows.load_entry``)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import APPROVE, NICK, PM, Cli, answer_menu

from erflow.app import views
from erflow.app.advance import advance
from erflow.app.context import open_context
from erflow.store import index_rows
from erflow.store.tickets import Store


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Ticket file name -> how many times erflow read it, from here on."""
    seen: Counter[str] = Counter()
    read_file, load_entry = Store.read_file, index_rows.load_entry

    def counted_read_file(self: Store, path: Path, **options: bool) -> object:
        seen[path.name] += 1
        return read_file(self, path, **options)

    def counted_load_entry(root: Path, rel: str) -> object:
        seen[Path(rel).name] += 1
        return load_entry(root, rel)

    monkeypatch.setattr(Store, "read_file", counted_read_file)
    monkeypatch.setattr(index_rows, "load_entry", counted_load_entry)
    return seen


def settled(run: Cli, ticket_id: str) -> None:
    """Date the ticket file's last change an hour back, as for a ticket not touched in the last
    seconds (a file changed that recently is always read again: its times could hide a change)."""
    path = run.path(ticket_id)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))


def test_show_reads_the_ticket_file_once(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("pm_review")
    reads.clear()
    run.ok("show", ticket_id, user=PM)
    assert reads == {f"{ticket_id}.md": 1}


def test_show_json_reads_the_ticket_file_once(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("pm_review")
    reads.clear()
    run.show(ticket_id, user=PM)
    assert reads == {f"{ticket_id}.md": 1}


def test_transitions_reads_the_ticket_file_once(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("pm_review")
    reads.clear()
    run.ok("transitions", ticket_id, user=PM)
    assert reads == {f"{ticket_id}.md": 1}


def test_advance_reads_the_ticket_file_once(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("pm_review")
    reads.clear()
    run.advance(ticket_id, APPROVE)
    assert run.state(ticket_id) == "product_board"
    assert reads[f"{ticket_id}.md"] == 1


def test_advance_chosen_from_a_view_reads_the_ticket_file_once(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("leadership")
    settled(run, ticket_id)
    ctx = open_context(str(run.root), {**os.environ, "ERFLOW_USER": NICK}, run.root)
    reads.clear()
    view = views.show(ctx, ticket_id)
    chosen = next(o.transition.name for o in view.options if o.allowed)
    result = advance(ctx, ticket_id, chosen, already_read=view.file)
    assert result.commit is not None and result.from_state == "leadership"
    assert reads[f"{ticket_id}.md"] == 1


def test_a_ticket_changed_after_the_view_is_read_again_and_the_change_kept(
    run: Cli, reads: Counter[str]
) -> None:
    ticket_id = run.ticket_at("leadership")
    settled(run, ticket_id)
    ctx = open_context(str(run.root), {**os.environ, "ERFLOW_USER": NICK}, run.root)
    view = views.show(ctx, ticket_id)
    run.ok("note", ticket_id, "added while the menu was open", user=PM)
    settled(run, ticket_id)  # even dated back, the new file is not the one the view read
    reads.clear()
    advance(ctx, ticket_id, "schedule", already_read=view.file)
    assert reads[f"{ticket_id}.md"] == 1
    text = run.path(ticket_id).read_text(encoding="utf-8")
    assert "added while the menu was open" in text
    assert run.state(ticket_id) == "scheduling"


def test_a_ticket_changed_seconds_before_the_view_is_read_again(run: Cli, reads: Counter[str]) -> None:
    ticket_id = run.ticket_at("leadership")
    os.utime(run.path(ticket_id))  # changed just now: its times cannot tell a second change apart
    ctx = open_context(str(run.root), {**os.environ, "ERFLOW_USER": NICK}, run.root)
    reads.clear()
    view = views.show(ctx, ticket_id)
    advance(ctx, ticket_id, "schedule", already_read=view.file)
    assert reads[f"{ticket_id}.md"] == 2
    assert run.state(ticket_id) == "scheduling"


# erflow run as the console script would, with the store's two ticket readers counted; the counts
# are written to a file at exit.
COUNTED = textwrap.dedent(
    """\
    import atexit, collections, sys
    from pathlib import Path
    from erflow.store import index_rows
    from erflow.store.tickets import Store

    seen = collections.Counter()
    read_file, load_entry = Store.read_file, index_rows.load_entry

    def counted_read_file(self, path, **options):
        seen[path.name] += 1
        return read_file(self, path, **options)

    def counted_load_entry(root, rel):
        seen[Path(rel).name] += 1
        return load_entry(root, rel)

    Store.read_file, index_rows.load_entry = counted_read_file, counted_load_entry
    report = Path(sys.argv[1])
    atexit.register(lambda: report.write_text(repr(dict(seen))))
    sys.argv = ["erflow", *sys.argv[2:]]
    from erflow.cli.main import main
    main()
    """
)


def test_the_advance_menu_reads_the_ticket_file_once(run: Cli, tmp_path: Path) -> None:
    ticket_id = run.ticket_at("leadership")
    settled(run, ticket_id)
    report = tmp_path / "reads.txt"
    env = dict(os.environ, ERFLOW_USER=NICK)
    argv = [sys.executable, "-c", COUNTED, str(report), "advance", ticket_id, "--store", str(run.root)]
    assert answer_menu(argv, env, expect=b"1. schedule") == 0
    assert run.state(ticket_id) == "scheduling"
    assert report.read_text() == repr({f"{ticket_id}.md": 1})
