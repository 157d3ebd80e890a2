"""Everything erflow refuses: each with the contract's exit code, one line on stderr naming the
reason, and the store byte-for-byte as it was (files, HEAD, git status): no commit, no write.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    ACCOUNTING,
    BOARD,
    CONTRACTS,
    DEV,
    NICK,
    PM,
    QA,
    SALES,
    STRANGER,
    SUPPORT,
    Cli,
    describe,
    one_line_error,
)
from filelock import FileLock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def refused(run: Cli, code: int, *args: str, user: str | None = None, input: str | None = None) -> str:
    """Run a command that must be refused with ``code``; check nothing changed; return the error line."""
    before = run.snapshot()
    result = run(*args, user=user, input=input)
    assert result.exit_code == code, describe(result)
    line = one_line_error(result)
    assert result.stdout == "", describe(result)
    assert run.snapshot() == before
    return line


def bare_ticket(run: Cli) -> str:
    """A ticket at intake with nothing but a title: submit's gate is wholly unmet."""
    return run.new("--title", "Bare request")


# ---------------------------------------------------------------------------------------------
# Gates


def test_gate_refusal_names_every_missing_field_and_changes_nothing(run: Cli, store: Path) -> None:
    ticket_id = bare_ticket(run)

    line = refused(run, 3, "advance", ticket_id, "submit", user=SUPPORT)

    for name in ("product", "priority", "business_value", "customer_email"):
        assert name in line
    (submit,) = run.json("transitions", ticket_id, user=SUPPORT)
    assert submit["name"] == "submit"
    assert submit["to"] == "pm_review"
    assert submit["allowed"] is False
    assert submit["missing"] == ["product", "priority", "business_value", "customer_email"]
    assert submit["reasons"]


def test_gate_counts_fields_given_in_the_same_step(run: Cli, store: Path) -> None:
    ticket_id = bare_ticket(run)
    line = refused(
        run,
        3,
        "advance",
        ticket_id,
        "submit",
        "--set",
        "product=Portal",
        "--set",
        "priority=high",
        user=SUPPORT,
    )
    assert "business_value" in line and "customer_email" in line
    missing, given = line.split("missing", 1)[1].split("; you gave: ")
    assert "product" not in missing
    assert given.startswith("--set product=Portal --set priority=high")


SUBMIT_FIELDS = {
    "product": "Billing Portal",
    "priority": "high",
    "business_value": "Saves time",
    "customer_email": "jane@acme.example",
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_fields=st.sets(st.sampled_from(sorted(SUBMIT_FIELDS)), max_size=len(SUBMIT_FIELDS) - 1))
def test_any_incomplete_gate_is_refused_naming_exactly_the_rest(run: Cli, given_fields: set[str]) -> None:
    if not run.root.exists():
        run.init()
        bare_ticket(run)
    (ticket_id,) = [p.stem for p in run.root.joinpath("tickets").rglob("*.md")]
    args = [a for name in sorted(given_fields) for a in ("--set", f"{name}={SUBMIT_FIELDS[name]}")]

    line = refused(run, 3, "advance", ticket_id, "submit", *args, user=SUPPORT)

    rest = [name for name in SUBMIT_FIELDS if name not in given_fields]
    assert line.split("missing: ", 1)[1].startswith(", ".join(rest))


