"""The default workflow's other request types, walked end to end through the CLI: ``bug`` (seed 001),
``support`` (seeds 002 and 004), ``doc_change`` (seed 003) and the ``config`` (CS) ticket it creates.

Each walk checks the owner after every assignment, the customer emails (exact subjects, as
``advance --json`` reports them), every gate and rule refusal (exit 3, store unchanged), role
refusals (exit 5) and ``erflow check`` on the store it leaves behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ACCOUNTING,
    CUSTOMER_EMAIL,
    DEV,
    PM,
    SUPPORT,
    Cli,
    commit_info,
    commits_since,
    describe,
    one_line_error,
)

from erflow.core import workflow
from erflow.store import workflow_file

# The people the default workflow adds for these types.
TRIAGE = "triage@example.com"
ONCALL_A = "oncall-a@example.com"
ONCALL_B = "oncall-b@example.com"
JESUS = "jesus@example.com"  # estimator
CS_TEAM = ["ana@example.com", "ben@example.com", "cho@example.com"]
KNOWLEDGE = "knowledge@example.com"

CUSTOMER = ("--customer-name", "Jane Doe", "--customer-email", CUSTOMER_EMAIL, "--customer-org", "Acme Corp")

SUBJECTS = {
    "bug_received": "Bug {id} - Received",
    "bug_office_hours": "Bug {id} - Invitation to Office Hours",
    "bug_rejected": "Bug {id} - Decision Update",
    "bug_prioritized": "Bug {id} - Prioritized",
    "bug_resolved": "Bug {id} - Resolved",
    "support_received": "Support Request {id} - Received",
    "support_clarification_required": "Support Request {id} - Clarification Required",
    "support_declined": "Support Request {id} - Declined",
    "support_invoice": "Support Request {id} - Invoice INV-2291",
    "support_resolved": "Support Request {id} - Resolved",
    "doc_not_eligible_subscription": "Document Change {id} - Premium or Pro Subscription Required",
    "doc_premium_one_document": "Document Change {id} - One Document on Premium",
    "doc_requester_not_admin": "Document Change {id} - Org Admin or Manager Approval Required",
    "doc_clarification_needed": "Document Change {id} - More Information Needed",
    "doc_ready_to_test_first": "Document Change {id} - Ready to Test on Onboard",
    "doc_ready_to_test_second": "Document Change {id} - Reminder: Ready to Test on Onboard",
    "doc_onboard_reset": "Document Change {id} - Onboard Resets Tonight",
    "doc_request_fulfilled": "Document Change {id} - Request Fulfilled",
    "config_initial_request": "Configuration Request {id} - Started",
}


def mail(template: str, ticket_id: str) -> dict[str, Any]:
    """One entry of ``emails`` in ``advance --json``: to the customer, recorded, not sent."""
    subject = f"[{ticket_id}] " + SUBJECTS[template].format(id=ticket_id)
    return {"template": template, "to": CUSTOMER_EMAIL, "subject": subject, "sent": False}


def step(run: Cli, ticket_id: str, transition: str, user: str, *extra: str, **sets: Any) -> dict[str, Any]:
    """``advance --json`` with ``--set`` for each keyword; must succeed."""
    args = [a for key, value in sets.items() for a in ("--set", f"{key}={value}")]
    data: dict[str, Any] = run.json("advance", ticket_id, transition, *args, *extra, user=user)
    return data


def refused(run: Cli, code: int, ticket_id: str, transition: str, user: str, *extra: str, **sets: Any) -> str:
    """An ``advance`` that must be refused with ``code``, changing nothing; its one-line error."""
    args = [a for key, value in sets.items() for a in ("--set", f"{key}={value}")]
    before = run.snapshot()
    result = run("advance", ticket_id, transition, *args, *extra, user=user)
    assert result.exit_code == code, describe(result)
    assert run.snapshot() == before
    return one_line_error(result)


def owner(run: Cli, ticket_id: str) -> str:
    return str(run.show(ticket_id)["owner"])


def default_type(run: Cli, name: str) -> workflow.TicketType:
    return workflow_file.load(run.root / "workflow.yaml").type(name)


def assert_every_state_reached(run: Cli, type_name: str) -> None:
    """Every state of the type was entered by some ticket of this store, as git's history says."""
    reached = {
        entry["changes"]["state"][1]
        for ticket in run.json("list", "--type", type_name)
        for entry in run.json("history", ticket["id"])
        if "state" in entry["changes"]
    }
    assert reached == set(default_type(run, type_name).states)


# ---------------------------------------------------------------------------------------------
# The shape every new type follows


