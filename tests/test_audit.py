"""erflow audit: every legal change passes; every forgery is named with commit, ticket and reason."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BOARD, PM, SUPPORT, Cli, describe, git
from rich.console import Console

from erflow.cli import progress as output
from erflow.store import commits as history
from erflow.store.commits import read_commits
from erflow.store.git import Git, ObjectReader
from erflow.trust import audit as auditing


def audit(run: Cli, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``erflow audit --json``: exit code, the JSON document, stderr."""
    result = run("audit", "--json", *args)
    return result.exit_code, json.loads(result.stdout), result.stderr


def assert_clean(run: Cli) -> dict[str, Any]:
    code, data, err = audit(run)
    assert code == 0, err + json.dumps(data, indent=1)
    assert data["violations"] == []
    return data


def forge(
    run: Cli,
    ticket_id: str,
    edit: Callable[[str], str],
    *,
    author: str,
    action: str | None,
    actor: str | None = None,
    transition: str | None = None,
    move: tuple[str, str] | None = None,
    body: str = "",
) -> str:
    """Edit a ticket file by hand and commit it as ``author`` with an erflow-like message; the commit."""
    path = run.path(ticket_id)
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    trailers = [f"Erflow-Ticket: {ticket_id}"] if action else []
    if action:
        trailers.append(f"Erflow-Action: {action}")
    if transition:
        trailers.append(f"Erflow-Transition: {transition}")
    if move:
        trailers += [f"Erflow-From: {move[0]}", f"Erflow-To: {move[1]}"]
    if action:
        trailers.append(f"Erflow-Actor: {actor or author}")
    message = (
        f"{ticket_id} {action or 'edit'}\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"
    )
    run.git("add", "-A")
    subprocess.run(
        ["git", "-c", "user.name=Someone", "-c", f"user.email={author}", "commit", "-q", "-F", "-"],
        cwd=run.root,
        input=message,
        text=True,
        check=True,
    )
    return run.head()


