"""The SOP's paths walked through the CLI, as the people of the SOP would take them.

At each step: the exit code, the state `show --json` reports, the customer emails `advance --json`
announces (exact subjects), and exactly one new git commit authored by the actor whose trailers
say what happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import (
    ACCOUNTING,
    APPROVE,
    APPROVE_FOR_QUOTE,
    APPROVE_NO_QUOTE,
    BOARD,
    CLOSE,
    COMPLETE,
    CONTRACTS,
    DEV,
    ESTIMATED,
    INTAKE_FLAGS,
    NICK,
    PAYMENT_CONFIRMED,
    PLAN,
    PM,
    QA,
    QA_PASSED,
    QUOTE,
    QUOTE_ACCEPTED,
    READY_FOR_BILLING,
    RELEASE_BILLABLE,
    RELEASE_NON_BILLABLE,
    SALES,
    SCHEDULE,
    SCOPE_CONFIRMED,
    SOW_SIGNED_NO_PAYMENT,
    SOW_SIGNED_PAYMENT,
    STAMP,
    START_BILLABLE,
    START_NON_BILLABLE,
    SUBMIT,
    SUPPORT,
    Cli,
    Step,
    commit_info,
    commits_since,
    describe,
    expected_emails,
)

TRAILER_KEYS = ("Erflow-Ticket", "Erflow-Transition", "Erflow-From", "Erflow-To", "Erflow-Actor")


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def take(
    run: Cli,
    ticket_id: str,
    step: Step,
    *,
    to: str,
    emails: tuple[str, ...] = (),
    owner: str | None = None,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Take one step and check everything the contract promises about it."""
    name, actor, sets = step
    before_state = run.state(ticket_id)
    before_head = run.head()

    data = run.advance(ticket_id, step, *extra)

    assert data["id"] == ticket_id
    assert data["transition"] == name
    assert (data["from"], data["to"]) == (before_state, to)
    assert data["created"] == []
    assert data["emails"] == expected_emails(ticket_id, *emails)
    assert commits_since(run.root, before_head) == [data["commit"]]
    commit = commit_info(run.root, data["commit"])
    assert commit.author_email == actor
    assert {key: commit.trailers.get(key) for key in TRAILER_KEYS} == {
        "Erflow-Ticket": [ticket_id],
        "Erflow-Transition": [name],
        "Erflow-From": [before_state],
        "Erflow-To": [to],
        "Erflow-Actor": [actor],
    }
    assert commit.files == [run.path(ticket_id).relative_to(run.root).as_posix()]
    shown = run.show(ticket_id)
    assert shown["state"] == to
    for key, value in sets.items():
        assert as_text(shown[key]) == value, key
    if owner is not None:
        assert shown["owner"] == owner
    return shown


def communications(run: Cli, ticket_id: str) -> str:
    body: str = run.show(ticket_id)["body"]
    return body.split("## Communications", 1)[1]


# ---------------------------------------------------------------------------------------------
# Path 1: non-billable, intake to closed