@pytest.mark.parametrize("type_name", ["bug", "support", "doc_change", "config"])
def test_every_state_has_an_owner_role_and_a_label(run: Cli, store: Path, type_name: str) -> None:
    ticket_type = default_type(run, type_name)
    for state in ticket_type.states.values():
        assert state.owner, state.name
        assert state.label and state.label != state.name, state.name
    assert {s.name for s in ticket_type.states.values() if s.waiting == "customer"} == {
        "bug": {"office_hours"},
        "support": {"clarification_required", "awaiting_payment"},
        "doc_change": {"awaiting_customer", "on_hold", "delivered"},
        "config": set(),
    }[type_name]
    for transition in ticket_type.transitions:
        assert transition.roles and transition.label != transition.name, transition.name


def test_the_new_types_have_the_contracts_prefixes(run: Cli, store: Path) -> None:
    prefixes = {name: default_type(run, name).prefix for name in ("bug", "support", "doc_change", "config")}
    assert prefixes == {"bug": "BUG", "support": "SR", "doc_change": "DOC", "config": "CS"}
    classification = default_type(run, "support").fields["classification"]
    assert classification.values == ("Bug Fix", "Feature Request", "Enhancement", "Routine Maintenance")


# ---------------------------------------------------------------------------------------------
# bug (seed 001)


def new_bug(run: Cli, *sets: str, title: str = "Checkout button does nothing") -> tuple[str, dict[str, Any]]:
    args = [a for s in sets for a in ("--set", s)]
    data: dict[str, Any] = run.json("new", "bug", "--title", title, *CUSTOMER, *args, user=SUPPORT)
    return str(data["id"]), data


def test_a_bug_goes_through_triage_discovery_office_hours_and_a_fix_to_closed(run: Cli, store: Path) -> None:
    bug, created = new_bug(run, "severity=medium", "system=Checkout")
    assert bug.startswith("BUG-")
    assert created["state"] == "intake"
    assert created["emails"] == [mail("bug_received", bug)]
    assert owner(run, bug) == TRIAGE

    data = step(run, bug, "triage", TRIAGE)
    assert (data["from"], data["to"]) == ("intake", "discovery")
    assert owner(run, bug) == PM  # one owner, never a queue

    data = step(
        run,
        bug,
        "invite_to_office_hours",
        PM,
        office_hours_questions="Which browser and card type?",
        office_hours_slot="Thursday 15:00 UTC",
    )
    assert data["to"] == "office_hours"
    assert data["emails"] == [mail("bug_office_hours", bug)]
    text = run.ok("email", bug, "bug_office_hours", "--dry-run", user=PM).stdout
    assert "Thursday 15:00 UTC" in text and "Which browser and card type?" in text
    assert owner(run, bug) == PM

    data = step(run, bug, "office_hours_held", PM, office_hours_notes="Only Safari with saved cards")
    assert data["to"] == "discovery"

    data = step(
        run,
        bug,
        "prioritize",
        PM,
        discovery_notes="Safari blocks the payment iframe",
        tracking_ref="SHOP-481",
        planned_for="Sprint 48",
    )
    assert data["to"] == "prioritized"
    assert data["emails"] == [mail("bug_prioritized", bug)]
    assert run.show(bug)["tracking_ref"] == "SHOP-481"

    assert step(run, bug, "start_fix", DEV)["to"] == "in_progress"
    assert owner(run, bug) == DEV

    data = step(run, bug, "resolve", DEV, resolution_notes="Fixed in release 4.12")
    assert data["to"] == "resolved"
    assert data["emails"] == [mail("bug_resolved", bug)]  # the close-the-loop email, automatic
    assert owner(run, bug) == PM

    data = step(run, bug, "reopen", PM, "--note", "Still broken on iOS Safari")
    assert data["to"] == "discovery"
    for transition, user, sets in [
        ("prioritize", PM, {"tracking_ref": "SHOP-490", "planned_for": "Sprint 49"}),
        ("start_fix", DEV, {}),
        ("resolve", DEV, {"resolution_notes": "Fixed for iOS too"}),
        ("close", PM, {}),
    ]:
        step(run, bug, transition, user, **sets)
    assert run.state(bug) == "closed"

    rejected, _ = new_bug(run, "severity=low", title="Footer colour is slightly off")
    step(run, rejected, "triage", TRIAGE)
    data = step(
        run,
        rejected,
        "reject",
        PM,
        discovery_notes="Matches the brand guide",
        reject_reason="The colour follows the current brand guide",
    )
    assert data["to"] == "rejected"
    assert data["emails"] == [mail("bug_rejected", rejected)]
    text = run.ok("email", rejected, "bug_rejected", "--dry-run", user=PM).stdout
    assert "The colour follows the current brand guide" in text

    critical, _ = new_bug(run, "severity=critical", title="Payments down")
    step(run, critical, "escalate_on_call", ONCALL_A)
    assert_every_state_reached(run, "bug")
    run.ok("check")


