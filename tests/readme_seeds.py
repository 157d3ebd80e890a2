"""README's "The seeds, rule by rule": each rule of the five seeds, the workflow.yaml lines that
express it (found by the text they quote) and the test that plays it. ``python tests/readme_seeds.py``
rewrites the section in README.md after workflow.yaml moves; tests/test_readme_seeds.py fails until it
is current."""

# ruff: noqa: E501  (a table of rules: one row a line)
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WF = (ROOT / "erflow" / "defaults" / "workflow.yaml").read_text(encoding="utf-8").splitlines()
SECTION = "### The seeds, rule by rule"


def line(snippet: str, after: str | None = None) -> int:
    start = 0
    if after:
        start = next(n for n, text in enumerate(WF) if after in text)
    for i in range(start, len(WF)):
        if snippet in WF[i]:
            return i + 1
    raise LookupError(f"workflow.yaml no longer says {snippet!r} (after {after!r})")


def ref(snippet: str, after: str | None = None) -> str:
    return f"`workflow.yaml:{line(snippet, after)}` `{snippet.strip()}`"


E = "  enhancement:"
B = "  bug:"
S = "  support:"
D = "  doc_change:"
C = "  config:"
N = "notifications:"
ROWS: dict[str, list[tuple[str, list[tuple[str, str | None]], str]]] = {
    "Seed 000 — Enhancement Request Review & Implementation SOP (type `enhancement`)": [
        (
            "Stage 1: required fields Product, Priority, Business Value before review",
            [("requires: [product, priority, business_value, customer_email]", E)],
            "test_sop_paths.py::test_non_billable_request_walks_from_intake_to_closed",
        ),
        (
            "Stage 1: auto-send the Intake Acknowledgement",
            [("- template: intake_acknowledgement", E)],
            "test_sop_paths.py::test_non_billable_request_walks_from_intake_to_closed",
        ),
        (
            "Stage 1: validate that existing configuration cannot fulfil the request (else close it, telling the customer how)",
            [("- require: {config_checked: true}", E), ("- name: config_solves_it", E)],
            "test_seed_rules.py::test_approval_waits_for_the_configuration_check_and_configuration_can_close_it",
        ),
        (
            "Stage 2: PM Validation Needs Info → “More Info Needed” email, pending; the customer's reply brings it back",
            [("emails: [pm_more_info]", E), ("on_reply: info_received", E)],
            "test_mail_in.py::test_round_trip_acknowledgement_reply_threaded_moved_and_answered",
        ),
        (
            "Stage 3: the Board decides, with its rationale",
            [("- name: approve_no_quote", E), ("requires: [board_rationale]", E)],
            "test_sop_paths.py::test_board_approval_emails_follow_the_board_emails_policy",
        ),
        (
            "FAQ: no customer email at the Board stage or for Deferred (policy)",
            [
                ("board_emails: false", None),
                ("when: {policy.board_emails: true}", E),
                ("when: {policy.deferred_emails: true}", E),
            ],
            "test_sop_paths.py::test_defer_sends_nothing_and_reconsider_returns_to_the_board",
        ),
        (
            "Stage 4 and FAQ: a Board decline reaches the customer, with the reason, once Leadership confirms it",
            [("to: decline_review", E), ("- name: confirm_decline", E), ("emails: [board_declined]", E)],
            "test_seed_rules_000.py::test_a_board_decline_reaches_the_customer_with_its_reason_once_leadership_confirms",
        ),
        (
            "Deferred: on the review date the Board is reminded and sees it in its reminders",
            [("- {name: review_date_reached", E)],
            "test_seed_rules_000.py::test_the_board_is_reminded_on_a_deferred_requests_review_quarter",
        ),
        (
            "Stage 4: Leadership sets Scheduled / Unscheduled / Quote / Declined / Returned, each with its email",
            [
                ("set: {leadership_status: scheduled}", E),
                ("emails: [leadership_declined]", E),
                ("requires: [return_feedback]", E),
            ],
            "test_sop_paths.py::test_leadership_decline_sends_the_final_decision_with_the_reason",
        ),
        (
            "The Board and Leadership are told when a request reaches them",
            [("- {event: role_needed, states: [product_board, leadership, decline_review]", N)],
            "test_reminders.py::test_a_board_member_sees_product_board_tickets_as_needing_their_role",
        ),
        (
            "Quote step 0: a billable label and field as the source of truth; quoted work is Priority 1",
            [("set: {leadership_status: quote, billable: true, dev_priority: 1}", E)],
            "test_sop_paths.py::test_billable_request_walks_through_quote_payment_and_qa_to_ready_for_billing",
        ),
        (
            "Quote steps 1–5: scope, estimate, quote (declined: cancelled), SOW, payment when required",
            [
                ("requires: [scope_baseline, acceptance_criteria, assumptions]", E),
                ("- {when: {payment_required: true}, to: payment}", E),
            ],
            "test_sop_paths.py::test_declined_quote_cancels_the_request",
        ),
        (
            "Quote step 6: Definition of Ready blocks development",
            [("fields: [sow_link, acceptance_criteria, assumptions]", E)],
            "test_sop_paths.py::test_billable_request_walks_through_quote_payment_and_qa_to_ready_for_billing",
        ),
        (
            "Quote step 10: change control",
            [("- name: change_request", E)],
            "test_sop_paths.py::test_change_request_affecting_deliverables_needs_estimate_addendum_and_customer_approval",
        ),
        (
            "Stage 6: bumped items become Development Priority 2",
            [("set: {dev_priority: 2}", E)],
            "test_sop_paths.py::test_bump_sends_a_scheduled_ticket_back_with_development_priority_two",
        ),
        (
            "Stage 6: the PM shares the schedule (only quoted items are promised)",
            [("emails: [schedule_confirmation]", E)],
            "test_seed_rules.py::test_plan_shares_the_schedule_and_promises_only_quoted_items",
        ),
        (
            "Stage 7: notify at development start and delivery",
            [("emails: [development_started]", E), ("emails: [delivered]", E)],
            "test_sop_paths.py::test_non_billable_request_walks_from_intake_to_closed",
        ),
        (
            "Stage 7: non-billable work passes QA too, when the workflow says so",
            [
                ("qa_non_billable: false", None),
                ("- require: {any: [{billable: true}, {policy.qa_non_billable: true}]}", E),
            ],
            "test_seed_rules_000.py::test_with_qa_non_billable_non_billable_work_passes_qa_before_going_live",
        ),
        (
            "Stage 7: close as Ready for Billing (billable) or Closed (non-billable)",
            [("- name: mark_ready_for_billing", E)],
            "test_sop_paths.py::test_billable_request_walks_through_quote_payment_and_qa_to_ready_for_billing",
        ),
        (
            "Quote step 12: an Implementation ticket as the parent when rollout may lag",
            [("when: {rollout_may_lag: true}", E), ("  implementation:", None)],
            "test_seed_rules_000.py::test_ready_for_billing_makes_an_implementation_ticket_the_parent_when_rollout_may_lag",
        ),
        (
            "Ownership: the PM (Destyn) signs the customer emails",
            [("sender_name: Destyn Dagle", E)],
            "test_seed_rules_000.py::test_a_types_sender_signs_its_emails_or_the_owner_does",
        ),
    ],
    "Seed 001 — bug intake (type `bug`)": [
        (
            "A severity hierarchy with SLAs",
            [("- {when: {severity: critical}, clock: calendar, response: 1h, resolution: 8h}", B)],
            "test_default_timers.py::test_an_untriaged_high_bug_breaches_its_response_sla_after_four_business_hours",
        ),
        (
            "The off-ramp: critical issues go to on-call",
            [
                ("- {when: {severity: critical}, role: oncall, rule: round_robin}", B),
                ("- name: escalate_on_call", B),
            ],
            "test_other_types.py::test_a_critical_bug_goes_straight_to_on_call_by_the_rota",
        ),
        (
            "On-call is whoever holds the `oncall` role (a rota), not ids",
            [("assign: {rule: round_robin, keep: true}", B)],
            "test_seed_rules_ops.py::test_a_third_on_call_engineer_joins_the_rota_by_being_listed_under_people",
        ),
        (
            "A critical bug breaching its SLA outside business hours pages on-call and keeps its owner",
            [
                ("- {when: {severity: critical}, rule: unchanged}", B),
                ("hours: outside, to: on_call, template: staff_paged", N),
            ],
            "test_notifications.py::test_a_critical_bug_breaching_at_night_pages_the_on_call_person_of_that_week",
        ),
        (
            "Triage gives single-threaded ownership, and the owner is told",
            [("assign: {role: pm, rule: fewest_open}", B), ("- {event: assigned,", N)],
            "test_notifications.py::test_assigned_on_advance_reaches_the_new_owner_not_the_actor",
        ),
        (
            "Discovery: the submitter is invited to office hours",
            [("emails: [bug_office_hours]", B)],
            "test_other_types.py::test_a_bug_goes_through_triage_discovery_office_hours_and_a_fix_to_closed",
        ),
        (
            "Reject with a reason the submitter is told",
            [("requires: [discovery_notes, reject_reason]", B), ("emails: [bug_rejected]", B)],
            "test_seed_rules_ops.py::test_rejecting_a_bug_tells_the_submitter_the_reason",
        ),
        (
            "Prioritize with a tracking story",
            [("requires: [discovery_notes, tracking_ref, planned_for]", B)],
            "test_other_types.py::test_a_bug_goes_through_triage_discovery_office_hours_and_a_fix_to_closed",
        ),
        (
            "Close the loop with the submitter on resolution",
            [("- template: bug_resolved", B)],
            "test_other_types.py::test_a_bug_goes_through_triage_discovery_office_hours_and_a_fix_to_closed",
        ),
        (
            "Emails are signed by the bug's owner",
            [('sender_name: "{owner}"', B)],
            "test_seed_rules_000.py::test_the_other_types_emails_are_signed_by_the_tickets_owner_not_the_seed_000_pm",
        ),
    ],
    "Seed 002 — support and maintenance requests (type `support`)": [
        (
            "Step 1: the PM classifies (Bug Fix, Feature Request, Enhancement, Routine Maintenance)",
            [("requires: [classification, product]", S)],
            "test_other_types.py::test_a_support_request_is_classified_scoped_estimated_invoiced_paid_worked_and_closed",
        ),
        (
            "Step 2: ask the client; the client's reply fills the clarification",
            [
                ("emails: [support_clarification_required]", S),
                ("on_reply: {transition: clarification_received, field: clarification_response}", S),
            ],
            "test_mail_in.py::test_a_clarification_by_email_fills_the_field_its_state_names_and_moves_the_request",
        ),
        (
            "Step 3: to the estimator (Jesus) for development hours",
            [("estimating: {owner: estimator", S), ("requires: [estimate_hours]", S)],
            "test_other_types.py::test_a_support_request_is_classified_scoped_estimated_invoiced_paid_worked_and_closed",
        ),
        (
            "Step 4: the invoice is the estimated hours × the rate, sent from a template",
            [
                ("- require: {invoice_amount: {product: [estimate_hours, policy.support_hourly_rate]}}", S),
                ("emails: [support_invoice]", S),
            ],
            "test_seed_rules.py::test_a_support_invoice_must_be_the_estimate_times_the_workflows_rate",
        ),
        (
            "Step 5: no development before payment",
            [("- require: {payment_reference: {set: true}}", S)],
            "test_other_types.py::test_no_development_before_payment",
        ),
    ],
    "Seed 003 — document change requests (types `doc_change` and `config`)": [
        (
            "Check requirements: Premium or Pro, one document on Premium, an org admin or manager",
            [("- require: {subscription: {in: [Premium, Pro]}}", D)],
            "test_other_types.py::test_every_unmet_requirement_is_named_at_once",
        ),
        (
            "Requirements not met: the canned response for what is missing",
            [
                (
                    "- {template: doc_not_eligible_subscription, when: {canned_response: doc_not_eligible_subscription}}",
                    D,
                )
            ],
            "test_other_types.py::test_an_ineligible_request_gets_the_canned_response_for_what_is_missing",
        ),
        (
            "A CS ticket for the member with the fewest open tickets, with the initial request to the customer",
            [
                ("- type: config", D),
                ("assign: {rule: fewest_open}", C),
                ("- template: config_initial_request", C),
            ],
            "test_other_types.py::test_configuration_tickets_go_to_the_cs_member_with_the_fewest_open",
        ),
        (
            "The CS ticket follows its doc ticket's state and carries its notes",
            [("follows: {link: created_by", C)],
            "test_seed_rules_ops.py::test_the_configuration_ticket_follows_its_doc_tickets_state_and_notes_in_the_same_commit",
        ),
        (
            "The customer confirms, or reports an error, by replying",
            [("- {match: ", D), ("- {transition: customer_reported_issue}", D)],
            "test_mail_in.py::test_an_onboard_test_answer_by_email_is_matched_by_its_words",
        ),
        (
            "No reply in 3 days after the last email: the second email; a day later, hand over (a late sweep fires one at a time)",
            [("- {name: nudge_after_3_days", D), ("- {name: hand_over_a_day_later", D)],
            "test_seed_rules_ops.py::test_a_sweep_ten_days_late_sends_only_the_nudge_and_the_hand_over_follows_a_day_later",
        ),
        (
            "Mondays: the Onboard reset email, only to customers with an outstanding test",
            [("- {name: monday_onboard_reset", D)],
            "test_seed_rules_ops.py::test_the_monday_reminder_goes_only_to_customers_still_testing",
        ),
        (
            "Published without a test; closed if no reply within 24 hours",
            [("- {name: close_after_24_hours", D)],
            "test_default_timers.py::test_a_delivered_doc_change_closes_24_hours_later_without_a_reply",
        ),
    ],
    "Seed 004 — Changepoint request workflow (type `support`)": [
        (
            "Logged by a client or end user, who is told",
            [("requires: [customer_name, customer_email]", S), ("emails: [support_received]", S)],
            "test_other_types.py::test_a_support_request_is_classified_scoped_estimated_invoiced_paid_worked_and_closed",
        ),
        (
            "Routed to a queue or an approver by the request's fields",
            [('- {when: {classification: "Routine Maintenance"}, role: support, rule: queue}', S)],
            "test_other_types.py::test_support_requests_are_routed_by_classification",
        ),
        (
            "“Clarification required – Customer” emails the initiator",
            [("- name: request_clarification", S)],
            "test_other_types.py::test_a_support_request_is_classified_scoped_estimated_invoiced_paid_worked_and_closed",
        ),
        (
            "A reminder in the assigned resource's My Reminders, and an email",
            [("- {event: assigned,", N)],
            "test_reminders.py::test_a_pm_sees_the_tickets_they_own_as_json_and_as_plain_lines",
        ),
        (
            "No response or resolution within the SLA: escalated, and the people told",
            [
                ('- {when: {classification: "Bug Fix"}, response: 4h, resolution: 5d}', S),
                ("- {event: sla_breached, to: [owner, {role: pm}]", N),
            ],
            "test_notifications.py::test_sla_at_risk_then_breached_by_sweep_each_sent_once",
        ),
        (
            "A knowledge item from the request",
            [("- name: publish_article", S)],
            "test_other_types.py::test_support_gates_on_scoping_resolution_and_the_knowledge_article",
        ),
        (
            "A defect creates a Defect request owned by Product Development",
            [("when: {resolution: defect}", S)],
            "test_other_types.py::test_a_request_resolved_as_a_defect_creates_a_linked_bug_in_one_commit",
        ),
    ],
}


def table() -> str:
    """The section as README.md should hold it."""
    out = [
        SECTION,
        "",
        "Every rule of the five seeds that the default workflow encodes, the `workflow.yaml` lines that say",
        "it (line numbers of the shipped file) and the test that plays it. The table is generated by",
        "`python tests/readme_seeds.py` from the text each row quotes; `tests/test_readme_seeds.py` fails",
        "when the README's copy is stale or a named test does not exist.",
        "",
    ]
    for title, rows in ROWS.items():
        out += [f"**{title}**", "", "| rule | workflow.yaml | test |", "|---|---|---|"]
        for rule, snippets, test in rows:
            refs = "<br>".join(ref(s, a) for s, a in snippets)
            out.append(f"| {rule} | {refs} | `{test}` |")
        out.append("")
    return "\n".join(out)


def write() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start) + 1
    readme.write_text(text[:start] + table() + "\n" + text[end:], encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.stdout.write("README.md: the seeds table rewritten\n")
