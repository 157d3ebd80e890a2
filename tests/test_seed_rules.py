"""Rules of the seeds that the default workflow encodes as data, each played on a fresh store: a
refused step names the ``--set`` values it was given; the bug rejection's reason reaches the submitter
(seed 001); the schedule shared with the customer after ``plan`` and the check that existing
configuration cannot do what is asked (seed 000); an invoice that must match estimate x rate (seed 002).
"""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path

from conftest import (
    ACCOUNTING,
    APPROVE,
    CUSTOMER_EMAIL,
    PAYMENT_CONFIRMED,
    PLAN,
    PM,
    SUPPORT,
    Cli,
    Mailbox,
    describe,
    expected_emails,
    one_line_error,
)

from erflow.core import conditions


def body_of(message: Message) -> str:
    """The text of a one-part email as delivered."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8").replace("\r\n", "\n")


def test_a_refused_step_keeps_nothing_and_lists_the_sets_it_was_given(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    run.advance(ticket_id, ("submit", SUPPORT, {}))
    before = run.snapshot()

    result = run(
        "advance", ticket_id, "approve", "--set", "problem=Invoices only on screen", "--set", "scope=CSV",
        "--set", "config_checked=true", user=PM,
    )  # fmt: skip

    assert result.exit_code == 3, describe(result)
    assert run.snapshot() == before
    assert one_line_error(result) == (
        f"erflow: {ticket_id}: approve refused: missing: desired_outcome; "
        "you gave: --set 'problem=Invoices only on screen' --set scope=CSV --set config_checked=true "
        "(give missing fields with --set FIELD=VALUE)"
    )
    assert "problem" not in run.show(ticket_id)


def test_plan_shares_the_schedule_and_promises_only_quoted_items(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("scheduling")

    data = run.advance(ticket_id, PLAN, "--send")

    assert data["emails"] == expected_emails(ticket_id, "schedule_confirmation", sent=True)
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    message = email.message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == f"[{ticket_id}] Enhancement Request {ticket_id} - Scheduled for Development"
    text = body_of(message)
    assert "• Iteration: 2026-12\n• Target delivery window: December 2026" in text
    assert "only quoted items are promised to customers" in text
    assert "Your request is not quoted, so it may be moved depending on available resources" in text

    billable = run.ticket_at("payment")
    run.advance(billable, PAYMENT_CONFIRMED)
    data = run.advance(billable, PLAN)
    assert data["emails"] == expected_emails(billable, "schedule_confirmation")
    text = run.ok("email", billable, "schedule_confirmation", "--dry-run", user=PM).stdout
    assert "only quoted items are promised to customers" in text
    assert "Your request is quoted, so this schedule is committed" in text
    run.ok("check")


def test_approval_waits_for_the_configuration_check_and_configuration_can_close_it(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    sets = {k: v for k, v in APPROVE[2].items() if k != "config_checked"}
    args = [a for key, value in sets.items() for a in ("--set", f"{key}={value}")]
    result = run("advance", ticket_id, "approve", *args, user=PM)
    assert result.exit_code == 3, describe(result)
    assert run.snapshot() == before
    assert "check first that existing configuration cannot fulfil the request" in one_line_error(result)
    result = run("advance", ticket_id, "approve", *args, "--set", "config_checked=false", user=PM)
    assert result.exit_code == 3, describe(result)

    how = "Settings > Invoices > Export already downloads the filtered list as CSV"
    data = run.json("advance", ticket_id, "config_solves_it", "--set", f"config_solution={how}", user=PM)

    assert (data["from"], data["to"]) == ("pm_review", "closed")
    subject = f"[{ticket_id}] Enhancement Request {ticket_id} - Available Through Existing Configuration"
    assert data["emails"] == [
        {"template": "config_solution", "to": CUSTOMER_EMAIL, "subject": subject, "sent": False}
    ]
    text = run.ok("email", ticket_id, "config_solution", "--dry-run", user=PM).stdout
    assert f"• {how}" in text

    approved = run.ticket_at("pm_review")
    data = run.advance(approved, APPROVE)
    assert data["to"] == "product_board"
    assert run.show(approved)["config_checked"] is True
    run.ok("check")


def test_a_support_invoice_must_be_the_estimate_times_the_workflows_rate(run: Cli, store: Path) -> None:
    request = run.json(
        "new", "support", "--title", "Nightly export fails", "--customer-name", "Jane Doe",
        "--customer-email", CUSTOMER_EMAIL, user=SUPPORT,
    )["id"]  # fmt: skip
    run.json(
        "advance", request, "classify", "--set", "classification=Bug Fix", "--set", "product=Portal", user=PM
    )
    run.json("advance", request, "scope_confirmed", "--set", "scope_summary=Export nightly", user=PM)
    run.json("advance", request, "estimated", "--set", "estimate_hours=6", user="jesus@example.com")
    invoice = ("advance", request, "invoice_sent", "--set", "invoice_reference=INV-2291")
    before = run.snapshot()

    result = run(*invoice, "--set", "hourly_rate=150", "--set", "invoice_amount=1000", user=PM)

    assert result.exit_code == 3, describe(result)
    assert run.snapshot() == before
    assert (
        "the invoice is based on the estimate, estimate_hours × policies.support_hourly_rate "
        "(invoice_amount is 1000, estimate_hours × policy.support_hourly_rate is 900)"
    ) in one_line_error(result)
    result = run(*invoice, "--set", "hourly_rate=120", "--set", "invoice_amount=720", user=PM)
    assert result.exit_code == 3, describe(result)
    assert "(hourly_rate is 120, policy.support_hourly_rate is 150)" in one_line_error(result)

    data = run.json(*invoice, "--set", "hourly_rate=150", "--set", "invoice_amount=900", user=PM)
    assert data["to"] == "awaiting_payment"
    run.json("advance", request, "payment_received", "--set", "payment_reference=Wire 7781", user=ACCOUNTING)
    run.ok("check")


def test_product_compares_a_value_with_numbers_fields_and_policies() -> None:
    condition = {"amount": {"product": ["hours", "policy.rate", 2]}}
    values = {"amount": 300, "hours": 1.5}
    assert conditions.holds(condition, values, {"rate": 100})
    assert conditions.explain(condition, values, {"rate": 100}) == []
    assert not conditions.holds(condition, values, {"rate": 90})
    assert conditions.explain(condition, values, {"rate": 90}) == [
        "amount is 300, hours × policy.rate × 2 is 270"
    ]
    assert not conditions.holds(condition, {"amount": 300}, {"rate": 100})
    assert conditions.explain(condition, {"amount": 300}, {}) == [
        "amount is 300, hours × policy.rate × 2 is not a number"
    ]