def test_a_critical_bug_goes_straight_to_on_call_by_the_rota(run: Cli, store: Path) -> None:
    first, _ = new_bug(run, "severity=critical", title="Payments down")
    second, _ = new_bug(run, "severity=critical", title="Login down")
    assert [owner(run, first), owner(run, second)] == [ONCALL_A, ONCALL_B]
    assert "with our on-call engineer" in run.ok("email", first, "bug_received", "--dry-run", user=PM).stdout

    data = step(run, first, "escalate_on_call", TRIAGE)
    assert (data["from"], data["to"]) == ("intake", "on_call")
    assert owner(run, first) == ONCALL_A  # the on-call engineer who has it keeps it

    data = step(run, first, "resolve", ONCALL_A, resolution_notes="Rolled back the payment gateway config")
    assert data["to"] == "resolved"
    assert data["emails"] == [mail("bug_resolved", first)]

    step(run, second, "escalate_on_call", ONCALL_B)
    data = step(run, second, "hand_off", ONCALL_B, mitigation_notes="Restarted the auth service")
    assert data["to"] == "discovery"
    assert owner(run, second) == PM
    run.ok("check")


def test_a_bug_found_critical_in_discovery_goes_to_an_on_call_engineer(run: Cli, store: Path) -> None:
    bug, _ = new_bug(run, "severity=high")
    step(run, bug, "triage", TRIAGE)
    assert owner(run, bug) == PM

    data = step(run, bug, "escalate_on_call", PM, severity="critical")

    assert data["to"] == "on_call"
    assert owner(run, bug) == ONCALL_A


def test_only_critical_bugs_take_the_off_ramp_and_critical_ones_skip_triage(run: Cli, store: Path) -> None:
    bug, _ = new_bug(run, "severity=high")
    line = refused(run, 3, bug, "escalate_on_call", TRIAGE)
    assert "only critical bugs go to on-call" in line

    critical, _ = new_bug(run, "severity=critical")
    line = refused(run, 3, critical, "triage", TRIAGE)
    assert "escalate_on_call" in line


def test_bug_gates_and_roles(run: Cli, store: Path) -> None:
    bug = run.ok("new", "bug", "--title", "Search is slow", user=SUPPORT).stdout.strip()
    assert owner(run, bug) == TRIAGE
    line = refused(run, 3, bug, "triage", TRIAGE)
    assert "missing: severity, customer_name, customer_email" in line
    assert "severity" in refused(run, 3, bug, "escalate_on_call", TRIAGE)
    refused(run, 5, bug, "triage", DEV, severity="low")
    run.ok("set", bug, "customer_name=Jane Doe", f"customer_email={CUSTOMER_EMAIL}", user=SUPPORT)
    step(run, bug, "triage", TRIAGE, severity="low")

    assert "missing: reject_reason" in refused(run, 3, bug, "reject", PM, discovery_notes="x")
    line = refused(run, 3, bug, "prioritize", PM, discovery_notes="x")
    assert "missing: tracking_ref, planned_for" in line
    refused(run, 5, bug, "prioritize", DEV, discovery_notes="x", tracking_ref="SHOP-1", planned_for="now")
    line = refused(run, 3, bug, "invite_to_office_hours", PM, office_hours_slot="Thu")
    assert "missing in this step (--set): office_hours_questions" in line
    assert "does not leave state" in refused(run, 3, bug, "resolve", DEV, resolution_notes="x")

    before = run.snapshot()
    result = run("set", bug, "tracking_ref=SHOP-9", user=PM)
    assert result.exit_code == 3, describe(result)
    assert "prioritize" in one_line_error(result)
    assert run.snapshot() == before


# ---------------------------------------------------------------------------------------------
# support (seeds 002 and 004)


def new_request(run: Cli, *sets: str, title: str = "Nightly export fails") -> tuple[str, dict[str, Any]]:
    args = [a for s in sets for a in ("--set", s)]
    data: dict[str, Any] = run.json("new", "support", "--title", title, *CUSTOMER, *args, user=SUPPORT)
    return str(data["id"]), data


