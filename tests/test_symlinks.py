"""Nothing read or written outside the store through a symlink.

Every case uses real symlinks in tmp_path, pointing at a folder ``outside/`` beside the store. The
rule (erflow/store/paths.py): every path erflow reads or writes lies, resolved, inside the store's
real root, and there is no symlink at all under tickets/ or templates/ nor on the way to a file
erflow writes; anything else is refused with exit 6 and one line naming the path from the store's
root. Nothing outside is read, created or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PM, SUPPORT, Cli, describe, one_line_error

from erflow.store import faults, journal

SECRET = "TOP-SECRET-OUTSIDE"


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what must stay as it was."""
    found = sorted(folder.rglob("*"))
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in found if p.is_file()}


def shard(run: Cli, ticket: str) -> Path:
    """The folder tickets/PREFIX/XY holding ``ticket``'s file."""
    return run.path(ticket).parent


def move_out(run: Cli, folder: Path, outside: Path) -> Path:
    """Move ``folder`` to ``outside`` and leave a symlink to it in its place; return the new home."""
    target = outside / folder.name
    shutil.move(folder, target)
    folder.symlink_to(target, target_is_directory=True)
    return target


def assert_refused(run: Cli, *args: str, naming: str, user: str = PM) -> str:
    """The command exits 6 with one line naming ``naming`` and saying it leads outside."""
    result = run(*args, user=user)
    assert result.exit_code == 6, describe(result)
    line = one_line_error(result)
    assert naming in line and "outside the store" in line, line
    assert SECRET not in result.stdout + result.stderr
    return line


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    return folder


def test_a_shard_folder_symlinked_outside_is_neither_read_nor_written_through(
    run: Cli, outside: Path
) -> None:
    run.init()
    kept = run.new()
    ticket = run.new("--title", "Elsewhere", "--set", "priority=normal")
    while shard(run, ticket) == shard(run, kept):  # two tickets in one shard: rare, make another
        ticket = run.new("--title", "Elsewhere", "--set", "priority=normal")
    folder = shard(run, ticket)
    rel = folder.relative_to(run.root).as_posix()
    home = move_out(run, folder, outside)
    (home / f"{ticket}.md").write_text(
        (home / f"{ticket}.md").read_text(encoding="utf-8").replace("Elsewhere", SECRET), encoding="utf-8"
    )
    before, head = files_of(outside), run.head()

    assert_refused(run, "show", ticket, naming=rel)
    assert_refused(run, "history", ticket, naming=rel)
    assert_refused(run, "note", ticket, "a note", naming=rel)
    assert_refused(run, "advance", ticket, "submit", naming=rel, user=SUPPORT)
    listed = run("list")
    assert kept in listed.stdout and ticket not in listed.stdout and SECRET not in listed.stdout
    assert f"{rel}: a symlink leading outside the store" in listed.stderr, describe(listed)
    again = run("list")  # from the index this time: still named, still skipped
    assert f"{rel}: a symlink leading outside the store" in again.stderr and SECRET not in again.stdout
    checked = run("check")
    assert checked.exit_code == 6 and checked.stdout.count(rel) == 1, describe(checked)

    assert files_of(outside) == before and run.head() == head
    run.ok("note", kept, "the other tickets carry on", user=PM)  # the rest of the store works
    assert files_of(outside) == before


def test_new_refuses_a_ticket_whose_prefix_folder_is_a_symlink_outside(run: Cli, outside: Path) -> None:
    run.init()
    (outside / "ER").mkdir()
    (run.root / "tickets" / "ER").symlink_to(outside / "ER", target_is_directory=True)
    head = run.head()
    assert_refused(run, "new", "enhancement", "--title", "T", naming="tickets/ER", user=SUPPORT)
    assert list((outside / "ER").iterdir()) == [] and run.head() == head


