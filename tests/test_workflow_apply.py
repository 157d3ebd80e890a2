"""The rules are audited: ``erflow workflow apply`` is the one way to change workflow.yaml and
templates/; a hand edit of them is a violation, and so is every later change only it allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import APPROVE, PM, SUPPORT, Cli, describe
from test_faults import killed_at

from erflow.trust import audit as auditing

ADMIN = PM  # destyn@example.com holds pm and admin in the default workflow


def audit(run: Cli, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = run("audit", "--json", *args)
    assert result.exit_code in (0, 3), describe(result)
    violations: list[dict[str, str]] = json.loads(result.stdout)["violations"]
    return result.exit_code, violations


def edited_workflow(run: Cli, tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    """A copy of the store's workflow.yaml, outside the store, with ``old`` replaced by ``new``."""
    text = (run.root / "workflow.yaml").read_text(encoding="utf-8")
    assert old in text
    copy = tmp_path / "new-workflow.yaml"
    copy.write_text(text.replace(old, new, count), encoding="utf-8")
    return copy


def hand_edit(run: Cli, old: str, new: str) -> str:
    """Edit the store's workflow.yaml in place and commit it with plain git; the commit."""
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    run.commit_all("a quick fix of the workflow")
    return run.head()


SUPPORT_ON_BOARD = ("roles: [support]}", "roles: [support, board]}")
NO_PROBLEM_GATE = (
    "requires: [problem, scope, desired_outcome, business_value]",
    "requires: [scope, desired_outcome, business_value]",
)


def apply(run: Cli, path: Path, *extra: str, user: str = ADMIN) -> Any:
    return run("workflow", "apply", str(path), *extra, user=user)


# ---------------------------------------------------------------------------------------------
# Hand edits, and what they allowed