def request_in_progress(run: Cli, *sets: str) -> str:
    """A support request classified, scoped, estimated, invoiced and paid: development under way."""
    request, _ = new_request(run, "priority=high", *sets)
    step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")
    step(run, request, "scope_confirmed", PM, scope_summary="Export all invoices nightly")
    step(run, request, "estimated", JESUS, estimate_hours="6")
    step(
        run,
        request,
        "invoice_sent",
        PM,
        hourly_rate="150",
        invoice_reference="INV-2291",
        invoice_amount="900",
    )
    step(run, request, "payment_received", ACCOUNTING, payment_reference="Wire 7781")
    step(run, request, "start_work", DEV)
    return request


def test_a_support_request_is_classified_scoped_estimated_invoiced_paid_worked_and_closed(
    run: Cli, store: Path
) -> None:
    request, created = new_request(run)
    assert request.startswith("SR-")
    assert created["emails"] == [mail("support_received", request)]
    assert owner(run, request) == PM

    data = step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")
    assert data["to"] == "scoping"
    assert owner(run, request) == PM

    data = step(run, request, "request_clarification", PM, clarification_needed="Which export format?")
    assert data["to"] == "clarification_required"
    assert data["emails"] == [mail("support_clarification_required", request)]
    text = run.ok("email", request, "support_clarification_required", "--dry-run", user=PM).stdout
    assert "Which export format?" in text
    data = step(run, request, "clarification_received", PM, clarification_response="CSV, all columns")
    assert data["to"] == "scoping"

    assert step(run, request, "scope_confirmed", PM, scope_summary="Nightly CSV export")["to"] == "estimating"
    assert owner(run, request) == JESUS
    assert step(run, request, "scope_unclear", JESUS, "--note", "Which time zone?")["to"] == "scoping"
    step(run, request, "scope_confirmed", PM, scope_summary="Nightly CSV export, UTC")
    assert owner(run, request) == JESUS

    data = step(run, request, "estimated", JESUS, estimate_hours="6")
    assert data["to"] == "invoicing"
    assert owner(run, request) == PM  # back to the PM

    data = step(
        run,
        request,
        "invoice_sent",
        PM,
        hourly_rate="150",
        invoice_reference="INV-2291",
        invoice_amount="900",
    )
    assert data["to"] == "awaiting_payment"
    assert data["emails"] == [mail("support_invoice", request)]
    assert owner(run, request) == ACCOUNTING
    invoice = run.ok("email", request, "support_invoice", "--dry-run", user=PM).stdout
    assert "6 hours at 150.00 per hour = 900.00" in invoice
    assert "billable" in run.show(request)["labels"]

    assert step(run, request, "payment_received", ACCOUNTING, payment_reference="Wire 7781")["to"] == (
        "ready_for_work"
    )
    assert owner(run, request) == DEV
    assert step(run, request, "start_work", DEV)["to"] == "in_progress"

    run.ok("log-time", request, "3h", "--billable", "--note", "Export job", user=DEV)
    logged = run.json("log-time", request, "30m", "--note", "Internal review", user=DEV)
    assert logged["changes"] == {"hours": [None, 3.5], "billable_hours": [None, 3.0]}
    body = run.show(request)["body"]
    assert "## Time" in body and "Export job" in body and "Internal review" in body

    data = step(
        run, request, "resolve", DEV, resolution="completed", resolution_notes="Export runs at 02:00 UTC"
    )
    assert data["to"] == "resolved"
    assert data["emails"] == [mail("support_resolved", request)]
    assert data["created"] == []
    assert owner(run, request) == PM

    data = step(run, request, "publish_article", KNOWLEDGE, article_summary="How nightly exports work")
    assert (data["from"], data["to"]) == ("resolved", "resolved")
    assert step(run, request, "close", PM)["to"] == "closed"

    declined, _ = new_request(run, title="Rewrite the app in COBOL")
    step(run, declined, "classify", PM, classification="Feature Request", product="Billing Portal")
    data = step(run, declined, "decline", PM, decline_reason="Out of scope for support")
    assert (data["to"], data["emails"]) == ("declined", [mail("support_declined", declined)])

    unpaid, _ = new_request(run, title="Bulk import")
    step(run, unpaid, "classify", PM, classification="Enhancement", product="Billing Portal")
    step(run, unpaid, "scope_confirmed", PM, scope_summary="Bulk import")
    step(run, unpaid, "estimated", JESUS, estimate_hours="2")
    step(
        run, unpaid, "invoice_sent", PM, hourly_rate="150", invoice_reference="INV-2291", invoice_amount="300"
    )
    step(run, unpaid, "cancel", ACCOUNTING, "--note", "Invoice not paid in 60 days")

    assert_every_state_reached(run, "support")
    run.ok("check")