def test_non_billable_request_walks_from_intake_to_closed(run: Cli, store: Path) -> None:
    created = run.json("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT)
    ticket_id = created["id"]
    assert created["state"] == "intake"
    assert created["emails"] == expected_emails(ticket_id, "intake_acknowledgement")
    assert commit_info(run.root).author_email == SUPPORT

    take(run, ticket_id, SUBMIT, to="pm_review", owner=PM)
    take(
        run,
        ticket_id,
        ("request_info", PM, {"info_needed": "Which columns?"}),
        to="needs_info",
        emails=("pm_more_info",),
    )
    take(run, ticket_id, ("info_received", PM, {}), to="pm_review", extra=("--note", "Customer replied"))
    shown = take(run, ticket_id, APPROVE, to="product_board")
    assert shown["pm_validation"] == "complete"
    shown = take(run, ticket_id, APPROVE_NO_QUOTE, to="leadership", owner=NICK)
    assert shown["board_status"] == "approved_no_quote"
    shown = take(run, ticket_id, SCHEDULE, to="scheduling", emails=("board_approved_no_quote",), owner=PM)
    assert shown["leadership_status"] == "scheduled"
    take(run, ticket_id, PLAN, to="scheduled", emails=("schedule_confirmation",))
    take(run, ticket_id, START_NON_BILLABLE, to="in_development", emails=("development_started",), owner=DEV)
    take(run, ticket_id, RELEASE_NON_BILLABLE, to="live", emails=("delivered",))
    shown = take(run, ticket_id, CLOSE, to="closed")

    assert shown["next"] == []
    assert "billable" not in shown["labels"]
    log = communications(run, ticket_id)
    for template in (
        "intake_acknowledgement",
        "pm_more_info",
        "board_approved_no_quote",
        "development_started",
        "delivered",
    ):
        assert f"email {template} to jane@acme.example" in log
    assert "Customer replied" in shown["body"]


# ---------------------------------------------------------------------------------------------
# Path 2: billable, through quote, SOW, payment, QA and customer validation


def test_billable_request_walks_through_quote_payment_and_qa_to_ready_for_billing(
    run: Cli, store: Path
) -> None:
    ticket_id = run.new()
    take(run, ticket_id, SUBMIT, to="pm_review")
    take(run, ticket_id, APPROVE, to="product_board")
    shown = take(run, ticket_id, APPROVE_FOR_QUOTE, to="leadership")
    assert shown["board_status"] == "approved_for_quote"
    shown = take(run, ticket_id, QUOTE, to="quote_scope", emails=("board_approved_quote",))
    assert "billable" in shown["labels"]
    assert shown["billable"] is True
    assert shown["dev_priority"] == 1
    assert shown["leadership_status"] == "quote"
    take(run, ticket_id, SCOPE_CONFIRMED, to="quote_estimate")
    take(run, ticket_id, ESTIMATED, to="quote_sent", owner=SALES)
    take(run, ticket_id, QUOTE_ACCEPTED, to="sow", owner=CONTRACTS)
    take(run, ticket_id, SOW_SIGNED_PAYMENT, to="payment", emails=("sow_received",), owner=ACCOUNTING)
    take(run, ticket_id, PAYMENT_CONFIRMED, to="scheduling")
    take(run, ticket_id, PLAN, to="scheduled", emails=("schedule_confirmation",))
    take(run, ticket_id, START_BILLABLE, to="in_development", emails=("development_started",))
    take(run, ticket_id, COMPLETE, to="qa", owner=QA)
    take(run, ticket_id, QA_PASSED, to="customer_validation")
    take(run, ticket_id, RELEASE_BILLABLE, to="live", emails=("delivered",))
    shown = take(run, ticket_id, READY_FOR_BILLING, to="ready_for_billing", owner=ACCOUNTING)
    assert shown["next"] == []
    assert shown["dev_priority"] == 1


def test_signed_sow_without_payment_required_goes_straight_to_scheduling(run: Cli) -> None:
    ticket_id = run.ticket_at("sow")
    take(run, ticket_id, SOW_SIGNED_NO_PAYMENT, to="scheduling", emails=("sow_received",), owner=PM)


def test_signed_sow_with_payment_required_false_goes_to_scheduling(run: Cli) -> None:
    ticket_id = run.ticket_at("sow")
    step = (
        "sow_signed",
        CONTRACTS,
        {"sow_link": "https://contracts.example.com/sow/2", "payment_required": "false"},
    )
    take(run, ticket_id, step, to="scheduling", emails=("sow_received",))


def test_failed_qa_loops_back_to_development_and_can_pass_later(run: Cli) -> None:
    ticket_id = run.ticket_at("qa")
    take(
        run,
        ticket_id,
        ("qa_failed", QA, {"qa_notes": "Login loops on Safari"}),
        to="in_development",
        owner=DEV,
    )
    take(run, ticket_id, COMPLETE, to="qa")
    take(run, ticket_id, QA_PASSED, to="customer_validation")


def test_bump_sends_a_scheduled_ticket_back_with_development_priority_two(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_scheduled")
    assert run.show(ticket_id)["dev_priority"] == 1
    before = run.head()
    shown = take(run, ticket_id, ("bump", PM, {}), to="scheduling")
    assert shown["dev_priority"] == 2
    history = run.json("history", ticket_id)
    assert history[-1]["commit"] == run.head() != before
    assert history[-1]["changes"]["dev_priority"] == [1, 2]


def test_bump_of_a_non_billable_ticket_sets_development_priority_two(run: Cli) -> None:
    ticket_id = run.ticket_at("scheduled")
    shown = take(run, ticket_id, ("bump", PM, {}), to="scheduling")
    assert shown["dev_priority"] == 2
    take(run, ticket_id, PLAN, to="scheduled", emails=("schedule_confirmation",))


# ---------------------------------------------------------------------------------------------
# Decisions that end or return a request


def test_leadership_return_sends_the_feedback_to_the_customer_and_goes_back_to_pm_review(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    feedback = "Please split the export into monthly files"
    before = run.snapshot()
    preview = run.ok(
        "advance", ticket_id, "return", "--set", f"return_feedback={feedback}", "--dry-run", user=NICK
    )
    assert run.snapshot() == before
    assert (
        f"Subject: [{ticket_id}] Enhancement Request {ticket_id} - Additional Details Requested"
        in preview.stdout.replace(":\n ", ": ")
    )
    assert feedback in preview.stdout
    assert "would move leadership → pm_review" in preview.stderr

    shown = take(
        run,
        ticket_id,
        ("return", NICK, {"return_feedback": feedback}),
        to="pm_review",
        emails=("leadership_returned",),
        owner=PM,
    )
    assert shown["leadership_status"] == "returned"


def test_leadership_decline_sends_the_final_decision_with_the_reason(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    shown = take(
        run,
        ticket_id,
        ("decline", NICK, {"decline_reason": "Replaced by next year's redesign"}),
        to="declined",
        emails=("leadership_declined",),
    )
    assert shown["leadership_status"] == "declined"
    assert shown["next"] == []


def test_board_decline_waits_for_leadership_and_then_tells_the_customer_why(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")
    shown = take(
        run, ticket_id, ("decline", BOARD, {"decline_reason": "Out of product scope"}), to="decline_review"
    )
    assert shown["board_status"] == "declined"
    assert "board_declined" not in communications(run, ticket_id)

    take(run, ticket_id, ("confirm_decline", NICK, {}), to="declined", emails=("board_declined",))
    assert "email board_declined to jane@acme.example" in communications(run, ticket_id)


def test_board_approval_emails_follow_the_board_emails_policy(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")
    workflow = run.root / "workflow.yaml"
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text(text.replace("  board_emails: false\n", "  board_emails: true\n"), encoding="utf-8")
    run.commit_all("policy: tell customers about board decisions")
    take(run, ticket_id, APPROVE_NO_QUOTE, to="leadership", emails=("board_approved_no_quote",))


def test_defer_sends_nothing_and_reconsider_returns_to_the_board(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")
    shown = take(
        run,
        ticket_id,
        ("defer", BOARD, {"board_rationale": "Capacity", "review_date": "2027-Q2"}),
        to="deferred",
    )
    assert shown["board_status"] == "deferred"
    take(run, ticket_id, ("reconsider", PM, {}), to="product_board")


def test_declined_quote_cancels_the_request(run: Cli) -> None:
    ticket_id = run.ticket_at("quote_sent")
    shown = take(run, ticket_id, ("quote_declined", SALES, {}), to="cancelled")
    assert shown["next"] == []


def test_unschedule_moves_to_scheduling_with_the_approved_email(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    shown = take(
        run, ticket_id, ("unschedule", NICK, {}), to="scheduling", emails=("board_approved_no_quote",)
    )
    assert shown["leadership_status"] == "unscheduled"


# ---------------------------------------------------------------------------------------------
# Change control (Quote step 10)


def test_change_request_without_effects_stays_in_state_and_records_the_note(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_in_development")
    shown = take(
        run,
        ticket_id,
        ("change_request", PM, {"change_description": "Rename the export button"}),
        to="in_development",
        extra=("--note", "Customer asked on the call"),
    )
    assert "Customer asked on the call" in shown["body"]
    commit = commit_info(run.root)
    assert commit.trailers["Erflow-From"] == commit.trailers["Erflow-To"] == ["in_development"]


def test_change_request_needs_a_note(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_in_development")
    before = run.snapshot()
    result = run("advance", ticket_id, "change_request", "--set", "change_description=Rename", user=PM)
    assert result.exit_code == 3, describe(result)
    assert "note" in result.stderr
    assert result.stdout == ""
    assert run.snapshot() == before


def test_change_request_needs_its_description_in_this_very_step(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_in_development")
    run.advance(ticket_id, ("change_request", PM, {"change_description": "First change"}), "--note", "one")
    assert run.show(ticket_id)["change_description"] == "First change"
    before = run.snapshot()

    result = run("advance", ticket_id, "change_request", "--note", "second", user=PM)

    assert result.exit_code == 3, describe(result)
    assert "change_description" in result.stderr
    assert run.snapshot() == before


def test_change_request_affecting_deliverables_needs_estimate_addendum_and_customer_approval(
    run: Cli,
) -> None:
    ticket_id = run.ticket_at("billable_in_development")
    before = run.snapshot()
    result = run(
        "advance",
        ticket_id,
        "change_request",
        "--note",
        "Scope grows",
        "--set",
        "change_description=Add Azure AD",
        "--set",
        "change_affects=deliverables,cost",
        user=PM,
    )
    assert result.exit_code == 3, describe(result)
    for name in ("change_estimate_hours", "sow_addendum_link", "change_customer_approval"):
        assert name in result.stderr
    assert run.snapshot() == before

    step = (
        "change_request",
        NICK,
        {
            "change_description": "Add Azure AD",
            "change_affects": "deliverables,cost",
            "change_estimate_hours": "24",
            "sow_addendum_link": "https://contracts.example.com/sow/acme-1/addendum-1",
            "change_customer_approval": "Jane approved by email",
        },
    )
    shown = take(run, ticket_id, step, to="in_development", extra=("--note", "Scope grows"))
    assert shown["change_affects"] == ["deliverables", "cost"]


def test_change_request_is_open_in_quote_states_but_not_before(run: Cli) -> None:
    ticket_id = run.ticket_at("quote_scope")
    names = [o["name"] for o in run.json("transitions", ticket_id, user=PM)]
    assert "change_request" in names
    take(
        run,
        ticket_id,
        ("change_request", PM, {"change_description": "Also SCIM"}),
        to="quote_scope",
        extra=("--note", "n"),
    )

    other = run.ticket_at("leadership")
    assert "change_request" not in [o["name"] for o in run.json("transitions", other, user=NICK)]


# ---------------------------------------------------------------------------------------------
# History


def test_history_lists_every_step_oldest_first_with_actor_transition_states_and_changes(run: Cli) -> None:
    ticket_id = run.ticket_at("billable_live")
    run.advance(ticket_id, READY_FOR_BILLING)

    history = run.json("history", ticket_id)

    steps = [
        SUBMIT,
        APPROVE,
        APPROVE_FOR_QUOTE,
        QUOTE,
        SCOPE_CONFIRMED,
        ESTIMATED,
        QUOTE_ACCEPTED,
        SOW_SIGNED_PAYMENT,
        PAYMENT_CONFIRMED,
        PLAN,
        START_BILLABLE,
        COMPLETE,
        QA_PASSED,
        RELEASE_BILLABLE,
        READY_FOR_BILLING,
    ]
    states = [
        "intake",
        "pm_review",
        "product_board",
        "leadership",
        "quote_scope",
        "quote_estimate",
        "quote_sent",
        "sow",
        "payment",
        "scheduling",
        "scheduled",
        "in_development",
        "qa",
        "customer_validation",
        "live",
        "ready_for_billing",
    ]
    assert len(history) == 1 + len(steps)
    first = history[0]
    assert (first["actor"], first["transition"], first["from"], first["to"]) == (
        SUPPORT,
        None,
        None,
        "intake",
    )
    assert first["changes"]["title"] == [None, "Export invoices to CSV"]
    for entry, (name, actor, sets), frm, to in zip(history[1:], steps, states[:-1], states[1:], strict=True):
        assert (entry["actor"], entry["transition"], entry["from"], entry["to"]) == (actor, name, frm, to)
        assert entry["changes"]["state"] == [frm, to]
        for key, value in sets.items():
            assert as_text(entry["changes"][key][1]) == value
        assert entry["date"] == STAMP
    commits = run.git("log", "--format=%H", "--reverse", "--", str(run.path(ticket_id))).split()
    assert [e["commit"] for e in history] == commits
    quote = history[4]
    assert quote["changes"]["dev_priority"] == [None, 1]
    assert quote["changes"]["billable"] == [None, True]
    assert quote["changes"]["labels"] == [[], ["billable"]]


def test_history_shows_edits_outside_transitions_in_order(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("set", ticket_id, "scope=CSV only", user=PM)
    run.ok("note", ticket_id, "Called the customer", user=DEV)
    run.ok("assign", ticket_id, "pm", user=SUPPORT)

    history = run.json("history", ticket_id)

    assert [e["actor"] for e in history] == [SUPPORT, SUPPORT, PM, DEV, SUPPORT]
    assert [e["transition"] for e in history] == [None, "submit", None, None, None]
    assert history[2]["changes"]["scope"] == [None, "CSV only"]
    assert history[4]["changes"]["owner"] == [PM, "pm"]
    assert all(e["from"] == e["to"] == "pm_review" for e in history[2:])