def test_a_hand_edit_granting_a_role_and_the_transition_it_allowed_are_both_violations(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")
    assert audit(run) == (0, [])  # the cache now holds the history so far
    edit = hand_edit(run, *SUPPORT_ON_BOARD)
    assert audit(run)[0] == 3  # the cache now ends at the hand edit
    run.ok("advance", ticket_id, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    moved = run.head()

    for args in ((), ("--full",)):  # continued from the cache, and replayed from the start
        code, violations = audit(run, *args)

        assert code == 3
        assert [(v["commit"], v["ticket"]) for v in violations] == [(edit, ""), (moved, ticket_id)]
        assert violations[0]["reason"] == (
            "workflow.yaml changed outside erflow (no Erflow-Action: workflow; use erflow workflow apply)"
            ": grants support@example.com -> board"
        )
        assert "support@example.com" in violations[1]["reason"]
        assert violations[1]["reason"].endswith(
            f"(allowed only by the hand edit of workflow.yaml in {edit[:12]})"
        )


def test_a_hand_edit_removing_a_gate_and_an_advance_without_its_field_are_both_violations(
    run: Cli,
) -> None:
    ticket_id = run.ticket_at("pm_review")
    edit = hand_edit(run, *NO_PROBLEM_GATE)
    sets = {k: v for k, v in APPROVE[2].items() if k != "problem"}
    run.ok("advance", ticket_id, "approve", *[f"--set={k}={v}" for k, v in sets.items()], user=PM)
    moved = run.head()

    code, violations = audit(run)

    assert code == 3
    assert [(v["commit"], v["ticket"]) for v in violations] == [(edit, ""), (moved, ticket_id)]
    assert violations[0]["reason"].endswith(": removes gate enhancement.approve: problem")
    assert "problem" in violations[1]["reason"]
    assert "allowed only by the hand edit of workflow.yaml" in violations[1]["reason"]


def test_a_change_the_hand_edited_workflow_did_not_matter_to_is_not_blamed_on_it(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    edit = hand_edit(run, *SUPPORT_ON_BOARD)
    run.ok("note", ticket_id, "Called the customer", user=PM)

    code, violations = audit(run)

    assert code == 3
    assert [(v["commit"], v["ticket"]) for v in violations] == [(edit, "")]


def test_a_hand_edit_of_a_template_is_a_violation(run: Cli) -> None:
    run.ticket_at("intake")
    template = run.root / "templates" / "pm_more_info.j2"
    template.write_text("Subject: Pay us first\n\nWire the money to account 123.\n", encoding="utf-8")
    run.commit_all("shorter email")
    edit = run.head()

    code, violations = audit(run)

    assert code == 3
    assert violations == [
        {
            "commit": edit,
            "ticket": "",
            "reason": "templates changed outside erflow (no Erflow-Action: workflow; use erflow workflow "
            "apply): templates/pm_more_info.j2 (changed)",
        }
    ]


def test_a_forged_workflow_trailer_by_someone_without_the_admin_role_is_a_violation(run: Cli) -> None:
    run.ticket_at("intake")
    path = run.root / "workflow.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(*SUPPORT_ON_BOARD, 1), encoding="utf-8")
    message = "workflow apply\n\nErflow-Action: workflow\nErflow-Actor: support@example.com\n"
    run.git("add", "-A")
    run.git("-c", "user.name=S", "-c", f"user.email={SUPPORT}", "commit", "-q", "-m", message)

    code, violations = audit(run)

    assert code == 3
    assert violations[0]["reason"].startswith(
        "workflow.yaml changed by support@example.com, who may not change the rules "
        "(permissions.workflow: admin): grants support@example.com -> board"
    )


# ---------------------------------------------------------------------------------------------
# workflow apply


def test_workflow_apply_by_the_admin_is_one_commit_and_the_audit_stays_clean(
    run: Cli, tmp_path: Path
) -> None:
    ticket_id = run.ticket_at("product_board")
    before = run.head()

    result = apply(run, edited_workflow(run, tmp_path, *SUPPORT_ON_BOARD))

    assert result.exit_code == 0, describe(result)
    assert "grants support@example.com -> board" in result.stderr
    assert run.git("rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert run.git("show", "--format=", "--name-only", "HEAD").split() == ["workflow.yaml"]
    message = run.git("log", "-1", "--format=%B")
    assert "Erflow-Action: workflow\n" in message and f"Erflow-Actor: {ADMIN}\n" in message
    assert run.git("log", "-1", "--format=%ae").strip() == ADMIN
    assert run.git("status", "--porcelain") == ""
    run.ok("advance", ticket_id, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    assert audit(run) == (0, [])
    assert audit(run, "--full") == (0, [])


def test_workflow_apply_by_someone_without_the_admin_role_is_refused_and_changes_nothing(
    run: Cli, tmp_path: Path
) -> None:
    run.ticket_at("intake")
    new = edited_workflow(run, tmp_path, *SUPPORT_ON_BOARD)
    before = run.snapshot()

    result = apply(run, new, user=SUPPORT)

    assert result.exit_code == 5, describe(result)
    assert result.stderr.startswith("erflow: support@example.com may not change the workflow")
    assert run.snapshot() == before


def test_workflow_apply_of_a_broken_file_is_refused_with_its_line_and_changes_nothing(
    run: Cli, tmp_path: Path
) -> None:
    run.ticket_at("intake")
    new = edited_workflow(run, tmp_path, "roles: [support]}", "roles: [suport]}")
    before = run.snapshot()

    result = apply(run, new)

    assert result.exit_code == 6, describe(result)
    assert result.stderr.startswith(f"erflow: {new}:"), result.stderr
    assert "unknown role 'suport'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert run.snapshot() == before


def test_workflow_apply_commits_templates_given_with_it_and_the_audit_stays_clean(
    run: Cli, tmp_path: Path
) -> None:
    run.ticket_at("intake")
    template = tmp_path / "more.j2"
    template.write_text("Subject: More about {{ id }}\n\nPlease tell us more.\n", encoding="utf-8")
    same = tmp_path / "same.yaml"
    same.write_bytes((run.root / "workflow.yaml").read_bytes())

    result = apply(run, same, "--template", f"pm_more_info={template}", "--json")

    assert result.exit_code == 0, describe(result)
    assert json.loads(result.stdout)["files"] == ["templates/pm_more_info.j2"]
    assert (run.root / "templates" / "pm_more_info.j2").read_bytes() == template.read_bytes()
    assert audit(run) == (0, [])


def test_workflow_apply_refuses_to_strand_tickets_and_moves_them_with_map_in_the_same_commit(
    run: Cli, tmp_path: Path
) -> None:
    ticket_id = run.ticket_at("pm_review")
    new = edited_workflow(run, tmp_path, "pm_review", "product_review", count=-1)
    before = run.snapshot()

    refused = apply(run, new)

    assert refused.exit_code == 3, describe(refused)
    assert "enhancement.pm_review (1)" in refused.stderr
    assert run.snapshot() == before

    result = apply(run, new, "--map", "pm_review=product_review", "--json")

    assert result.exit_code == 0, describe(result)
    data = json.loads(result.stdout)
    assert data["moved"] == [{"id": ticket_id, "from": "pm_review", "to": "product_review"}]
    changed = run.git("show", "--format=", "--name-only", "HEAD").split()
    assert sorted(changed) == sorted(["workflow.yaml", run.path(ticket_id).relative_to(run.root).as_posix()])
    assert run.state(ticket_id) == "product_review"
    run.advance(ticket_id, APPROVE)
    assert audit(run) == (0, [])


def test_a_ticket_moved_by_hand_in_a_workflow_commit_is_a_violation(run: Cli, tmp_path: Path) -> None:
    ticket_id = run.ticket_at("pm_review")
    new = edited_workflow(run, tmp_path, "pm_review", "product_review", count=-1)
    assert apply(run, new, "--map", "pm_review=product_review").exit_code == 0
    # The same again, but the ticket sent somewhere its map does not say, in an admin's commit.
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("product_review", "closed", 1))
    message = (
        f"workflow apply\n\nErflow-Ticket: {ticket_id}\nErflow-Action: workflow\n"
        f"Erflow-Map: pm_review=product_review\nErflow-Actor: {ADMIN}\n"
    )
    run.git("add", "-A")
    run.git("-c", "user.name=D", "-c", f"user.email={ADMIN}", "commit", "-q", "-m", message)

    code, violations = audit(run)

    assert code == 3
    assert [(v["commit"], v["ticket"]) for v in violations] == [(run.head(), ticket_id)]
    assert "which the workflow in force keeps" in violations[0]["reason"]


def test_a_hand_edit_merged_in_from_a_branch_still_taints_what_it_allowed_however_the_audit_reads(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = run.ticket_at("product_board")
    run.git("checkout", "-q", "-b", "side")
    edit = hand_edit(run, *SUPPORT_ON_BOARD)
    run.git("checkout", "-q", "main")
    run.ok("note", ticket_id, "while the side branch is open", user=PM)
    run.git("-c", "user.name=H", "-c", "user.email=hand@example.com", "merge", "-q", "--no-ff", "side")
    run.ok("advance", ticket_id, "approve_no_quote", "--set", "board_rationale=Useful", user=SUPPORT)
    moved = run.head()
    expected = [(edit, ""), (moved, ticket_id)]

    code, violations = audit(run, "--full")
    assert code == 3
    assert [(v["commit"], v["ticket"]) for v in violations] == expected

    monkeypatch.setattr(auditing, "WORKFLOWS_KEPT", 1)  # the rules of older commits asked of git
    assert audit(run, "--full") == (code, violations)


def test_a_workflow_apply_killed_before_its_commit_is_undone_by_the_next_change(
    run: Cli, tmp_path: Path
) -> None:
    ticket_id = run.ticket_at("pm_review")
    new = edited_workflow(run, tmp_path, "pm_review", "product_review", count=-1)
    before = run.snapshot()

    killed_at(
        run.root,
        "files-written",
        "workflow",
        "apply",
        str(new),
        "--map",
        "pm_review=product_review",
        user=ADMIN,
    )

    assert (run.root / "workflow.yaml").read_bytes() == new.read_bytes()  # written, not committed
    run.ok("note", ticket_id, "after the crash", user=PM)  # finishes the interrupted change first
    assert run.git("show", "HEAD~1", "--format=%H", "--no-patch").strip() == before.head
    assert (run.root / "workflow.yaml").read_bytes() == before.files["workflow.yaml"]
    assert run.state(ticket_id) == "pm_review"
    assert apply(run, new, "--map", "pm_review=product_review").exit_code == 0
    assert audit(run) == (0, [])


def test_a_ticket_moved_in_a_workflow_commit_by_someone_without_the_admin_role_is_a_violation(
    run: Cli,
) -> None:
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("state: pm_review", "state: closed", 1))
    message = (
        f"workflow apply\n\nErflow-Ticket: {ticket_id}\nErflow-Action: workflow\n"
        f"Erflow-Map: pm_review=closed\nErflow-Actor: {SUPPORT}\n"
    )
    run.git("add", "-A")
    run.git("-c", "user.name=S", "-c", f"user.email={SUPPORT}", "commit", "-q", "-m", message)

    code, violations = audit(run)

    assert code == 3
    assert [(v["commit"], v["ticket"]) for v in violations] == [(run.head(), ticket_id)]
    assert violations[0]["reason"].startswith(
        "moved by a workflow change that was not legitimate: changed by support@example.com, who may not"
    )