def test_support_requests_are_routed_by_classification(run: Cli, store: Path) -> None:
    routine, _ = new_request(run)
    step(run, routine, "classify", PM, classification="Routine Maintenance", product="Billing Portal")
    assert owner(run, routine) == "support"  # the support queue
    step(run, routine, "request_clarification", SUPPORT, clarification_needed="Which server?")
    assert owner(run, routine) == "support"

    feature, _ = new_request(run)
    step(run, feature, "classify", PM, classification="Feature Request", product="Billing Portal")
    assert owner(run, feature) == PM


def test_no_development_before_payment(run: Cli, store: Path) -> None:
    request, _ = new_request(run)
    step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")
    step(run, request, "scope_confirmed", PM, scope_summary="Fix it")

    refused(run, 5, request, "estimated", PM, estimate_hours="6")
    assert "missing: estimate_hours" in refused(run, 3, request, "estimated", JESUS)
    step(run, request, "estimated", JESUS, estimate_hours="6")
    line = refused(run, 3, request, "invoice_sent", PM, invoice_reference="INV-1")
    assert "missing: hourly_rate, invoice_amount" in line
    step(
        run,
        request,
        "invoice_sent",
        PM,
        hourly_rate="150",
        invoice_reference="INV-2291",
        invoice_amount="900",
    )

    assert "does not leave state" in refused(run, 3, request, "start_work", DEV)
    assert "missing: payment_reference" in refused(run, 3, request, "payment_received", ACCOUNTING)
    refused(run, 5, request, "payment_received", DEV, payment_reference="trust me")

    before = run.snapshot()
    result = run("set", request, "payment_reference=Wire 1", user=PM)
    assert result.exit_code == 3, describe(result)
    assert "payment_received" in one_line_error(result)
    result = run("set", request, "estimate_hours=1", user=PM)
    assert result.exit_code == 3, describe(result)
    assert run.snapshot() == before

    step(run, request, "payment_received", ACCOUNTING, payment_reference="Wire 7781")
    # Even a hand edit that removes the payment cannot start development.
    path = run.path(request)
    path.write_text(path.read_text(encoding="utf-8").replace("payment_reference: Wire 7781\n", ""))
    run.commit_all("hand edit: drop the payment")
    line = refused(run, 3, request, "start_work", DEV)
    assert "no development before payment" in line


def test_support_gates_on_scoping_resolution_and_the_knowledge_article(run: Cli, store: Path) -> None:
    before = run.snapshot()
    result = run("new", "support", "--title", "No contact", user=SUPPORT)
    assert result.exit_code == 3, describe(result)
    assert "customer_name, customer_email" in one_line_error(result)
    assert run.snapshot() == before

    request, _ = new_request(run)
    assert "missing: classification, product" in refused(run, 3, request, "classify", PM)
    refused(run, 5, request, "classify", DEV, classification="Bug Fix", product="Billing Portal")
    step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")
    assert "clarification_needed" in refused(run, 3, request, "request_clarification", PM)
    line = refused(run, 3, request, "resolve", PM, resolution="completed", resolution_notes="Done")
    assert "completed work needs an estimate" in line
    line = refused(run, 3, request, "resolve", PM, resolution="defect", resolution_notes="Our bug")
    assert "missing: defect_severity" in line
    step(run, request, "resolve", PM, resolution="answered", resolution_notes="Use the filter")
    assert "missing: article_summary" in refused(run, 3, request, "publish_article", KNOWLEDGE)
    refused(run, 5, request, "publish_article", DEV, article_summary="x")


def test_a_request_resolved_as_a_defect_creates_a_linked_bug_in_one_commit(run: Cli, store: Path) -> None:
    request = request_in_progress(run)
    before = run.head()

    data = step(
        run,
        request,
        "resolve",
        DEV,
        resolution="defect",
        resolution_notes="The export drops rows with a null date",
        defect_severity="high",
    )

    (bug,) = data["created"]
    assert bug.startswith("BUG-")
    assert data["emails"] == [mail("support_resolved", request), mail("bug_received", bug)]
    assert commits_since(run.root, before) == [data["commit"]]
    info = commit_info(run.root)
    assert info.trailers["Erflow-Created"] == [bug]
    assert set(info.trailers["Erflow-Ticket"]) == {request, bug}
    assert len(info.files) == 2

    created = run.show(bug)
    assert created["state"] == "intake"
    assert created["owner"] == TRIAGE
    assert created["title"] == "Nightly export fails"
    assert (created["customer"], created["customer_name"], created["customer_email"]) == (
        "Acme Corp",
        "Jane Doe",
        CUSTOMER_EMAIL,
    )
    assert (created["priority"], created["severity"], created["system"], created["source"]) == (
        "high",
        "high",
        "Billing Portal",
        "support",
    )
    assert created["impact"] == "The export drops rows with a null date"
    assert created["links"] == [f"created_by {request}"]
    assert run.show(request)["links"] == [f"creates {bug}"]
    text = run.ok("email", request, "support_resolved", "--dry-run", user=PM).stdout
    assert "defect in our product" in text

    text = run.ok("email", bug, "bug_received", "--dry-run", user=PM).stdout
    assert "found while working on your support request" in text
    step(run, bug, "triage", TRIAGE)  # the bug goes on through its own process
    assert owner(run, bug) == PM
    run.ok("check")