def test_a_shard_committed_to_git_as_a_symlink_is_refused_for_reading_and_writing(
    run: Cli, outside: Path
) -> None:
    run.init()
    ticket = run.new()
    folder = shard(run, ticket)
    rel = folder.relative_to(run.root).as_posix()
    run.git("rm", "-q", "-r", rel)
    (outside / f"{ticket}.md").write_text(
        run.git("show", f"HEAD:{rel}/{ticket}.md").replace("Export invoices", SECRET), encoding="utf-8"
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(outside, target_is_directory=True)
    run.commit_all("a shard that is a symlink")
    assert run.git("ls-files", "-s", rel).startswith("120000")  # git holds it as a symlink
    before, head = files_of(outside), run.head()

    assert_refused(run, "show", ticket, naming=rel)
    assert_refused(run, "note", ticket, "through the link", naming=rel)
    assert_refused(run, "set", ticket, "priority=high", naming=rel)
    assert files_of(outside) == before and run.head() == head
    assert run.git("status", "--porcelain") == ""


def test_a_ticket_file_that_is_a_symlink_is_refused_whether_it_points_outside_or_inside(
    run: Cli, outside: Path
) -> None:
    run.init()
    out_ticket, in_ticket = run.new(), run.new("--title", "Second")
    for ticket, home in ((out_ticket, outside), (in_ticket, run.root / "attic")):
        path = run.path(ticket)
        home.mkdir(exist_ok=True)
        shutil.move(path, home / path.name)
        path.symlink_to(home / path.name)
    (outside / f"{out_ticket}.md").write_text(
        (outside / f"{out_ticket}.md").read_text(encoding="utf-8").replace("Export", SECRET), encoding="utf-8"
    )
    out_rel = run.path(out_ticket).relative_to(run.root).as_posix()
    in_rel = run.path(in_ticket).relative_to(run.root).as_posix()
    before = files_of(outside)

    assert_refused(run, "show", out_ticket, naming=out_rel)
    inside = run("show", in_ticket)
    assert inside.exit_code == 6 and f"{in_rel}: a symlink, refused" in one_line_error(inside)
    assert_refused(run, "note", out_ticket, "x", naming=out_rel)
    listed = run("list")
    assert f"{out_rel}: a symlink leading outside the store" in listed.stderr
    assert f"{in_rel}: a symlink, refused" in listed.stderr and SECRET not in listed.stdout
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    assert checked.stdout.count(out_rel) == 1 and checked.stdout.count(in_rel) == 1
    assert files_of(outside) == before


def test_journal_recovery_never_writes_through_a_shard_symlinked_outside(run: Cli, outside: Path) -> None:
    run.init()
    ticket = run.new()
    head = run.head()
    proc = subprocess.run(
        [sys.executable, "-m", "erflow", "note", ticket, "killed midway", "--store", str(run.root)],
        env={**os.environ, "ERFLOW_USER": PM, faults.ENV: "files-written"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode < 0, proc  # killed at the failpoint, with the note written, not committed
    assert journal.location(run.root / ".git").exists()
    folder = shard(run, ticket)
    rel = folder.relative_to(run.root).as_posix()
    home = move_out(run, folder, outside)
    assert "killed midway" in (home / f"{ticket}.md").read_text(encoding="utf-8")
    before = files_of(outside)

    line = assert_refused(run, "note", ticket, "next", naming=rel)
    assert "interrupted" in line
    assert files_of(outside) == before and run.head() == head  # not restored out there
    assert journal.location(run.root / ".git").exists()

    folder.unlink()  # the folder put back: the next change finishes the undo and goes on
    shutil.move(home, folder)
    run.ok("note", ticket, "next", user=PM)
    assert "killed midway" not in run.path(ticket).read_text(encoding="utf-8")
    assert not journal.location(run.root / ".git").exists()


def write_template(root: Path, name: str, body: str) -> None:
    (root / "templates" / f"{name}.j2").write_text(f"Subject: Hello\n\n{body}\n", encoding="utf-8")


@pytest.mark.parametrize(
    "include",
    [
        "{% include '../../outside/secret.txt' %}",
        "{% include '/etc/passwd' %}",
        "{% import '../secret.txt' as s %}",
        "{% extends '../../outside/secret.txt' %}",
        "{% include 'linked.j2' %}",
        "{% include 'parts/linked.j2' %}",
    ],
)
def test_a_template_cannot_include_import_or_extend_a_file_outside_templates(
    run: Cli, outside: Path, include: str
) -> None:
    run.init()
    ticket = run.new()
    (run.root / "templates" / "linked.j2").symlink_to(outside / "secret.txt")
    (run.root / "templates" / "parts").symlink_to(outside, target_is_directory=True)
    (outside / "linked.j2").write_text(SECRET, encoding="utf-8")
    write_template(run.root, "peek", include)
    result = run("email", ticket, "peek", user=PM)
    assert result.exit_code == 6, describe(result)
    line = one_line_error(result)
    assert "leads outside templates/" in line or "symlink leading outside the store" in line, line
    assert SECRET not in result.stdout + result.stderr


def test_a_template_file_or_folder_symlinked_outside_is_refused_and_checked(run: Cli, outside: Path) -> None:
    run.init()
    ticket = run.new()
    (outside / "peek.j2").write_text(f"Subject: {SECRET}\n\n{SECRET}\n", encoding="utf-8")
    (run.root / "templates" / "peek.j2").symlink_to(outside / "peek.j2")
    assert_refused(run, "email", ticket, "peek", naming="templates/peek.j2")
    checked = run("check")
    assert checked.exit_code == 6 and checked.stdout.count("templates/peek.j2") == 1, describe(checked)

    (run.root / "templates" / "peek.j2").unlink()
    shutil.move(run.root / "templates", outside / "templates")
    (run.root / "templates").symlink_to(outside / "templates", target_is_directory=True)
    assert_refused(run, "email", ticket, "intake_acknowledgement", naming="templates")
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    assert "templates: a symlink leading outside the store, refused" in checked.stdout.splitlines()


def test_workflow_yaml_symlinked_outside_is_refused(run: Cli, outside: Path) -> None:
    run.init()
    ticket = run.new()
    shutil.move(run.root / "workflow.yaml", outside / "workflow.yaml")
    (run.root / "workflow.yaml").symlink_to(outside / "workflow.yaml")
    assert_refused(run, "show", ticket, naming="workflow.yaml")
    assert_refused(run, "note", ticket, "x", naming="workflow.yaml")
    checked = run("check")
    assert checked.exit_code == 6 and "workflow.yaml: a symlink leading outside" in checked.stdout


def test_check_names_every_symlink_in_tickets_and_templates_once(run: Cli, outside: Path) -> None:
    run.init()
    ok = run("check")
    assert ok.exit_code == 0, describe(ok)
    (run.root / "tickets" / "ER").mkdir()
    (run.root / "tickets" / "ER" / "XY").symlink_to(outside, target_is_directory=True)
    (run.root / "tickets" / "notes.txt").symlink_to(run.root / "workflow.yaml")
    (run.root / "templates" / "documents").mkdir(exist_ok=True)
    (run.root / "templates" / "documents" / "d.j2").symlink_to(outside / "secret.txt")
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    lines = checked.stdout.splitlines()
    assert "tickets/ER/XY: a symlink leading outside the store, refused" in lines
    assert any(line.startswith("tickets/notes.txt: a symlink, refused") for line in lines)
    assert "templates/documents/d.j2: a symlink leading outside the store, refused" in lines
    assert len(lines) == 3 and SECRET not in checked.stdout, lines
    assert json.loads(run("check", "--json").stdout)["problems"] == lines


def test_a_form_read_with_from_outside_the_store_is_still_allowed(run: Cli, outside: Path) -> None:
    run.init()
    form = outside / "form.json"
    form.write_text(json.dumps({"title": "From a form", "priority": "normal"}), encoding="utf-8")
    made = run.json("new", "enhancement", "--from", str(form), user=SUPPORT)
    assert run.show(made["id"])["title"] == "From a form"


def test_a_document_folder_symlinked_outside_refuses_the_transition_and_writes_nothing(
    run: Cli, outside: Path
) -> None:
    from test_documents import AGENT, KB, WORKFLOW, new_request

    run.init()
    (run.root / "workflow.yaml").write_text(WORKFLOW, encoding="utf-8")
    (run.root / "templates" / "documents").mkdir(exist_ok=True)
    (run.root / "templates" / "documents" / "kb_article.j2").write_text(KB, encoding="utf-8")
    run.commit_all("a desk that writes documents")
    ticket = new_request(run)
    (run.root / "knowledge").symlink_to(outside, target_is_directory=True)
    before, snap = files_of(outside), run.snapshot()
    publish = ("advance", ticket, "publish_article", "--set", "article_summary=x")
    assert_refused(run, *publish, naming="knowledge", user=AGENT)
    assert files_of(outside) == before and run.snapshot() == snap


def test_the_index_is_not_kept_through_a_symlinked_folder_and_list_still_works(
    run: Cli, outside: Path
) -> None:
    run.init()
    ticket = run.new()
    shutil.rmtree(run.root / ".erflow", ignore_errors=True)
    (run.root / ".erflow").symlink_to(outside, target_is_directory=True)
    before = files_of(outside)
    assert ticket in run.ok("list").stdout  # read from the files instead
    assert files_of(outside) == before


def test_the_rule_resolves_every_symlink_and_names_the_path_from_the_root(tmp_path: Path) -> None:
    from erflow.core.errors import InvalidData
    from erflow.store import paths

    root = tmp_path / "store"
    (root / "tickets" / "ER").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "tickets" / "ER" / "AB").symlink_to(tmp_path / "out", target_is_directory=True)
    (root / "tickets" / "ER" / "CD").symlink_to(root / "tickets", target_is_directory=True)
    real = root.resolve()
    assert paths.inside(root, "tickets/ER/new/x.md") == real / "tickets/ER/new/x.md"  # need not exist
    assert paths.inside(root, "tickets/ER/CD/x.md") == real / "tickets/x.md"  # a link inside: resolved
    assert paths.plain(root, root / "tickets/ER/XY/x.md") == real / "tickets/ER/XY/x.md"
    cases = {
        ("inside", "tickets/ER/AB/ER-AB1234.md"): "tickets/ER/AB: a symlink leading outside the store",
        ("inside", "../elsewhere.md"): "../elsewhere.md: leads outside the store",
        ("inside", str(tmp_path / "out" / "x.md")): f"{tmp_path / 'out' / 'x.md'}: leads outside the store",
        ("plain", "tickets/ER/CD/x.md"): "tickets/ER/CD: a symlink, refused",
        ("plain", "tickets/ER/AB/new/x.md"): "tickets/ER/AB: a symlink leading outside the store",
    }
    for (rule, path), message in cases.items():
        with pytest.raises(InvalidData) as refused:
            getattr(paths, rule)(root, path)
        assert refused.value.message.startswith(message), (rule, path, refused.value.message)
        assert refused.value.exit_code == 6
    assert paths.links(root, "tickets") == [
        "tickets/ER/AB: a symlink leading outside the store, refused",
        "tickets/ER/CD: a symlink, refused: erflow follows none in tickets/, templates/"
        " or to a file it writes",
    ]


def test_a_tickets_folder_that_is_a_symlink_outside_is_named_and_never_listed_through(
    run: Cli, outside: Path
) -> None:
    run.init()
    ticket = run.new()
    (run.root / "tickets" / "ER").rename(outside / "ER")
    shutil.rmtree(run.root / "tickets")
    (run.root / "tickets").symlink_to(outside, target_is_directory=True)
    before, head = files_of(outside), run.head()
    listed = run("list")
    assert ticket not in listed.stdout and "tickets: a symlink leading outside the store" in listed.stderr
    assert_refused(run, "show", ticket, naming="tickets")
    assert_refused(run, "new", "enhancement", "--title", "T", naming="tickets", user=SUPPORT)
    checked = run("check")
    assert checked.exit_code == 6 and checked.stdout.splitlines() == [
        "tickets: a symlink leading outside the store, refused"
    ], describe(checked)
    assert files_of(outside) == before and run.head() == head
