"""The full audit spread over worker processes finds what the serial audit finds, in its order, and
leaves a cache that the next (incremental) audit continues from."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest
from conftest import BOARD, PM, SUPPORT, Cli, git
from test_audit import forge, hand_merge, set_line, signing, store_in_subfolder  # noqa: F401 (signing: a fixture)
from test_workflow_apply import SUPPORT_ON_BOARD, hand_edit

from erflow.store import ticketfile
from erflow.store.commits import FileChange, read_commits, read_listed
from erflow.store.git import Git, GitError
from erflow.trust import audit as auditing
from erflow.trust import replay
from erflow.trust.verdicts import Violation


def both(root: Path, chunk: int) -> tuple[auditing.AuditResult, auditing.AuditResult]:
    """The whole history audited serially, then by two workers ``chunk`` commits at a time."""
    serial = auditing.run(root, Git(root), root / ".git", full=True, workers=1)
    parallel = auditing.run(root, Git(root), root / ".git", full=True, workers=2, chunk=chunk)
    return serial, parallel


def test_the_parallel_full_audit_finds_the_serial_audits_violations_in_its_order(run: Cli) -> None:
    board = run.ticket_at("product_board")
    first = run.new()
    forged = forge(run, first, set_line("priority", "high"), author="hand@example.com", action=None)
    run.git("checkout", "-q", "-b", "side")
    second = run.new()
    run.ok("advance", second, "submit", user=SUPPORT)
    illegal = forge(
        run, second, set_line("state", "done"), author=SUPPORT, action="advance",
        transition="submit", move=("triage", "done"),
    )  # fmt: skip
    run.git("checkout", "-q", "main")
    run.ok("note", first, "on main", user=PM)
    hand_merge(run, "side")  # a merge that took each side as it was: no violation
    edit = hand_edit(run, *SUPPORT_ON_BOARD)
    run.ok("advance", board, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    allowed_by_edit = run.head()
    run.ok("note", board, "later", user=BOARD)
    total = int(run.git("rev-list", "--count", "HEAD"))

    for chunk in (1, 2, 3, 7, 1000):
        serial, parallel = both(run.root, chunk)

        assert parallel.violations == serial.violations, chunk
        assert parallel.commits == serial.commits == total
    commits = [v.commit for v in serial.violations]
    for commit in (forged, illegal, edit, allowed_by_edit):
        assert commit in commits
    assert any("allowed only by the hand edit" in v.reason for v in serial.violations)

    # the cache a parallel run leaves is the one a serial run leaves; the next run continues from it
    cache = run.root / ".git" / "erflow" / "audit.json"
    parallel_cache = cache.read_text(encoding="utf-8")
    auditing.run(run.root, Git(run.root), run.root / ".git", full=True, workers=1)
    assert cache.read_text(encoding="utf-8") == parallel_cache
    auditing.run(run.root, Git(run.root), run.root / ".git", full=True, workers=2, chunk=2)
    again = forge(run, board, set_line("priority", "low"), author="hand@example.com", action=None)

    continued = auditing.run(run.root, Git(run.root), run.root / ".git")

    assert continued.new_commits == 1
    assert continued.commits == total + 1
    assert continued.violations[:-1] == serial.violations
    assert continued.violations[-1].commit == again
    assert (
        continued.violations == auditing.run(run.root, Git(run.root), run.root / ".git", full=True).violations
    )


def test_a_signed_commit_in_an_earlier_run_of_commits_makes_later_unsigned_ones_violations(
    run: Cli,
    signing: Path,  # noqa: F811
) -> None:
    ticket_id = run.new()
    run.ok("advance", ticket_id, "submit", user=SUPPORT)
    run.git("config", "commit.gpgsign", "false")  # the repository stops signing
    for text in ("one", "two", "three"):
        run.ok("note", ticket_id, text, user=PM)

    serial, parallel = both(run.root, 1)

    assert parallel.violations == serial.violations
    assert serial.violations == [
        Violation(c, ticket_id, "it is not signed, though this repository signs commits")
        for c in reversed(run.git("rev-list", "-3", "HEAD").split())
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_parallel_audit_of_an_empty_history_is_empty(run: Cli, tmp_path: Path, workers: int) -> None:
    git = Git(tmp_path)
    git.run("init", "-q")

    result = auditing.run(tmp_path, git, tmp_path / ".git", full=True, workers=workers)

    assert (result.commits, result.violations) == (0, [])


@pytest.mark.parametrize(
    "path",
    [
        "tickets/ER/00/ER-ABC123.md", "ER-1.md", "tickets/x", "tickets/.md", "tickets/a.b.md",
        "tickets/a.", "a/b/", "a/b/.", "a/./b.md", "a//b.md", "a/..", ".", "", "tickets/ER/a b.md",
    ],
)  # fmt: skip
def test_the_ticket_id_of_a_path_is_its_stem_as_pathlib_says(path: str) -> None:
    assert ticketfile.id_of(path) == PurePosixPath(path).stem


def test_a_store_in_a_subfolder_is_audited_in_parallel_as_serially(run: Cli, tmp_path: Path) -> None:
    store = store_in_subfolder(run, tmp_path)
    repo = store.parent
    workflow = store / "workflow.yaml"
    workflow.write_text(workflow.read_text(encoding="utf-8") + "\n# by hand\n", encoding="utf-8")
    git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qam", "by hand")
    (store / "templates" / "extra.j2").write_text("hello\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm", "a template")

    serial = auditing.run(store, Git(store), repo / ".git", full=True, workers=1)
    parallel = auditing.run(store, Git(store), repo / ".git", full=True, workers=2, chunk=1)

    assert parallel.violations == serial.violations
    assert [v.reason.split(" ")[0] for v in serial.violations] == ["workflow.yaml", "templates"]
    assert parallel.commits == serial.commits == 5


def long_history(repo: Path) -> list[str]:
    """Five commits, oldest first, whose messages are long (git's output is read in many pieces)
    and hold characters of two to four bytes and a byte that is not UTF-8."""
    repo.mkdir()
    git(repo, "init", "-q")
    for number in range(5):
        (repo / f"file{number}.txt").write_text(f"{number}\n", encoding="utf-8")
        git(repo, "add", "-A")
        message = f"commit {number}\n\n".encode() + ("é€😀x" * (7000 + number)).encode() + b"\xff\xfe end\n"
        (repo.parent / "message").write_bytes(message)
        git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-F", "../message")
    return git(repo, "rev-list", "--reverse", "HEAD").split()


def test_commits_read_by_their_ids_are_those_the_serial_audit_reads_in_that_order(tmp_path: Path) -> None:
    ids = long_history(tmp_path / "repo")
    order = [ids[3], ids[0], ids[4], ids[1], ids[2]]
    serial = {r.commit: r for r in read_commits(Git(tmp_path / "repo"), None, signatures=True)}

    listed = list(read_listed(Git(tmp_path / "repo"), order, signatures=True))

    assert listed == [serial[commit] for commit in order]
    assert "é€😀x" * 7003 in listed[0].message
    assert listed[0].changes == [FileChange("file3.txt", None, listed[0].changes[0].new)]


def test_no_commits_read_by_their_ids_is_no_commit_not_heads_history(tmp_path: Path) -> None:
    long_history(tmp_path / "repo")

    assert list(read_listed(Git(tmp_path / "repo"), [], signatures=False)) == []


def test_an_unknown_commit_read_by_its_id_is_gits_error(tmp_path: Path) -> None:
    ids = long_history(tmp_path / "repo")

    with pytest.raises(GitError, match="log"):
        list(read_listed(Git(tmp_path / "repo"), [ids[0], "1" * 40], signatures=False))


def test_commits_read_by_their_ids_may_be_left_after_the_first(tmp_path: Path) -> None:
    ids = long_history(tmp_path / "repo")
    records = read_listed(Git(tmp_path / "repo"), ids * 200, signatures=False)  # more than git's pipe holds

    assert next(records).commit == ids[0]
    records.close()  # git stopped, its reader ended: nothing waits


@pytest.mark.parametrize(("batch", "kept"), [(2000, replay.PARSED_KEPT), (1, replay.PARSED_KEPT), (1, 1)])
def test_a_ticket_file_that_does_not_parse_is_a_violation_in_every_commit_that_holds_it(
    run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch, batch: int, kept: int
) -> None:
    """However long the file stays parsed (the batches of commits read together, the files kept)."""
    monkeypatch.setattr(auditing, "BATCH", batch)
    monkeypatch.setattr(replay, "PARSED_KEPT", kept)
    ticket_id = run.new()
    text = run.path(ticket_id).read_text(encoding="utf-8")
    broken = [
        forge(run, ticket_id, lambda t: t.replace("---\n", "", 1), author=PM, action="note")
        if step % 2 == 0
        else forge(run, ticket_id, lambda _: text, author=PM, action="note")
        for step in range(5)
    ]

    for workers in (1, 2):
        result = auditing.run(run.root, Git(run.root), run.root / ".git", full=True, workers=workers, chunk=2)

        unparsed = [v.commit for v in result.violations if "does not parse" in v.reason]
        assert unparsed == broken, workers  # broken, then read broken as the old file, and so on


@pytest.mark.parametrize("batch", [2000, 1])
def test_the_same_change_of_a_ticket_file_under_other_rules_is_judged_under_those(
    run: Cli, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """A file parsed once is judged again under the rules of each commit that holds it."""
    monkeypatch.setattr(auditing, "BATCH", batch)
    board = run.ticket_at("product_board")
    path = str(run.path(board).relative_to(run.root))
    before = hand_edit(run, *SUPPORT_ON_BOARD)
    run.ok("advance", board, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    advanced = run.head()
    run.git("checkout", f"{before}~1", "--", "workflow.yaml", path)  # both undone by hand
    run.commit_all("undone")
    run.git("checkout", advanced, "--", path)  # the same change again, under the rules as they were
    message = run.git("log", "-1", "--format=%B", advanced)
    subprocess.run(
        ["git", "-c", "user.name=S", "-c", f"user.email={SUPPORT}", "commit", "-q", "-F", "-"],
        cwd=run.root, input=message, text=True, check=True,
    )  # fmt: skip
    again = run.head()
    assert run.git("diff", f"{advanced}~1", advanced) == run.git("diff", f"{again}~1", again)

    for workers in (1, 2):
        found = auditing.run(
            run.root, Git(run.root), run.root / ".git", full=True, workers=workers
        ).violations

        first = [v.reason for v in found if v.commit == advanced]
        second = [v.reason for v in found if v.commit == again]
        assert first and all(
            r.endswith(f"(allowed only by the hand edit of workflow.yaml in {before[:12]})") for r in first
        )
        assert second == [r.split(" (allowed only by")[0] for r in first], workers