def test_a_critical_defect_found_while_scoping_goes_to_on_call(run: Cli, store: Path) -> None:
    request, _ = new_request(run)
    step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")

    data = step(
        run,
        request,
        "resolve",
        SUPPORT,
        resolution="defect",
        resolution_notes="Every invoice total is wrong",
        defect_severity="critical",
    )

    (bug,) = data["created"]
    assert owner(run, bug) == ONCALL_A
    assert run.show(request)["state"] == "resolved"


# ---------------------------------------------------------------------------------------------
# doc_change (seed 003) and its config (CS) ticket

FORM: dict[str, Any] = {
    "subject": "Document Survey: Acme Corp",
    "organization": "Acme Corp",
    "customer_name": "Jane Doe",
    "customer_email": CUSTOMER_EMAIL,
    "subscription": "Premium",
    "document_count": 1,
    "requester_role": "org_admin",
    "wants_to_test": False,
    "description": "Add our financing addendum to the purchase agreement.",
}


def new_doc(run: Cli, tmp_path: Path, **changes: Any) -> str:
    form = {**FORM, **changes}
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form), encoding="utf-8")
    data: dict[str, Any] = run.json("new", "doc_change", "--from", str(path), user=SUPPORT)
    assert data["emails"] == []
    return str(data["id"])


def configured_doc(run: Cli, tmp_path: Path, **changes: Any) -> tuple[str, str]:
    """A doc_change checked and in needs_configuration; its id and its config ticket's."""
    doc = new_doc(run, tmp_path, **changes)
    step(run, doc, "check_eligibility", SUPPORT)
    data = step(run, doc, "needs_configuration", SUPPORT)
    (config,) = data["created"]
    return doc, config


def test_a_doc_change_comes_from_a_form(run: Cli, store: Path, tmp_path: Path) -> None:
    doc = new_doc(run, tmp_path)

    ticket = run.show(doc)
    assert doc.startswith("DOC-")
    assert ticket["title"] == "Document Survey: Acme Corp"
    assert ticket["customer"] == "Acme Corp"
    assert (ticket["subscription"], ticket["document_count"], ticket["requester_role"]) == (
        "Premium",
        1,
        "org_admin",
    )
    assert ticket["wants_to_test"] is False
    assert "financing addendum" in ticket["body"]
    assert (ticket["state"], ticket["owner"]) == ("submitted", SUPPORT)

    path = tmp_path / "form.json"
    path.write_text(json.dumps({**FORM, "organization": None}), encoding="utf-8")
    before = run.snapshot()
    result = run("new", "doc_change", "--from", str(path), user=SUPPORT)
    assert result.exit_code == 3, describe(result)
    assert "customer" in one_line_error(result)
    assert run.snapshot() == before


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"subscription": "Basic"}, "subscription must be Premium or Pro"),
        ({"document_count": 3}, "Premium allows one document only"),
        ({"requester_role": "member"}, "the requester must be an org admin or manager"),
    ],
)
def test_eligibility_refusals_name_what_is_missing(
    run: Cli, store: Path, tmp_path: Path, form: dict[str, Any], reason: str
) -> None:
    doc = new_doc(run, tmp_path, **form)

    line = refused(run, 3, doc, "check_eligibility", SUPPORT)

    assert reason in line
    others = {
        "subscription must be Premium or Pro",
        "Premium allows one document only",
        "the requester must be an org admin or manager",
    } - {reason}
    assert not any(other in line for other in others)
    (check,) = [t for t in run.json("transitions", doc, user=SUPPORT) if t["name"] == "check_eligibility"]
    assert check["allowed"] is False
    assert any(reason in r for r in check["reasons"])


