"""Seed 000 rules the default workflow encodes as data, each played on a fresh store: the board's
decline told to the customer once leadership confirms it (step 5 and the FAQ); a deferred request's
review date, a timer that reminds the board; QA for non-billable work by policy (Stage 7) and the
implementation ticket that parents a billable one whose rollout may lag (quote step 12); who signs
emails, and the time zone their times are shown in."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

from conftest import (
    BOARD,
    CLOSE,
    COMPLETE,
    CUSTOMER_EMAIL,
    DEV,
    NICK,
    PM,
    QA_PASSED,
    READY_FOR_BILLING,
    RELEASE_NON_BILLABLE,
    SALES,
    SUPPORT,
    Cli,
    Mailbox,
    Step,
    check_refuses_edit,
    describe,
    expected_emails,
    one_line_error,
)
from test_seed_rules import body_of

REASON = "It duplicates the report builder"


def test_a_board_decline_reaches_the_customer_with_its_reason_once_leadership_confirms(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("product_board")
    reason = ("--set", f"decline_reason={REASON}")
    data = run.json("advance", ticket_id, "decline", *reason, "--send", user=BOARD)
    assert (data["to"], data["emails"]) == ("decline_review", [])
    # The customer hears nothing yet; Leadership is told the decline waits on it.
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[NICK]]
    assert [(n["event"], n["to"]) for n in data["notifications"]] == [("role_needed", NICK)]
    smtp_server.envelopes.clear()
    shown = run.show(ticket_id)
    assert (shown["owner"], shown["board_status"]) == (NICK, "declined")

    result = run("advance", ticket_id, "confirm_decline", user=BOARD)
    assert result.exit_code != 0, describe(result)
    assert "confirm_decline" in one_line_error(result)

    data = run.json("advance", ticket_id, "confirm_decline", "--send", user=NICK)

    assert data["to"] == "declined"
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    message = email.message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == f"[{ticket_id}] Enhancement Request {ticket_id} - Decision Update"
    assert body_of(message) == (
        "Dear Jane Doe,\n\n"
        "Thank you for submitting your recent enhancement request: Export invoices to CSV\n\n"
        "After careful consideration, our Product Board has decided not to proceed with this enhancement. "
        "The decision was based on:\n\n"
        f"• {REASON}\n\n"
        f"https://support.example.com/requests/{ticket_id}\n\n"
        "Thank you,\nDestyn Dagle\n"
    )
    assert run.show(ticket_id)["leadership_status"] == "declined"


def test_leadership_may_return_a_board_decline_for_revision_instead(run: Cli, store: Path) -> None:
    ticket_id = run.ticket_at("product_board")
    run.json("advance", ticket_id, "decline", "--set", f"decline_reason={REASON}", user=BOARD)

    data = run.json(
        "advance", ticket_id, "return", "--set", "return_feedback=Which reports overlap?", user=NICK
    )

    assert (data["to"], [e["template"] for e in data["emails"]]) == ("pm_review", ["leadership_returned"])
    assert run.show(ticket_id)["owner"] == PM
    run.ok("check")


def defer(run: Cli, review_date: str) -> tuple[str, Any]:
    ticket_id = run.ticket_at("product_board")
    sets = ("--set", "board_rationale=Capacity", "--set", f"review_date={review_date}")
    return ticket_id, run("advance", ticket_id, "defer", *sets, "--json", user=BOARD)


def sweep(run: Cli, now: str) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = run.json("sweep", "--now", now, user=PM)["actions"]
    return actions


def test_defer_refuses_a_review_date_that_is_neither_a_date_nor_a_quarter(run: Cli) -> None:
    for text in ("next spring", "2027-13-01", "Q1 2027", "2027-Q5"):
        ticket_id, result = defer(run, text)
        assert result.exit_code == 3, describe(result)
        assert "review_date is a date (2027-03-15) or a quarter (2027-Q1" in one_line_error(result)
        assert run.state(ticket_id) == "product_board"
    ticket_id, result = defer(run, "2027-03-15")
    assert result.exit_code == 0, describe(result)


def test_the_board_is_reminded_on_a_deferred_requests_review_quarter(run: Cli, store: Path) -> None:
    ticket_id, result = defer(run, "2027-Q1")
    assert result.exit_code == 0, describe(result)
    assert run.show(ticket_id)["owner"] == "board"  # the role: two people hold it
    rows = run.json("reminders", user=BOARD, env={"ERFLOW_NOW": "2026-12-30T09:00:00+00:00"})
    assert [r["kind"] for r in rows if r["id"] == ticket_id] == ["your role"]

    rows = run.json("reminders", user=BOARD, env={"ERFLOW_NOW": "2026-12-31T09:30:00+00:00"})
    (timer,) = [r for r in rows if r["id"] == ticket_id and r["kind"] == "timer"]
    assert timer["why"].startswith("timer review_date_reached due in 23h 30m (")
    rows = run.json("reminders", user=NICK, env={"ERFLOW_NOW": "2026-12-31T09:30:00+00:00"})
    assert "timer" in [r["kind"] for r in rows if r["id"] == ticket_id]  # the board's other member
    rows = run.json("reminders", user=PM, env={"ERFLOW_NOW": "2026-12-31T09:30:00+00:00"})
    assert "timer" not in [r["kind"] for r in rows if r["id"] == ticket_id]
    assert sweep(run, "2027-01-01T08:59:00+00:00") == []

    (action,) = sweep(run, "2027-01-01T09:00:00+00:00")

    assert (action["ticket"], action["timer"]) == (ticket_id, "review_date_reached")
    subject = f"[{ticket_id}] Enhancement Request {ticket_id} - Deferred request due for review"
    assert action["emails"] == [
        {"template": "board_review_due", "to": BOARD, "subject": subject, "sent": False}
    ]
    body = run.show(ticket_id)["body"]
    assert "Review date reached: the board reviews this deferred request again" in body
    assert sweep(run, "2027-01-02T09:00:00+00:00") == []
    text = run.ok("email", ticket_id, "board_review_due", "--dry-run", user=PM).stdout
    assert f"request {ticket_id} (Export invoices to CSV) reaches its review date, 2027-Q1." in text
    run.ok("check")


def test_an_old_review_date_in_free_text_stays_valid_and_never_fires(run: Cli, store: Path) -> None:
    ticket_id, _ = defer(run, "2027-03-15")
    path = run.path(ticket_id)
    text = path.read_text(encoding="utf-8")
    assert "review_date: '2027-03-15'" in text or "review_date: 2027-03-15" in text
    text = text.replace("'2027-03-15'", "2027-03-15").replace("2027-03-15", "around spring 2027", 1)
    path.write_text(text, encoding="utf-8")
    run.commit_all("an old ticket: review date in words")
    run.ok("check")
    assert sweep(run, "2028-01-01T09:00:00+00:00") == []


def test_check_refuses_a_matches_that_is_not_a_regular_expression(run: Cli, store: Path) -> None:
    result = check_refuses_edit(run, '{matches: "\\\\d{4}-', '{matches: "(\\\\d{4}-')
    assert "matches: " in result.stdout and "is not a regular expression" in result.stdout


def set_policy(run: Cli, line: str, new: str) -> None:
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(line) == 1
    path.write_text(text.replace(line, new), encoding="utf-8")
    run.commit_all("policy change")


def test_non_billable_work_skips_qa_by_default(run: Cli) -> None:
    ticket_id = run.ticket_at("in_development")
    result = run("advance", ticket_id, "complete", user=DEV)
    assert result.exit_code == 3, describe(result)
    assert "billable tickets only (or every ticket with policies.qa_non_billable)" in one_line_error(result)


def test_with_qa_non_billable_non_billable_work_passes_qa_before_going_live(run: Cli) -> None:
    ticket_id = run.ticket_at("in_development")
    set_policy(run, "  qa_non_billable: false\n", "  qa_non_billable: true\n")
    run.ok("check")
    before = run.snapshot()
    result = run("advance", ticket_id, *sets(RELEASE_NON_BILLABLE), user=DEV)
    assert result.exit_code == 3, describe(result)
    assert "policies.qa_non_billable is on, so non-billable work passes QA first" in one_line_error(result)
    assert run.snapshot() == before

    assert run.advance(ticket_id, COMPLETE)["to"] == "qa"
    data = run.advance(ticket_id, QA_PASSED)
    assert data["to"] == "release_ready"
    assert run.show(ticket_id)["owner"] == DEV
    data = run.advance(ticket_id, RELEASE_NON_BILLABLE)
    assert (data["from"], data["to"]) == ("release_ready", "live")
    assert data["emails"] == expected_emails(ticket_id, "delivered")
    assert run.advance(ticket_id, CLOSE)["to"] == "closed"

    billable = run.ticket_at("qa")
    set_policy(run, "  qa_non_billable: false\n", "  qa_non_billable: true\n")
    assert run.advance(billable, QA_PASSED)["to"] == "customer_validation"


def test_ready_for_billing_makes_an_implementation_ticket_the_parent_when_rollout_may_lag(
    run: Cli, store: Path
) -> None:
    ticket_id = run.ticket_at("billable_live")
    data = run.advance(ticket_id, READY_FOR_BILLING, "--set", "rollout_may_lag=true")

    assert data["to"] == "ready_for_billing"
    (parent,) = data["created"]
    assert parent.startswith("IMP-")
    shown = run.show(parent)
    assert (shown["type"], shown["state"], shown["owner"]) == ("implementation", "planning", PM)
    assert (shown["title"], shown["customer_email"], shown["product"]) == (
        "Export invoices to CSV",
        CUSTOMER_EMAIL,
        "Billing Portal",
    )
    assert shown["links"] == [f"parent {ticket_id}"]
    assert run.show(ticket_id)["links"] == [f"child {parent}"]

    run.json("advance", parent, "start_rollout", "--set", "rollout_plan=Two sites in January", user=SALES)
    done = run.json(
        "advance", parent, "rolled_out", "--set", "live_date=2027-01-20", "--set", "rollout_notes=Both live",
        user=DEV,
    )  # fmt: skip
    assert done["to"] == "closed"

    other = run.ticket_at("billable_live")
    assert run.advance(other, READY_FOR_BILLING)["created"] == []
    run.ok("check")


def sets(step: Step) -> list[str]:
    name, _, values = step
    return [name, *(a for key, value in values.items() for a in ("--set", f"{key}={value}"))]


def edit_workflow(run: Cli, *pairs: tuple[str, str]) -> None:
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    run.commit_all("workflow change")
    run.ok("check")


def signature(run: Cli, ticket_id: str, template: str) -> str:
    text = run.ok("email", ticket_id, template, "--dry-run", user=PM).stdout
    return text.split("Thank you,\n", 1)[1].split("\n", 1)[0]


ENHANCEMENT_SENDER = "    sender_name: Destyn Dagle\n"
SETTINGS_SENDER = '  sender_name: "Destyn Dagle"\n'


def test_a_types_sender_signs_its_emails_or_the_owner_does(run: Cli, store: Path) -> None:
    ticket_id = run.ticket_at("in_development")
    edit_workflow(run, (SETTINGS_SENDER, '  sender_name: "Acme Support"\n'))
    assert signature(run, ticket_id, "development_started") == "Destyn Dagle"  # the PM, seed 000

    edit_workflow(run, (ENHANCEMENT_SENDER, '    sender_name: "{owner}, for the product team"\n'))
    assert run.show(ticket_id)["owner"] == DEV
    assert signature(run, ticket_id, "development_started") == "Dev Team, for the product team"
    edit_workflow(run, ('    sender_name: "{owner}, for the product team"\n', ""))
    assert signature(run, ticket_id, "development_started") == "Acme Support"  # settings.sender_name
    result = check_refuses_edit(
        run, '  sender_name: "{owner}"  # its emails', "  sender_name: [a, b]  # its emails"
    )
    assert "types.implementation.sender_name: expected a name" in result.stdout


def test_times_in_emails_are_shown_in_the_workflows_time_zone_with_its_offset(run: Cli, store: Path) -> None:
    ticket_id = run.ticket_at("pm_review")
    edit_workflow(run, ('  timezone: "+00:00"\n\n# Switches', '  timezone: "+05:30"\n\n# Switches'))
    (run.root / "templates" / "when.j2").write_text(
        "Subject: When\n\nCreated {{ created }}, sent {{ now }}.\n", encoding="utf-8"
    )
    text = run.ok(
        "email", ticket_id, "when", "--dry-run", user=PM, env={"ERFLOW_NOW": "2026-11-03T20:15:00+00:00"}
    ).stdout
    assert "Created 2026-11-02 14:30 +05:30, sent 2026-11-04 01:45 +05:30.\n" in text
    assert "Date: Wed, 04 Nov 2026 01:45:00 +0530\n" in text


def test_the_other_types_emails_are_signed_by_the_tickets_owner_not_the_seed_000_pm(
    run: Cli, store: Path
) -> None:
    edit_workflow(run, (SETTINGS_SENDER, '  sender_name: "Acme Support"\n'))
    bug = run.ok(
        "new", "bug", "--title", "Footer colour", "--customer-name", "Jane", "--customer-email",
        "jane@acme.example", "--set", "severity=low", user=SUPPORT,
    ).stdout.strip()  # fmt: skip
    assert run.show(bug)["owner"] == "triage@example.com"
    assert signature(run, bug, "bug_received") == "Bug Triage"  # the owner's name under people:
    run.ok("assign", bug, "support", user=PM)  # a role, a queue: nobody to sign, so settings.sender_name
    assert signature(run, bug, "bug_received") == "Acme Support"