def set_line(key: str, value: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        if re.search(rf"^{key}: .*$", text, re.MULTILINE):
            return re.sub(rf"^{key}: .*$", f"{key}: {value}", text, count=1, flags=re.MULTILINE)
        return text.replace("\n---\n", f"\n{key}: {value}\n---\n", 1)

    return edit


def only_violation(run: Cli, commit: str, ticket_id: str) -> str:
    code, data, err = audit(run)
    assert code == 3, err
    assert [(v["commit"], v["ticket"]) for v in data["violations"]] == [(commit, ticket_id)], data
    assert "violation" in err
    reason: str = data["violations"][0]["reason"]
    return reason


# ---------------------------------------------------------------------------------------------
# What erflow did passes


def test_a_ticket_walked_through_the_whole_sop_passes_the_audit(run: Cli) -> None:
    run.ticket_at("billable_live")

    data = assert_clean(run)

    assert data["commits"] == int(run.git("rev-list", "--count", "HEAD"))
    assert set(data) == {"commits", "violations"}


def test_the_demo_with_every_type_sweeps_and_linked_tickets_passes_the_audit(
    run: Cli, tmp_path: Path
) -> None:
    run.ok("demo", str(tmp_path / "demo"))
    result = run("audit", "--store", str(tmp_path / "demo"), store=False)

    assert result.exit_code == 0, describe(result)
    assert re.match(r"ok: \d+ commits verified", result.stderr)


def test_edits_outside_transitions_pass_the_audit(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("note", ticket_id, "Called the customer", user=PM)
    run.ok("set", ticket_id, "priority=high", user=PM)
    run.ok("assign", ticket_id, BOARD, user=PM)
    run.ok("log-time", ticket_id, "1.5", "--billable", user=PM)
    other = run.new()
    run.ok("link", ticket_id, "relates", other, user=PM)
    run.ok("email", ticket_id, "intake_acknowledgement", user=PM)

    assert_clean(run)


def test_a_change_made_under_an_older_workflow_is_judged_by_that_workflow(run: Cli, tmp_path: Path) -> None:
    ticket_id = run.ticket_at("product_board")
    original = tmp_path / "original.yaml"
    original.write_bytes((run.root / "workflow.yaml").read_bytes())
    widened = tmp_path / "widened.yaml"
    text = original.read_text(encoding="utf-8")
    widened.write_text(text.replace("roles: [support]}", "roles: [support, board]}", 1), encoding="utf-8")
    run.ok("workflow", "apply", str(widened), user=PM)  # support sits on the board for a while
    run.ok("advance", ticket_id, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    run.ok("workflow", "apply", str(original), user=PM)  # support leaves the board

    assert_clean(run)


# ---------------------------------------------------------------------------------------------
# What erflow did not do is named


def test_a_hand_edit_committed_outside_erflow_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(run, ticket_id, set_line("priority", "high"), author="hand@example.com", action=None)

    reason = only_violation(run, commit, ticket_id)

    assert reason.startswith("changed outside erflow")
    assert "exit code" not in reason


def test_an_impostor_whose_author_is_not_the_claimed_actor_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(
        run, ticket_id, lambda t: t + "- x\n", author="mallory@elsewhere.example", action="note", actor=PM
    )

    code, data, _ = audit(run)

    assert code == 3
    reasons = [v["reason"] for v in data["violations"] if v["commit"] == commit]
    assert any(r.startswith("impostor: authored by mallory@elsewhere.example") for r in reasons), reasons


def test_a_transition_that_skipped_its_gate_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(
        run, ticket_id, set_line("state", "product_board"), author=PM, action="advance",
        transition="approve", move=("pm_review", "product_board"),
    )  # fmt: skip

    reason = only_violation(run, commit, ticket_id)

    assert reason.startswith("illegal approve:")
    assert "missing" in reason and "problem" in reason


def test_a_transition_by_an_actor_without_its_role_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")

    def approve(text: str) -> str:
        for key, value in (
            ("state", "leadership"),
            ("board_rationale", "Fine"),
            ("board_status", "approved_no_quote"),
        ):
            text = set_line(key, value)(text)
        return text

    commit = forge(
        run, ticket_id, approve, author=SUPPORT, action="advance",
        transition="approve_no_quote", move=("product_board", "leadership"),
    )  # fmt: skip

    reason = only_violation(run, commit, ticket_id)

    assert f"{SUPPORT} (support) may not take approve_no_quote" in reason


def test_an_illegal_jump_to_a_state_the_transition_does_not_lead_to_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(
        run, ticket_id, lambda t: set_line("state", "live")(set_line("info_needed", "Which export?")(t)),
        author=PM, action="advance", transition="request_info", move=("pm_review", "live"),
    )  # fmt: skip

    code, data, _ = audit(run)

    assert code == 3
    reasons = [v["reason"] for v in data["violations"] if (v["commit"], v["ticket"]) == (commit, ticket_id)]
    assert "illegal jump: request_info leads to needs_info, the ticket went to live" in reasons
    assert "request_info set pm_validation=None, the transition gives needs_info" in reasons


def test_a_transition_from_a_state_it_does_not_leave_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(
        run, ticket_id, set_line("state", "live"), author=PM, action="advance",
        transition="release", move=("pm_review", "live"),
    )  # fmt: skip

    assert "does not leave state 'pm_review'" in only_violation(run, commit, ticket_id)


def test_a_set_of_a_field_a_transition_owns_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(run, ticket_id, set_line("payment_reference", "PAID-1"), author=PM, action="set")

    reason = only_violation(run, commit, ticket_id)

    assert reason.startswith("set payment_reference:") and "payment_confirmed" in reason


def test_a_note_that_also_changes_the_state_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    commit = forge(run, ticket_id, set_line("state", "live"), author=PM, action="note")

    assert only_violation(run, commit, ticket_id) == "note changed state, which only a transition may"


def test_rewriting_the_notes_history_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")

    def drop_first_note(text: str) -> str:
        return re.sub(r"(## Notes\n\n)- [^\n]*\n", r"\1", text, count=1)

    commit = forge(run, ticket_id, lambda t: drop_first_note(t) + "", author=PM, action="note")

    assert only_violation(run, commit, ticket_id) == "rewrote its Notes (entries may only be added)"


def test_a_commit_that_changes_a_ticket_it_does_not_name_is_a_violation(run: Cli) -> None:
    first = run.ticket_at("pm_review")
    second = run.new()
    path = run.path(second)
    path.write_text(set_line("priority", "high")(path.read_text(encoding="utf-8")), encoding="utf-8")
    commit = forge(run, first, lambda t: t, author=PM, action="note")

    code, data, _ = audit(run)

    assert code == 3
    rel = path.relative_to(run.root).as_posix()
    assert {
        "commit": commit,
        "ticket": second,
        "reason": f"changed {rel}, which the commit does not name",
    } in (data["violations"])


def test_a_deleted_ticket_is_a_violation(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.path(ticket_id).unlink()
    run.commit_all("tidy up")

    code, data, _ = audit(run)

    assert code == 3
    assert data["violations"][0]["ticket"] == ticket_id


# ---------------------------------------------------------------------------------------------
# Incremental


def test_a_second_audit_starts_from_the_last_verified_commit_and_keeps_old_violations(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    forge(run, ticket_id, set_line("priority", "high"), author="hand@example.com", action=None)
    first = run("audit")
    assert first.exit_code == 3

    again = run("audit", "--json")
    run.ok("note", ticket_id, "one more", user=PM)
    third = run("audit", "--json")

    assert again.exit_code == 3 and "(0 new since the last audit)" in again.stderr
    assert third.exit_code == 3 and "(1 new since the last audit)" in third.stderr
    assert json.loads(third.stdout)["violations"] == json.loads(again.stdout)["violations"]
    assert json.loads(third.stdout)["commits"] == int(run.git("rev-list", "--count", "HEAD"))


def test_a_rewritten_history_is_audited_again_from_the_start(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.head()
    forge(run, ticket_id, set_line("priority", "high"), author="hand@example.com", action=None)
    assert run("audit").exit_code == 3

    run.git("reset", "-q", "--hard", before)
    result = run("audit")

    assert result.exit_code == 0, describe(result)
    assert "new since" not in result.stderr


def test_audit_full_ignores_the_cache(run: Cli) -> None:
    run.ticket_at("pm_review")
    run.ok("audit")

    result = run.ok("audit", "--full")

    assert "new since" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Signed commits


@pytest.fixture
def signing(run: Cli, tmp_path: Path) -> Path:
    """A store whose commits are signed with an SSH key that its allowed-signers file trusts."""
    key = tmp_path / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "erflow", "-f", str(key)], check=True
    )
    public = (tmp_path / "key.pub").read_text(encoding="utf-8").strip()
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"* {public}\n", encoding="utf-8")
    run.init()
    for setting, value in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("commit.gpgsign", "true"),
        ("gpg.ssh.allowedSignersFile", str(signers)),
    ):
        run.git("config", setting, value)
    return key


def test_signed_erflow_commits_pass_and_a_forged_signature_is_a_violation(run: Cli, signing: Path) -> None:
    ticket_id = run.new()
    run.ok("advance", ticket_id, "submit", user=SUPPORT)
    assert_clean(run)
    assert run.git("log", "-1", "--format=%G?").strip() == "G"

    # A forger rewrites the last commit's message but keeps its signature.
    raw = run.git("cat-file", "commit", "HEAD")
    forged = raw.replace("Erflow-Actor: support@example.com", "Erflow-Actor: board@example.com", 1)
    forged = forged.replace("author support@example.com", "author board@example.com")
    proc = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=run.root, input=forged, text=True,
        capture_output=True, check=True,
    )  # fmt: skip
    run.git("update-ref", "HEAD", proc.stdout.strip())

    code, data, _ = audit(run)

    assert code == 3
    assert {"commit": proc.stdout.strip(), "ticket": ticket_id, "reason": "its signature is bad"} in data[
        "violations"
    ]


def test_an_unsigned_change_in_a_repository_that_signs_is_a_violation(run: Cli, signing: Path) -> None:
    ticket_id = run.new()
    run.git("config", "commit.gpgsign", "false")
    run.ok("note", ticket_id, "unsigned", user=BOARD)
    run.git("config", "commit.gpgsign", "true")

    code, data, _ = audit(run)

    assert code == 3
    assert data["violations"] == [
        {
            "commit": run.head(),
            "ticket": ticket_id,
            "reason": "it is not signed, though this repository signs commits",
        }
    ]


# ---------------------------------------------------------------------------------------------
# Where the store sits


def store_in_subfolder(run: Cli, tmp_path: Path) -> Path:
    """A store in ``requests/`` of a company repository (its own first commit before), with one
    ticket made by erflow; the store's folder."""
    repo = tmp_path / "company"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("the company repo\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "start")
    elsewhere = tmp_path / "elsewhere"
    run.ok("init", str(elsewhere))
    store = repo / "requests"
    store.mkdir()
    for name in ("workflow.yaml", ".gitignore"):
        shutil.copy(elsewhere / name, store / name)
    for name in ("templates", "tickets"):
        shutil.copytree(elsewhere / name, store / name)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "a request store")
    made = run("new", "enhancement", "--title", "Sub", "--store", str(store), user=SUPPORT, store=False)
    assert made.exit_code == 0, describe(made)
    return store


def test_a_store_in_a_subfolder_of_a_repository_is_audited(run: Cli, tmp_path: Path) -> None:
    store = store_in_subfolder(run, tmp_path)

    result = run("audit", "--store", str(store), store=False)

    assert result.exit_code == 0, describe(result)
    assert "ok: 3 commits verified" in result.stderr


# ---------------------------------------------------------------------------------------------
# Reading a long history: in batches, parents first, with branches and merges


def hand_merge(run: Cli, branch: str) -> str:
    run.git(
        "-c", "user.name=Hand Editor", "-c", "user.email=hand@example.com",
        "merge", "-q", "--no-ff", "-m", f"merge {branch}", branch,
    )  # fmt: skip
    return run.head()


@pytest.fixture
def branched(run: Cli) -> dict[str, str]:
    """A store whose history forks and merges twice: erflow's changes on each branch, a hand edit
    on one, the workflow changed on another; the commits of note by name."""
    run.init()
    first = run.new()
    fork = run.head()
    run.git("checkout", "-q", "-b", "side")
    second = run.new()
    run.ok("advance", second, "submit", user=SUPPORT)
    run.ok("note", second, "on the side branch", user=PM)
    edit = forge(run, second, set_line("priority", "low"), author="hand@example.com", action=None)
    run.git("checkout", "-q", "main")
    run.ok("advance", first, "submit", user=SUPPORT)
    third = run.new()
    merged = hand_merge(run, "side")
    run.git("checkout", "-q", "-b", "late", fork)  # a branch from long before the first merge
    commented = run.root.parent / "commented.yaml"
    commented.write_text((run.root / "workflow.yaml").read_text(encoding="utf-8") + "\n# a comment\n")
    run.ok("workflow", "apply", str(commented), user=PM)  # the workflow changed on this branch
    run.ok("note", first, "on the late branch", user=PM)
    run.git("checkout", "-q", "main")
    run.ok("note", third, "back on main", user=PM)
    second_merge = hand_merge(run, "late")
    return {"second": second, "edit": edit, "merged": merged, "second_merge": second_merge}


def test_a_history_with_branches_and_merges_is_read_parents_first_as_git_log_gives_it(
    run: Cli, branched: dict[str, str]
) -> None:
    git_ = Git(run.root)

    small = list(read_commits(git_, None, signatures=True, batch=2))
    large = list(read_commits(git_, None, signatures=True, batch=1000))

    assert small == large
    seen: set[str] = set()
    for record in small:
        assert all(parent in seen for parent in record.parents), record.commit
        seen.add(record.commit)
    assert seen == set(run.git("rev-list", "HEAD").split())
    assert sum(len(r.parents) > 1 for r in small) == 2
    for record in small:  # what each commit changed, against its first parent, as git log says
        raw = run.git(
            "log", "-1", "--format=", "--raw", "--no-abbrev", "--no-renames",
            "--diff-merges=first-parent", record.commit,
        )  # fmt: skip
        null = "0" * 40
        expected = []
        for line in raw.splitlines():
            fields, path = line.split("\t")
            old, new = fields.split()[2:4]
            expected.append((path, None if old == null else old, None if new == null else new))
        assert [(c.path, c.old, c.new) for c in record.changes] == expected, record.commit


def test_a_history_with_branches_and_merges_is_judged_the_same_whatever_the_batch_sizes(
    run: Cli, branched: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, data, _ = audit(run, "--full")
    assert code == 3
    assert data["commits"] == int(run.git("rev-list", "--count", "HEAD"))
    assert [(v["commit"], v["ticket"]) for v in data["violations"]] == [
        (branched["edit"], branched["second"])
    ]

    monkeypatch.setattr(history, "AUDIT_BATCH", 2)  # git's batches
    monkeypatch.setattr(auditing, "BATCH", 3)  # the blobs read and parsed together
    monkeypatch.setattr(auditing, "WORKFLOWS_KEPT", 1)  # every other workflow.yaml asked of git
    again = audit(run, "--full")

    assert again == (code, data, again[2])


def test_one_cat_file_reads_many_objects_over_several_rounds_and_skips_missing_ones(run: Cli) -> None:
    run.ticket_at("pm_review")
    commits = run.git("rev-list", "HEAD").split()
    named = [
        f"{c[:size]}{how}:workflow.yaml"
        for c in commits
        for size in range(12, 41)
        for how in ("", "~0", "^0")
    ]
    names = [*named, "HEAD:no-such-file", "0" * 40, "f" * 40]
    assert sum(len(n) + 1 for n in names) > ObjectReader._ROUND

    with ObjectReader(Git(run.root)) as objects:
        found = objects.read(names)

    assert set(found) == set(named)
    for name, (blob, data) in found.items():
        assert blob == run.git("rev-parse", name).strip()
        assert data == (run.root / "workflow.yaml").read_bytes()


def test_the_audit_reports_its_progress_from_zero_to_the_commits_it_reads(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    root = run.root
    total = int(run.git("rev-list", "--count", "HEAD"))
    calls: list[tuple[int, int]] = []

    auditing.run(root, Git(root), root / ".git", progress=lambda done, of: calls.append((done, of)))

    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(of == total and 0 <= done <= total for done, of in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    run.ok("note", ticket_id, "one more", user=PM)
    calls.clear()

    result = auditing.run(root, Git(root), root / ".git", progress=lambda done, of: calls.append((done, of)))

    assert result.new_commits == 1
    assert calls == [(0, 1), (1, 1)]


def test_the_audit_off_a_terminal_prints_its_json_and_one_line_only(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    run.ticket_at("pm_review")
    monkeypatch.setattr(output, "LONG_WORK", 1)  # long work, but stderr is not a terminal
    commits = int(run.git("rev-list", "--count", "HEAD"))

    result = run("audit", "--json", "--full")

    assert result.exit_code == 0
    assert result.stdout == json.dumps({"commits": commits, "violations": []}, indent=2) + "\n"
    assert result.stderr == f"ok: {commits} commits verified\n"


def test_a_progress_bar_shows_on_a_terminal_for_long_work_only() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with output.progress_bar("auditing commits", threshold=10, console=console) as progress:
        progress(0, 9)
        progress(9, 9)
    assert screen.getvalue() == ""

    with output.progress_bar("auditing commits", threshold=10, console=console) as progress:
        progress(0, 40)
        progress(20, 40)
        progress(40, 40)

    assert "auditing commits" in screen.getvalue()
    assert "40/40" in screen.getvalue()