def test_every_unmet_requirement_is_named_at_once(run: Cli, store: Path, tmp_path: Path) -> None:
    doc = new_doc(run, tmp_path, subscription="Free", requester_role="member", document_count=None)
    line = refused(run, 3, doc, "check_eligibility", SUPPORT)
    assert "missing: document_count" in line
    assert "subscription must be Premium or Pro" in line
    assert "the requester must be an org admin or manager" in line
    assert "Premium allows" not in line


def test_a_pro_account_may_change_several_documents(run: Cli, store: Path, tmp_path: Path) -> None:
    doc = new_doc(run, tmp_path, subscription="Pro", document_count=4, requester_role="manager")
    assert step(run, doc, "check_eligibility", SUPPORT)["to"] == "eligible"


def test_an_ineligible_request_gets_the_canned_response_for_what_is_missing(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc = new_doc(run, tmp_path, requester_role="member")

    line = refused(
        run, 3, doc, "requirements_not_met", SUPPORT, canned_response="doc_not_eligible_subscription"
    )
    assert "the canned response must name a requirement this request does not meet" in line
    assert "missing in this step (--set): canned_response" in refused(
        run, 3, doc, "requirements_not_met", SUPPORT
    )
    refused(run, 5, doc, "requirements_not_met", CS_TEAM[0], canned_response="doc_requester_not_admin")

    data = step(run, doc, "requirements_not_met", SUPPORT, canned_response="doc_requester_not_admin")
    assert data["to"] == "awaiting_customer"
    assert data["emails"] == [mail("doc_requester_not_admin", doc)]
    assert owner(run, doc) == SUPPORT

    # Support may send any canned response by hand, as the seed's "Canned Responses" field does.
    sent = run.json("email", doc, "doc_premium_one_document", user=SUPPORT)
    assert sent["subject"] == f"[{doc}] " + SUBJECTS["doc_premium_one_document"].format(id=doc)
    assert "email doc_premium_one_document" in run.show(doc)["body"]

    data = step(
        run,
        doc,
        "requirements_not_met",
        SUPPORT,
        canned_response="doc_clarification_needed",
        clarification_needed="Who is the org admin at Acme Corp?",
    )
    assert data["emails"] == [mail("doc_clarification_needed", doc)]
    assert "missing in this step (--set): canned_response" in refused(
        run, 3, doc, "requirements_not_met", SUPPORT
    )

    assert "org admin or manager" in refused(run, 3, doc, "check_eligibility", SUPPORT)
    data = step(run, doc, "check_eligibility", SUPPORT, requester_role="org_admin")
    assert (data["from"], data["to"]) == ("awaiting_customer", "eligible")

    other = new_doc(run, tmp_path, subscription="Basic")
    for canned in ("doc_premium_one_document", "doc_requester_not_admin"):
        refused(run, 3, other, "requirements_not_met", SUPPORT, canned_response=canned)
    data = step(run, other, "requirements_not_met", SUPPORT, canned_response="doc_not_eligible_subscription")
    assert data["emails"] == [mail("doc_not_eligible_subscription", other)]
    assert "note is required" in refused(run, 3, other, "decline", SUPPORT)
    assert step(run, other, "decline", SUPPORT, "--note", "No upgrade planned")["to"] == "declined"
    run.ok("check")


def test_a_doc_change_without_a_test_is_configured_published_and_closed(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc = new_doc(run, tmp_path)
    assert step(run, doc, "check_eligibility", SUPPORT)["to"] == "eligible"
    before = run.head()

    data = step(run, doc, "needs_configuration", SUPPORT)

    (config,) = data["created"]
    assert config.startswith("CS-")
    assert data["to"] == "needs_configuration"
    assert data["emails"] == [mail("config_initial_request", config)]
    assert commits_since(run.root, before) == [data["commit"]]
    assert set(commit_info(run.root).trailers["Erflow-Ticket"]) == {doc, config}
    cs = run.show(config)
    assert (cs["state"], cs["owner"]) == ("open", CS_TEAM[0])
    assert (cs["component"], cs["configuration"], cs["document_count"]) == ("Acme Corp", "Docs", 1)
    assert cs["links"] == [f"created_by {doc}"]
    assert "financing addendum" in cs["body"]
    assert run.show(doc)["links"] == [f"creates {config}"]
    assert owner(run, doc) == SUPPORT

    refused(run, 5, doc, "publish", SUPPORT)
    data = step(run, doc, "publish", CS_TEAM[0])
    assert data["to"] == "delivered"
    assert data["emails"] == [mail("doc_request_fulfilled", doc)]
    assert run.state(config) == "done"  # the CS ticket follows its doc ticket (follows: in workflow.yaml)
    assert step(run, doc, "close", SUPPORT)["to"] == "closed"
    assert owner(run, config) == CS_TEAM[0]
    run.ok("check")


def test_the_onboard_test_loop_repeats_until_the_customer_confirms(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc, _ = configured_doc(run, tmp_path, wants_to_test=True)
    line = refused(run, 3, doc, "publish", CS_TEAM[0])
    assert "the customer tests on Onboard first" in line

    data = step(run, doc, "ready_to_test", CS_TEAM[0])
    assert data["to"] == "on_hold"
    assert data["emails"] == [mail("doc_ready_to_test_first", doc)]
    assert owner(run, doc) == SUPPORT

    assert "note is required" in refused(run, 3, doc, "customer_reported_issue", SUPPORT)
    data = step(run, doc, "customer_reported_issue", SUPPORT, "--note", "The logo is cut off on page 2")
    assert data["to"] == "todo"
    assert owner(run, doc) == "cs"  # the CS queue
    assert "The logo is cut off on page 2" in run.show(doc)["body"]
    assert "Onboard first" in refused(run, 3, doc, "publish", CS_TEAM[1])

    step(run, doc, "ready_to_test", CS_TEAM[1])
    assert "send the second email first" in refused(run, 3, doc, "hand_over", SUPPORT)
    reminder = run.json("email", doc, "doc_onboard_reset", user=SUPPORT)  # the Monday reminder
    assert reminder["subject"] == f"[{doc}] " + SUBJECTS["doc_onboard_reset"].format(id=doc)

    data = step(run, doc, "customer_confirmed", SUPPORT, "--note", "Looks good, ship it")
    assert data["to"] == "todo"
    data = step(run, doc, "publish", CS_TEAM[1])
    assert (data["to"], data["emails"]) == ("delivered", [mail("doc_request_fulfilled", doc)])

    data = step(run, doc, "customer_reported_issue", SUPPORT, "--note", "Typo in clause 4")
    assert data["to"] == "todo"
    step(run, doc, "ready_to_test", CS_TEAM[1])

    # No reply: the second email after 3 days, then one more day and CS publishes.
    data = step(run, doc, "nudge", SUPPORT)
    assert (data["from"], data["to"]) == ("on_hold", "on_hold")
    assert data["emails"] == [mail("doc_ready_to_test_second", doc)]
    assert "already sent" in refused(run, 3, doc, "nudge", SUPPORT)
    assert step(run, doc, "hand_over", SUPPORT, "--note", "No reply: put it onto Engine")["to"] == "todo"
    step(run, doc, "publish", CS_TEAM[1])
    step(run, doc, "close", SUPPORT)

    declined = new_doc(run, tmp_path, subscription="Free")
    step(run, declined, "requirements_not_met", SUPPORT, canned_response="doc_not_eligible_subscription")
    step(run, declined, "decline", SUPPORT, "--note", "Stays on Free")
    assert_every_state_reached(run, "doc_change")
    run.ok("check")


def test_configuration_tickets_go_to_the_cs_member_with_the_fewest_open(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    configs = [configured_doc(run, tmp_path, organization=f"Org {n}")[1] for n in range(3)]
    owners = [owner(run, c) for c in configs]
    assert sorted(owners) == sorted(CS_TEAM)
    assert [run.show(c)["component"] for c in configs] == ["Org 0", "Org 1", "Org 2"]

    # Ben finishes his; the next configuration ticket is his.
    (bens,) = [c for c in configs if owner(run, c) == CS_TEAM[1]]
    step(run, bens, "configured", CS_TEAM[1])
    _, fourth = configured_doc(run, tmp_path, organization="Org 3")
    assert owner(run, fourth) == CS_TEAM[1]
    refused(run, 5, fourth, "configured", SUPPORT)
    assert_every_state_reached(run, "config")
    run.ok("check")


def test_the_history_of_a_configuration_ticket_starts_with_its_creation(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    _, config = configured_doc(run, tmp_path)
    (created,) = run.json("history", config)
    assert (created["from"], created["to"]) == (None, "open")


def test_doc_change_roles(run: Cli, store: Path, tmp_path: Path) -> None:
    doc = new_doc(run, tmp_path)
    refused(run, 5, doc, "check_eligibility", CS_TEAM[0])
    step(run, doc, "check_eligibility", SUPPORT)
    refused(run, 5, doc, "needs_configuration", CS_TEAM[0])
    # An edit after the check cannot slip past the eligibility rules.
    run.ok("set", doc, "subscription=Basic", user=SUPPORT)
    assert "subscription must be Premium or Pro" in refused(run, 3, doc, "needs_configuration", SUPPORT)