def test_pm_approval_needs_problem_scope_and_desired_outcome(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    line = refused(run, 3, "advance", ticket_id, "approve", user=PM)
    for name in ("problem", "scope", "desired_outcome"):
        assert name in line
    approve = next(o for o in run.json("transitions", ticket_id, user=PM) if o["name"] == "approve")
    assert approve["missing"] == ["problem", "scope", "desired_outcome"]


@pytest.mark.parametrize(
    ("place", "transition", "actor", "missing"),
    [
        ("pm_review", "request_info", PM, ["info_needed"]),
        ("product_board", "approve_no_quote", BOARD, ["board_rationale"]),
        ("product_board", "defer", BOARD, ["board_rationale", "review_date"]),
        ("product_board", "decline", BOARD, ["decline_reason"]),
        ("leadership", "decline", NICK, ["decline_reason"]),
        ("leadership", "return", NICK, ["return_feedback"]),
        ("quote_scope", "scope_confirmed", PM, ["scope_baseline", "acceptance_criteria", "assumptions"]),
        ("quote_sent", "quote_accepted", SALES, ["quote_amount"]),
        ("sow", "sow_signed", CONTRACTS, ["sow_link"]),
        ("payment", "payment_confirmed", ACCOUNTING, ["payment_reference"]),
        ("scheduling", "plan", PM, ["iteration", "target_delivery_window"]),
        ("scheduled", "start_development", DEV, ["projected_delivery_date"]),
        ("qa", "qa_passed", QA, ["qa_notes"]),
        ("qa", "qa_failed", QA, ["qa_notes"]),
        ("in_development", "release", DEV, ["live_date", "release_notes"]),
    ],
)
def test_each_gate_of_the_sop_refuses_without_its_fields(
    run: Cli, place: str, transition: str, actor: str, missing: list[str]
) -> None:
    ticket_id = run.ticket_at(place)
    line = refused(run, 3, "advance", ticket_id, transition, user=actor)
    for name in missing:
        assert name in line
    option = next(o for o in run.json("transitions", ticket_id, user=actor) if o["name"] == transition)
    assert option["allowed"] is False
    assert option["missing"] == missing


# ---------------------------------------------------------------------------------------------
# Roles and actors


def test_role_refusal_exits_5_and_changes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    line = refused(
        run,
        5,
        "advance",
        ticket_id,
        "approve",
        "--set",
        "problem=p",
        "--set",
        "scope=s",
        "--set",
        "desired_outcome=d",
        user=DEV,
    )
    assert DEV in line
    assert "pm" in line
    approve = next(o for o in run.json("transitions", ticket_id, user=DEV) if o["name"] == "approve")
    assert approve["allowed"] is False


@pytest.mark.parametrize(
    ("place", "transition", "actor"),
    [
        ("product_board", "approve_no_quote", PM),
        ("leadership", "quote", PM),
        ("leadership", "schedule", BOARD),
        ("quote_sent", "quote_declined", PM),
        ("payment", "payment_confirmed", CONTRACTS),
        ("scheduled", "start_development", QA),
        ("qa", "qa_passed", DEV),
        ("live", "close", DEV),
    ],
)
def test_only_the_sop_roles_may_take_a_transition(run: Cli, place: str, transition: str, actor: str) -> None:
    ticket_id = run.ticket_at(place)
    refused(run, 5, "advance", ticket_id, transition, user=actor)


def test_unknown_actor_is_not_permitted(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    line = refused(run, 5, "advance", ticket_id, "submit", user=STRANGER)
    assert STRANGER in line
    refused(run, 5, "note", ticket_id, "hello", user=STRANGER)
    refused(run, 5, "set", ticket_id, "scope=x", user=STRANGER)


def test_edits_outside_transitions_follow_the_permissions(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 5, "set", ticket_id, "scope=x", user=DEV)
    refused(run, 5, "assign", ticket_id, DEV, user=QA)
    refused(run, 5, "link", ticket_id, "relates", ticket_id, user=ACCOUNTING)
    refused(run, 5, "new", "enhancement", "--title", "From dev", user=DEV)


def test_no_actor_at_all_is_a_usage_error(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    line = refused(run, 2, "advance", ticket_id, "submit")
    assert "ERFLOW_USER" in line


# ---------------------------------------------------------------------------------------------
# Transitions that do not apply


def test_transition_that_does_not_leave_this_state_is_refused(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    line = refused(run, 3, "advance", ticket_id, "close", user=PM)
    assert "close" in line and "pm_review" in line


def test_complete_is_refused_for_a_non_billable_ticket(run: Cli) -> None:
    ticket_id = run.ticket_at("in_development")
    line = refused(run, 3, "advance", ticket_id, "complete", user=DEV)
    assert "billable" in line


def test_release_from_development_is_refused_for_a_billable_ticket(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_in_development")
    line = refused(
        run,
        3,
        "advance",
        ticket_id,
        "release",
        "--set",
        "live_date=2026-12-01",
        "--set",
        "release_notes=SSO",
        user=DEV,
    )
    assert "billable" in line
    release = next(o for o in run.json("transitions", ticket_id, user=DEV) if o["name"] == "release")
    assert release["allowed"] is False


def test_close_is_refused_for_a_billable_ticket(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_live")
    line = refused(run, 3, "advance", ticket_id, "close", user=PM)
    assert "ready_for_billing" in line


def test_ready_for_billing_is_refused_for_a_non_billable_ticket(run: Cli) -> None:
    ticket_id = run.ticket_at("live")
    refused(run, 3, "advance", ticket_id, "mark_ready_for_billing", user=PM)


# ---------------------------------------------------------------------------------------------
# Definition of Ready (Quote step 6)


def test_billable_ticket_cannot_start_development_without_the_definition_of_ready(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_scheduled")
    run.ok("set", ticket_id, "sow_link=", "acceptance_criteria=", "assumptions=", user=PM)
    start = next(o for o in run.json("transitions", ticket_id, user=PM) if o["name"] == "start_development")
    assert start["missing"] == ["projected_delivery_date", "sow_link", "acceptance_criteria", "assumptions"]

    line = refused(
        run,
        3,
        "advance",
        ticket_id,
        "start_development",
        "--set",
        "projected_delivery_date=2026-12-17",
        user=PM,
    )

    for name in ("sow_link", "acceptance_criteria", "assumptions"):
        assert name in line
    reasons, given = line.split("; you gave: ")
    assert "projected_delivery_date" not in reasons
    assert given.startswith("--set projected_delivery_date=2026-12-17")


def test_billable_ticket_needing_payment_cannot_start_development_before_payment(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_scheduled_no_payment")
    run.ok("set", ticket_id, "payment_required=true", user=PM)

    line = refused(
        run,
        3,
        "advance",
        ticket_id,
        "start_development",
        "--set",
        "projected_delivery_date=2026-12-17",
        user=PM,
    )

    assert "payment_reference" in line
    start = next(o for o in run.json("transitions", ticket_id, user=PM) if o["name"] == "start_development")
    assert start["missing"] == ["projected_delivery_date", "payment_reference"]


def test_non_billable_ticket_is_not_held_to_the_definition_of_ready(run: Cli) -> None:
    ticket_id = run.ticket_at("scheduled")
    start = next(o for o in run.json("transitions", ticket_id, user=DEV) if o["name"] == "start_development")
    assert start["missing"] == ["projected_delivery_date"]


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "bad",
    ["product", "=Portal", "nosuchfield=1", "priority=bogus", "customer_email=not-an-address"],
)
def test_malformed_set_is_a_usage_error(run: Cli, bad: str) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 2, "advance", ticket_id, "submit", "--set", bad, user=SUPPORT)


@pytest.mark.parametrize("bad", ["estimate_hours", "scope"])
def test_malformed_pair_for_erflow_set_is_a_usage_error(run: Cli, bad: str) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 2, "set", ticket_id, bad, user=PM)


def test_bad_number_is_a_usage_error(run: Cli) -> None:
    ticket_id = run.ticket_at("quote_sent")
    refused(run, 2, "advance", ticket_id, "quote_accepted", "--set", "quote_amount=lots", user=SALES)


def test_unknown_command_option_is_a_usage_error(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    before = run.snapshot()
    result = run("advance", ticket_id, "submit", "--frobnicate", user=SUPPORT)
    assert result.exit_code == 2, describe(result)
    assert run.snapshot() == before


# ---------------------------------------------------------------------------------------------
# Not found


def test_unknown_transition_is_not_found(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    line = refused(run, 4, "advance", ticket_id, "teleport", user=SUPPORT)
    assert "teleport" in line


@pytest.mark.parametrize("command", [("show",), ("transitions",), ("history",), ("advance", "submit")])
def test_unknown_ticket_is_not_found(run: Cli, store: Path, command: tuple[str, ...]) -> None:
    line = refused(run, 4, command[0], "ER-ZZZZZZ", *command[1:], user=SUPPORT)
    assert "ER-ZZZZZZ" in line


def test_a_path_is_never_taken_for_a_ticket_id(run: Cli, store: Path) -> None:
    refused(run, 4, "show", "../workflow")
    refused(run, 4, "note", "../../etc/passwd", "x", user=SUPPORT)


def test_unknown_type_is_not_found(run: Cli, store: Path) -> None:
    line = refused(run, 4, "new", "feature", "--title", "x", user=SUPPORT)
    assert "feature" in line


def test_unknown_template_is_not_found(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    line = refused(run, 4, "email", ticket_id, "no_such_template", user=PM)
    assert "no_such_template" in line


def test_unknown_assignee_is_not_found(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 4, "assign", ticket_id, "nobody@example.com", user=PM)


# ---------------------------------------------------------------------------------------------
# Fields that transitions own


@pytest.mark.parametrize(
    "pair", ["dev_priority=3", "payment_reference=INV-1", "billable=false", "board_status=declined"]
)
def test_erflow_set_refuses_a_field_a_transition_owns(run: Cli, pair: str) -> None:
    ticket_id = run.ticket_at("billable_scheduled")
    line = refused(run, 3, "set", ticket_id, pair, user=PM)
    assert pair.split("=")[0] in line


@pytest.mark.parametrize("pair", ["state=closed", "id=ER-AAAAAA", "created=2020-01-01T00:00:00+00:00"])
def test_erflow_set_refuses_fields_kept_by_erflow(run: Cli, pair: str) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 3, "set", ticket_id, pair, user=PM)


def test_set_on_a_transition_refuses_a_field_another_transition_owns(run: Cli) -> None:
    ticket_id = run.ticket_at("scheduling")
    line = refused(
        run,
        3,
        "advance",
        ticket_id,
        "plan",
        "--set",
        "iteration=2026-12",
        "--set",
        "target_delivery_window=Dec",
        "--set",
        "dev_priority=3",
        user=PM,
    )
    assert "dev_priority" in line

    payment = run.ticket_at("sow")
    line = refused(
        run,
        3,
        "advance",
        payment,
        "sow_signed",
        "--set",
        "sow_link=https://x.example/sow",
        "--set",
        "payment_reference=INV-1",
        user=CONTRACTS,
    )
    assert "payment_reference" in line


def test_set_on_a_transition_refuses_the_state(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    refused(run, 3, "advance", ticket_id, "submit", "--set", "state=closed", user=SUPPORT)


def test_new_refuses_a_field_a_transition_owns(run: Cli, store: Path) -> None:
    refused(run, 3, "new", "enhancement", "--title", "x", "--set", "dev_priority=1", user=SUPPORT)


# ---------------------------------------------------------------------------------------------
# Conflicts: changes underneath, locks


def test_uncommitted_hand_edit_of_the_ticket_makes_advance_a_conflict(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    path = run.path(ticket_id)
    path.write_text(path.read_text(encoding="utf-8").replace("Jane Doe", "Jane Roe"), encoding="utf-8")

    line = refused(run, 7, "advance", ticket_id, "submit", user=SUPPORT)

    assert run.path(ticket_id).relative_to(run.root).as_posix() in line
    assert "Jane Roe" in path.read_text(encoding="utf-8")


def test_held_git_index_lock_makes_a_change_a_conflict(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    lock = run.root / ".git" / "index.lock"
    lock.write_bytes(b"")
    try:
        refused(run, 7, "advance", ticket_id, "submit", user=SUPPORT)
        refused(run, 7, "note", ticket_id, "hello", user=SUPPORT)
    finally:
        lock.unlink()
    run.ok("advance", ticket_id, "submit", user=SUPPORT)


def test_store_locked_by_another_erflow_is_a_conflict(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = run.ticket_at("intake")
    monkeypatch.setenv("ERFLOW_LOCK_TIMEOUT", "0.2")
    with FileLock(str(run.root / ".git" / "erflow.lock")):
        line = refused(run, 7, "advance", ticket_id, "submit", user=SUPPORT)
    assert "locked" in line


# ---------------------------------------------------------------------------------------------
# Broken ticket files


def break_front_matter(run: Cli, ticket_id: str) -> tuple[str, int]:
    """Make one line of the ticket's front-matter bad YAML; return the file (relative) and that line."""
    path = run.path(ticket_id)
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith("priority:"))
    lines[number] = "priority: normal: high: [oops"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path.relative_to(run.root).as_posix(), number + 1


def test_broken_front_matter_makes_show_exit_6_naming_file_and_line(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    rel, line_number = break_front_matter(run, ticket_id)

    line = refused(run, 6, "show", ticket_id)

    assert f"{rel}:{line_number}:" in line


def test_broken_ticket_does_not_hide_the_others_from_list(run: Cli) -> None:
    broken = run.ticket_at("intake")
    good = run.new()
    rel, _ = break_front_matter(run, broken)

    result = run.ok("list", "--json")

    assert [t["id"] for t in json.loads(result.stdout)] == [good]
    assert rel in result.stderr
    assert "Traceback" not in result.stderr
    table = run.ok("list")
    assert good in table.stdout and broken not in table.stdout
    assert rel in table.stderr


def test_broken_ticket_refuses_changes_with_exit_6(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    break_front_matter(run, ticket_id)
    run.commit_all("a bad hand edit, committed")
    refused(run, 6, "advance", ticket_id, "submit", user=SUPPORT)
    refused(run, 6, "note", ticket_id, "x", user=SUPPORT)


def test_ticket_file_whose_id_does_not_match_its_name_is_invalid(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    path = run.path(ticket_id)
    path.write_text(
        path.read_text(encoding="utf-8").replace(f"id: {ticket_id}", "id: ER-000000"), encoding="utf-8"
    )
    line = refused(run, 6, "show", ticket_id)
    assert path.name in line


def test_malformed_workflow_yaml_makes_commands_exit_6_naming_the_line(run: Cli, store: Path) -> None:
    workflow = store / "workflow.yaml"
    lines = workflow.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith("roles:"))
    lines.insert(number + 1, "  broken: [unclosed")
    workflow.write_text("\n".join(lines), encoding="utf-8")
    line = refused(run, 6, "new", "enhancement", "--title", "x", user=SUPPORT)
    assert "workflow.yaml:" in line


def test_transition_whose_email_needs_a_missing_field_is_refused_naming_it(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("set", ticket_id, "customer_name=", user=PM)
    template = run.root / "templates" / "pm_more_info.j2"  # the default greets a nameless customer
    greeting = "{% if customer_name is defined %}Hi {{ customer_name }},{% else %}Hello,{% endif %}"
    text = template.read_text(encoding="utf-8")
    assert greeting in text
    template.write_text(text.replace(greeting, "Hi {{ customer_name }},"), encoding="utf-8")

    line = refused(
        run, 3, "advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", user=PM
    )

    assert "customer_name" in line


# ---------------------------------------------------------------------------------------------
# A commit that git itself refuses: everything is put back


def refuse_commits(run: Cli) -> None:
    hook = run.root / ".git" / "hooks" / "pre-commit"
    hook.write_text('#!/bin/sh\necho "policy: no commits during the freeze" >&2\nexit 1\n', encoding="utf-8")
    hook.chmod(0o755)


@pytest.mark.parametrize(
    "command",
    [
        ("advance", "{id}", "approve_no_quote", "--set", "board_rationale=Useful"),
        ("note", "{id}", "hello"),
        ("set", "{id}", "scope=CSV only"),
        ("new", "enhancement", "--title", "Another"),
    ],
)
def test_failed_git_commit_leaves_the_store_as_it_was(run: Cli, command: tuple[str, ...]) -> None:
    ticket_id = run.ticket_at("product_board")
    refuse_commits(run)
    line = refused(
        run, 1, *(part.format(id=ticket_id) for part in command), user=BOARD if "advance" in command else PM
    )
    assert "freeze" in line
