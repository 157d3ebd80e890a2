"""Tests of the pure core on the default workflow with plain dict tickets (no files): erflow.core.engine,
erflow.conditions and erflow.fields."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNTING, BOARD, CONTRACTS, DEV, NICK, PM, QA, STRANGER, SUPPORT
from hypothesis import given, settings
from hypothesis import strategies as st

import erflow
from erflow.core import conditions, engine
from erflow.core.errors import NotFound, NotPermitted, Refused, UsageError
from erflow.core.fields import Field
from erflow.store import workflow_file

WF = workflow_file.load(Path(erflow.__file__).parent / "defaults" / "workflow.yaml")
ER = WF.type("enhancement")


def ticket(state: str, **values: Any) -> dict[str, Any]:
    return {"id": "ER-AB12CD", "type": "enhancement", "title": "Export invoices", "state": state, **values}


def judge(
    current: dict[str, Any],
    name: str,
    actor: str,
    sets: dict[str, Any] | None = None,
    note: str | None = None,
) -> engine.Evaluation:
    transition = engine.find_transition(ER, current["state"], name)
    return engine.evaluate(WF, ER, current, transition, actor, sets, note, check_note=True)


def plan(
    current: dict[str, Any],
    name: str,
    actor: str,
    sets: dict[str, Any] | None = None,
    note: str | None = None,
) -> engine.Plan:
    return engine.plan(WF, ER, current, name, actor, sets or {}, note)


def refused(
    current: dict[str, Any],
    name: str,
    actor: str,
    sets: dict[str, Any] | None = None,
    note: str | None = None,
) -> Refused:
    before = copy.deepcopy(current)
    with pytest.raises(Refused) as info:
        plan(current, name, actor, sets, note)
    assert current == before
    return info.value


# --- evaluate: every reason at once ----------------------------------------------------------------------

RELEASE_RULE = "non-billable tickets only; billable work goes through QA and customer validation"


def test_evaluate_lists_the_role_the_missing_fields_and_the_rule_together() -> None:
    judged = judge(ticket("in_development", billable=True), "release", QA)
    assert judged.reasons == (
        "qa@example.com (qa) may not take release; it needs dev",
        "missing: live_date, release_notes",
        RELEASE_RULE,
    )
    assert judged.missing == ("live_date", "release_notes")
    assert (judged.allowed, judged.permitted, judged.to) == (False, False, "live")


def test_evaluate_as_json_has_the_contracts_shape() -> None:
    judged = judge(ticket("intake", product="Ledger"), "submit", SUPPORT)
    assert judged.as_json() == {
        "name": "submit",
        "to": "pm_review",
        "label": "Submit for PM review",
        "allowed": False,
        "reasons": ["missing: priority, business_value, customer_email"],
        "missing": ["priority", "business_value", "customer_email"],
    }


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, ("product", "priority", "business_value", "customer_email")),
        ({"priority": "high"}, ("product", "business_value", "customer_email")),
        ({"product": "Ledger", "customer_email": "j@acme.example"}, ("priority", "business_value")),
        (
            {"product": "  ", "priority": "", "business_value": None},
            ("product", "priority", "business_value", "customer_email"),
        ),
        ({"product": "L", "priority": "low", "business_value": "b", "customer_email": "j@acme.example"}, ()),
    ],
)
def test_missing_fields_are_listed_in_the_gates_order(
    values: dict[str, Any], missing: tuple[str, ...]
) -> None:
    judged = judge(ticket("intake", **values), "submit", SUPPORT)
    assert judged.missing == missing
    assert judged.allowed == (missing == ())


def test_a_person_not_listed_under_people_has_no_roles() -> None:
    judged = judge(ticket("needs_info"), "info_received", STRANGER)
    assert judged.reasons == (f"{STRANGER} is not listed under people in workflow.yaml, so has no roles",)
    assert not judged.permitted


def test_the_actor_is_matched_without_regard_to_case() -> None:
    assert judge(ticket("needs_info"), "info_received", "Destyn@Example.COM").allowed


def test_options_judges_every_transition_out_of_the_state() -> None:
    judged = engine.options(WF, ER, ticket("product_board", board_rationale="fits"), NICK)
    assert [(j.transition.name, j.to, j.allowed) for j in judged] == [
        ("approve_no_quote", "leadership", True),
        ("approve_for_quote", "leadership", True),
        ("defer", "deferred", False),
        ("decline", "decline_review", False),
    ]


# --- conditional gates and targets ------------------------------------------------------------------------

READY = ("sow_link", "acceptance_criteria", "assumptions")


@pytest.mark.parametrize(
    ("billable", "payment_required", "missing"),
    [
        (None, None, ("projected_delivery_date",)),
        (False, True, ("projected_delivery_date",)),
        (True, None, ("projected_delivery_date", *READY)),
        (True, False, ("projected_delivery_date", *READY)),
        (True, True, ("projected_delivery_date", *READY, "payment_reference")),
    ],
)
def test_the_definition_of_ready_is_required_only_of_billable_tickets(
    billable: bool | None, payment_required: bool | None, missing: tuple[str, ...]
) -> None:
    values = {
        k: v for k, v in {"billable": billable, "payment_required": payment_required}.items() if v is not None
    }
    assert judge(ticket("scheduled", **values), "start_development", DEV).missing == missing


def test_a_billable_ticket_that_meets_the_definition_of_ready_may_start() -> None:
    ready = {f: "x" for f in ("sow_link", "acceptance_criteria", "assumptions", "payment_reference")}
    current = ticket(
        "scheduled", billable=True, payment_required=True, projected_delivery_date="2026-12-01", **ready
    )
    assert plan(current, "start_development", PM).to_state == "in_development"


@pytest.mark.parametrize(
    ("values", "sets", "target"),
    [
        ({"payment_required": True}, {}, "payment"),
        ({"payment_required": False}, {}, "scheduling"),
        ({}, {}, "scheduling"),
        ({}, {"payment_required": True}, "payment"),
        ({"payment_required": True}, {"payment_required": False}, "scheduling"),
    ],
)
def test_sow_signed_goes_to_payment_only_when_payment_is_required(
    values: dict[str, Any], sets: dict[str, Any], target: str
) -> None:
    current = ticket("sow", sow_link="https://contracts.example.com/sow/1", **values)
    assert judge(current, "sow_signed", CONTRACTS, sets).to == target
    made = plan(current, "sow_signed", CONTRACTS, sets)
    assert (made.from_state, made.to_state, made.values["state"]) == ("sow", target, target)
    assert [e.template for e in made.emails] == ["sow_received"]


@pytest.mark.parametrize(
    ("billable", "complete", "release"),
    [(True, True, False), (False, False, True), (None, False, True)],
)
def test_billable_tickets_go_through_qa_and_others_release_directly(
    billable: bool | None, complete: bool, release: bool
) -> None:
    values = {"live_date": "2026-12-01", "release_notes": "n"} | (
        {} if billable is None else {"billable": billable}
    )
    current = ticket("in_development", **values)
    assert judge(current, "complete", DEV).allowed is complete
    assert judge(current, "release", DEV).allowed is release


# --- plan -------------------------------------------------------------------------------------------------


def test_plan_sets_the_fields_of_set_and_moves_the_state() -> None:
    current = ticket(
        "pm_review",
        owner=PM,
        problem="p",
        scope="s",
        desired_outcome="d",
        business_value="b",
        config_checked=True,
    )
    made = plan(current, "approve", PM)
    assert made.values["pm_validation"] == "complete"
    assert (made.from_state, made.to_state) == ("pm_review", "product_board")
    assert made.changes == {
        "state": ["pm_review", "product_board"],
        "owner": [PM, "board"],
        "pm_validation": [None, "complete"],
    }


def test_quote_sets_billable_and_dev_priority_and_adds_the_billable_label_after_the_others() -> None:
    made = plan(ticket("leadership", owner=NICK, labels=["vip"]), "quote", NICK)
    assert made.values["leadership_status"] == "quote"
    assert made.values["billable"] is True
    assert made.values["dev_priority"] == 1
    assert made.values["labels"] == ["vip", "billable"]
    assert [e.template for e in made.emails] == ["board_approved_quote"]


@pytest.mark.parametrize("labels", [["billable"], ["billable", "vip"], ["vip", "billable"]])
def test_the_billable_label_is_added_only_once(labels: list[str]) -> None:
    made = plan(ticket("leadership", labels=labels), "quote", NICK)
    assert made.values["labels"].count("billable") == 1
    assert sorted(made.values["labels"]) == sorted(labels)


def test_a_ticket_without_labels_gets_the_billable_label() -> None:
    assert plan(ticket("leadership"), "quote", NICK).values["labels"] == ["billable"]


def test_plan_does_not_share_lists_it_changes_with_the_ticket() -> None:
    current = ticket("leadership", labels=["vip"])
    plan(current, "quote", NICK).values["labels"].append("mutated")
    assert current["labels"] == ["vip"]


def test_the_owner_becomes_the_only_holder_of_the_new_states_role() -> None:
    made = plan(
        ticket(
            "intake",
            owner=SUPPORT,
            product="L",
            priority="low",
            business_value="b",
            customer_email="j@a.example",
        ),
        "submit",
        SUPPORT,
    )
    assert made.values["owner"] == PM


def test_the_owner_becomes_the_roles_queue_when_several_people_hold_it() -> None:
    current = ticket(
        "pm_review",
        owner=PM,
        problem="p",
        scope="s",
        desired_outcome="d",
        business_value="b",
        config_checked=True,
    )
    assert plan(current, "approve", PM).values["owner"] == "board"


def test_an_owner_who_holds_the_new_states_role_keeps_the_ticket() -> None:
    current = ticket("product_board", owner=NICK, board_rationale="later", review_date="2027-Q3")
    assert plan(current, "defer", BOARD).values["owner"] == NICK


def test_a_state_without_an_owner_role_leaves_the_owner_alone() -> None:
    current = ticket("live", owner=PM)
    made = plan(current, "close", PM)
    assert (made.to_state, made.values["owner"]) == ("closed", PM)


def test_a_transition_that_stays_in_its_state_keeps_the_owner() -> None:
    current = ticket("qa", owner=QA)
    made = plan(current, "change_request", PM, {"change_description": "wording"}, note="small")
    assert (made.to_state, made.values["owner"]) == ("qa", QA)


def test_board_emails_follow_the_policy() -> None:
    made = plan(ticket("product_board", board_rationale="fits"), "approve_no_quote", BOARD)
    assert made.emails == []


# --- refusals ----------------------------------------------------------------------------------------------


def test_a_role_failure_is_not_permitted_with_exit_code_5_and_every_reason() -> None:
    error = refused(ticket("in_development", billable=True), "release", QA)
    assert isinstance(error, NotPermitted)
    assert error.exit_code == 5
    assert error.reasons == list(judge(ticket("in_development", billable=True), "release", QA).reasons)
    assert error.missing == ["live_date", "release_notes"]


def test_a_gate_failure_alone_is_refused_with_exit_code_3() -> None:
    error = refused(ticket("intake", product="L"), "submit", SUPPORT)
    assert type(error) is Refused
    assert error.exit_code == 3
    assert error.missing == ["priority", "business_value", "customer_email"]
    assert error.message == "ER-AB12CD: submit refused: missing: priority, business_value, customer_email"


def test_a_rule_failure_alone_is_refused_with_its_message() -> None:
    error = refused(ticket("live", billable=True), "close", PM)
    assert type(error) is Refused
    assert error.reasons == ["billable tickets go to ready_for_billing, not closed"]


def test_an_unknown_transition_name_is_not_found() -> None:
    with pytest.raises(NotFound) as info:
        plan(ticket("intake"), "teleport", SUPPORT)
    assert info.value.exit_code == 4


def test_a_known_transition_that_does_not_leave_the_state_is_refused() -> None:
    error = refused(ticket("scheduling"), "submit", SUPPORT)
    assert type(error) is Refused
    assert error.message == "transition 'submit' does not leave state 'scheduling'"
    assert error.hint == "from scheduling: plan, change_request"


def test_a_ticket_in_a_state_the_type_does_not_have_is_refused() -> None:
    error = refused(ticket("limbo"), "submit", SUPPORT)
    assert "limbo" in error.message


def test_the_same_name_leaving_two_states_is_judged_by_the_current_one() -> None:
    values = {"live_date": "2026-12-01", "release_notes": "n"}
    assert judge(ticket("customer_validation", **values), "release", PM).missing == ("customer_confirmation",)
    assert not judge(ticket("in_development", **values), "release", PM).permitted


# --- fresh transitions, notes and owned fields -------------------------------------------------------------

STALE = {
    "change_description": "an old change",
    "change_affects": ["cost"],
    "change_estimate_hours": 10,
    "sow_addendum_link": "https://contracts.example.com/a/1",
    "change_customer_approval": "yes, by mail",
}
CHANGE_APPROVALS = ("change_estimate_hours", "sow_addendum_link", "change_customer_approval")


def test_a_fresh_transition_ignores_stale_values_on_the_ticket() -> None:
    judged = judge(ticket("scheduled", **STALE), "change_request", PM, note="why")
    assert judged.missing == ("change_description",)
    assert judged.reasons == ("missing in this step (--set): change_description",)


def test_a_fresh_transition_accepts_the_values_given_in_this_step() -> None:
    judged = judge(
        ticket("scheduled", **STALE), "change_request", PM, {"change_description": "docs only"}, "why"
    )
    assert judged.allowed


def test_a_change_that_affects_something_needs_its_approvals_in_this_step_even_if_stale_ones_exist() -> None:
    sets = {"change_description": "more scope", "change_affects": ["deliverables"]}
    judged = judge(ticket("in_development", **STALE), "change_request", PM, sets, "why")
    assert judged.missing == CHANGE_APPROVALS


def test_a_change_with_all_its_approvals_in_this_step_is_accepted() -> None:
    sets = {"change_description": "more", "change_affects": ["cost"]} | {
        k: STALE[k] for k in CHANGE_APPROVALS
    }
    made = plan(ticket("qa", **STALE), "change_request", NICK, sets, note="agreed on the call")
    assert made.to_state == "qa"
    assert {k: made.values[k] for k in sets} == sets


@pytest.mark.parametrize("note", [None, "", "   \n"])
def test_a_transition_whose_note_is_required_is_refused_without_one(note: str | None) -> None:
    error = refused(ticket("scheduling"), "change_request", PM, {"change_description": "x"}, note)
    assert error.reasons == ["a note is required (--note TEXT)"]


def test_a_required_note_is_not_a_reason_when_the_note_is_not_checked() -> None:
    current = ticket("scheduling")
    transition = engine.find_transition(ER, "scheduling", "change_request")
    judged = engine.evaluate(WF, ER, current, transition, PM, {"change_description": "x"})
    assert judged.allowed


@pytest.mark.parametrize(
    ("state", "name", "actor", "sets", "reason"),
    [
        ("scheduling", "plan", PM, {"dev_priority": 3}, "dev_priority is set only by bump, quote"),
        (
            "scheduled",
            "start_development",
            DEV,
            {"payment_reference": "INV-1"},
            "payment_reference is set only by payment_confirmed",
        ),
        ("qa", "qa_passed", QA, {"billable": False}, "billable is set only by quote"),
    ],
)
def test_setting_a_field_that_another_transition_owns_is_refused(
    state: str, name: str, actor: str, sets: dict[str, Any], reason: str
) -> None:
    values = {
        "iteration": "i",
        "target_delivery_window": "w",
        "projected_delivery_date": "2026-12-01",
        "qa_notes": "ok",
    }
    error = refused(ticket(state, **values), name, actor, sets)
    assert error.reasons == [reason]


def test_the_owning_transition_may_set_its_field() -> None:
    made = plan(ticket("payment"), "payment_confirmed", ACCOUNTING, {"payment_reference": "INV-2291"})
    assert made.values["payment_reference"] == "INV-2291"


def test_a_transitions_own_set_wins_over_a_value_given_for_it() -> None:
    assert plan(ticket("scheduled"), "bump", PM, {"dev_priority": 7}).values["dev_priority"] == 2


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("dev_priority", Refused),
        ("payment_reference", Refused),
        ("state", Refused),
        ("nonexistent", UsageError),
    ],
)
def test_check_settable_refuses_owned_system_and_unknown_fields(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        engine.check_settable(ER, name)


def test_check_settable_allows_a_free_field() -> None:
    assert engine.check_settable(ER, "problem").name == "problem"


def test_parse_sets_types_the_values_and_refuses_unknown_and_system_fields() -> None:
    assert engine.parse_sets(
        ER, {"estimate_hours": "12", "billable": "yes", "change_affects": "cost, timeline"}
    ) == {
        "estimate_hours": 12,
        "billable": True,
        "change_affects": ["cost", "timeline"],
    }
    with pytest.raises(UsageError):
        engine.parse_sets(ER, {"nonexistent": "x"})
    with pytest.raises(Refused):
        engine.parse_sets(ER, {"state": "closed"})
    with pytest.raises(UsageError, match="estimate_hours"):
        engine.parse_sets(ER, {"estimate_hours": "-1"})


# --- conditions.holds ------------------------------------------------------------------------------------

VALUES = {
    "n": 5,
    "s": "x",
    "empty": "",
    "blank": "  ",
    "l": ["a", "b"],
    "el": [],
    "t": True,
    "f": False,
    "z": 0,
}
POLICIES = {"on": True, "off": False}

HOLDS = [
    ({}, True),
    ({"s": "x"}, True),
    ({"s": "y"}, False),
    ({"l": "a"}, True),
    ({"l": "c"}, False),
    ({"t": True}, True),
    ({"f": True}, False),
    ({"missing": True}, False),
    ({"s": "x", "n": 5}, True),
    ({"s": "x", "n": 6}, False),
    ({"n": {"set": True}}, True),
    ({"z": {"set": True}}, True),
    ({"f": {"set": True}}, True),
    ({"empty": {"set": True}}, False),
    ({"blank": {"set": True}}, False),
    ({"el": {"set": True}}, False),
    ({"missing": {"set": True}}, False),
    ({"missing": {"set": False}}, True),
    ({"n": {"set": False}}, False),
    ({"s": {"not": "y"}}, True),
    ({"s": {"not": "x"}}, False),
    ({"l": {"not": "a"}}, False),
    ({"l": {"not": "c"}}, True),
    ({"missing": {"not": True}}, True),
    ({"s": {"in": ["x", "y"]}}, True),
    ({"s": {"in": ["y"]}}, False),
    ({"missing": {"in": ["x"]}}, False),
    ({"l": {"contains": "b"}}, True),
    ({"l": {"contains": "c"}}, False),
    ({"s": {"contains": "x"}}, False),
    ({"n": {"gt": 4}}, True),
    ({"n": {"gt": 5}}, False),
    ({"n": {"gte": 5}}, True),
    ({"n": {"gte": 6}}, False),
    ({"n": {"lt": 5}}, False),
    ({"n": {"lt": 5.5}}, True),
    ({"n": {"lte": 5}}, True),
    ({"n": {"gt": 1, "lt": 10}}, True),
    ({"n": {"gt": 1, "lt": 5}}, False),
    ({"missing": {"gt": 0}}, False),
    ({"s": {"gt": 0}}, False),
    ({"t": {"gt": 0}}, False),
    ({"all": [{"s": "x"}, {"n": 5}]}, True),
    ({"all": [{"s": "x"}, {"n": 6}]}, False),
    ({"all": []}, True),
    ({"any": [{"s": "y"}, {"n": 5}]}, True),
    ({"any": [{"s": "y"}, {"n": 6}]}, False),
    ({"any": []}, False),
    ({"not": {"s": "y"}}, True),
    ({"not": {"s": "x"}}, False),
    ({"not": {"any": [{"s": "y"}, {"not": {"n": 5}}]}}, True),
    ({"policy.on": True}, True),
    ({"policy.off": True}, False),
    ({"policy.off": False}, True),
    ({"policy.unknown": {"set": True}}, False),
    ({"policy.on": True, "s": "y"}, False),
]


@pytest.mark.parametrize(("condition", "expected"), HOLDS, ids=[repr(c) for c, _ in HOLDS])
def test_conditions_hold_as_the_rule_language_says(condition: dict[str, Any], expected: bool) -> None:
    assert conditions.holds(condition, VALUES, POLICIES) is expected


def test_a_policy_is_read_from_policies_not_from_the_ticket() -> None:
    assert conditions.holds({"policy.on": True}, {"policy.on": False, "on": False}, POLICIES)


@pytest.mark.parametrize(
    ("condition", "fields", "text"),
    [
        ({"billable": True}, {"billable"}, "billable is True"),
        ({"change_affects": {"set": True}}, {"change_affects"}, "change_affects is set"),
        ({"n": {"gt": 1}, "policy.on": True}, {"n"}, "n gt 1 and policy.on is True"),
        ({"any": [{"a": 1}, {"b": {"set": False}}]}, {"a", "b"}, "(a is 1) or (b is not set)"),
        ({"not": {"a": 1}}, {"a"}, "not (a is 1)"),
    ],
)
def test_fields_of_and_describe_read_a_condition(
    condition: dict[str, Any], fields: set[str], text: str
) -> None:
    assert conditions.fields_of(condition) == fields
    assert conditions.describe(condition) == text


# --- fields.Field ----------------------------------------------------------------------------------------

PARSED = [
    (Field("h", "number"), "42", 42),
    (Field("h", "number"), " 7 ", 7),
    (Field("h", "number"), "4.5", 4.5),
    (Field("h", "number"), "10.0", 10.0),
    (Field("h", "number"), "1e3", 1000),
    (Field("h", "number"), "-3", -3),
    (Field("h", "number", min=0, max=10), "10", 10),
    (Field("h", "number"), "", None),
    (Field("b", "bool"), "true", True),
    (Field("b", "bool"), "YES", True),
    (Field("b", "bool"), "y", True),
    (Field("b", "bool"), "1", True),
    (Field("b", "bool"), "On", True),
    (Field("b", "bool"), "false", False),
    (Field("b", "bool"), "No", False),
    (Field("b", "bool"), "n", False),
    (Field("b", "bool"), "0", False),
    (Field("b", "bool"), "off", False),
    (Field("b", "bool"), "  ", None),
    (Field("d", "date"), "2026-02-28", "2026-02-28"),
    (Field("d", "date"), " 2026-02-28 ", "2026-02-28"),
    (Field("t", "datetime"), "2026-02-28T09:30:00+02:00", "2026-02-28T09:30:00+02:00"),
    (Field("t", "datetime"), "2026-02-28T09:30:00-05:00", "2026-02-28T09:30:00-05:00"),
    (Field("t", "datetime"), "2026-02-28 09:30+00:00", "2026-02-28 09:30+00:00"),
    (Field("e", "email"), "jane.doe+er@acme.example", "jane.doe+er@acme.example"),
    (Field("u", "url"), "https://contracts.example.com/sow/1?x=y", "https://contracts.example.com/sow/1?x=y"),
    (Field("u", "url"), "http://intranet/x", "http://intranet/x"),
    (Field("p", "enum", values=("low", "high")), "high", "high"),
    (Field("p", "enum", values=("low", "high")), " low ", "low"),
    (Field("c", "list", values=("cost", "timeline")), "cost, timeline", ["cost", "timeline"]),
    (Field("c", "list", values=("cost", "timeline")), "cost,,", ["cost"]),
    (Field("c", "list"), " a , b ,, c ", ["a", "b", "c"]),
    (Field("c", "list"), "", None),
    (Field("x", "text"), "  kept as typed \n", "  kept as typed \n"),
    (Field("x", "text"), "", ""),
]


@pytest.mark.parametrize(("field", "raw", "value"), PARSED, ids=[f"{f.type}:{r!r}" for f, r, _ in PARSED])
def test_field_parse_turns_text_into_a_typed_value(field: Field, raw: str, value: object) -> None:
    parsed = field.parse(raw)
    assert parsed == value
    assert type(parsed) is type(value)
    assert field.problem(parsed) is None


REFUSED = [
    (Field("h", "number"), "twelve", "h: 'twelve' is not a number"),
    (Field("h", "number"), "0x10", "h: '0x10' is not a number"),
    (Field("h", "number", min=0), "-1", "h: -1 is below the minimum 0"),
    (Field("h", "number", max=10), "10.5", "h: 10.5 is above the maximum 10"),
    (Field("b", "bool"), "maybe", "b: 'maybe' is not true or false"),
    (Field("d", "date"), "2026-02-30", "d: '2026-02-30' is not a date (YYYY-MM-DD)"),
    (Field("d", "date"), "tomorrow", "d: 'tomorrow' is not a date (YYYY-MM-DD)"),
    (Field("t", "datetime"), "2026-02-28T09:30:00", "t: '2026-02-28T09:30:00' has no UTC offset"),
    (Field("t", "datetime"), "2026-02-28", "t: '2026-02-28' has no UTC offset"),
    (Field("t", "datetime"), "noon", "t: 'noon' is not an ISO 8601 date and time"),
    (Field("e", "email"), "jane", "e: 'jane' is not an email address"),
    (Field("e", "email"), "jane@acme", "e: 'jane@acme' is not an email address"),
    (
        Field("e", "email"),
        "Jane <jane@acme.example>",
        "e: 'Jane <jane@acme.example>' is not an email address",
    ),
    (Field("e", "email"), "a@b.c, x@y.z", "e: 'a@b.c, x@y.z' is not an email address"),
    (Field("u", "url"), "ftp://x.example/f", "u: 'ftp://x.example/f' is not an http(s) URL"),
    (Field("u", "url"), "javascript:alert(1)", "u: 'javascript:alert(1)' is not an http(s) URL"),
    (Field("u", "url"), "https://x.example/a b", "u: 'https://x.example/a b' is not an http(s) URL"),
    (Field("p", "enum", values=("low", "high")), "urgent", "p: 'urgent' is not one of low, high"),
    (
        Field("c", "list", values=("cost", "timeline")),
        "cost, fame, luck",
        "c: fame, luck not among cost, timeline",
    ),
    (Field("x", "text"), "nul\x00inside", "x: contains a NUL character"),
]


@pytest.mark.parametrize(("field", "raw", "message"), REFUSED, ids=[f"{f.type}:{r!r}" for f, r, _ in REFUSED])
def test_field_parse_refuses_text_that_is_not_of_its_type(field: Field, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        field.parse(raw)
    assert str(info.value) == message


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e400"])
def test_field_parse_refuses_numbers_that_are_not_finite(raw: str) -> None:
    field = Field("estimate_hours", "number")
    try:
        value = field.parse(raw)
    except ValueError:
        return
    raise AssertionError(f"{raw!r} was accepted as {value!r}")


STORED_PROBLEMS = [
    (Field("h", "number"), True, "h: True is not a number"),
    (Field("h", "number"), "12", "h: '12' is not a number"),
    (Field("b", "bool"), "true", "b: 'true' is not true or false"),
    (Field("b", "bool"), 1, "b: 1 is not true or false"),
    (Field("x", "text"), 12, "x: expected text, got int"),
    (Field("d", "date"), ["2026-01-01"], "d: expected text, got list"),
    (Field("c", "list"), "a,b", "c: expected a list of text"),
    (Field("c", "list"), ["a", 1], "c: expected a list of text"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"), STORED_PROBLEMS, ids=[repr(v) for _, v, _ in STORED_PROBLEMS]
)
def test_field_problem_names_what_is_wrong_with_a_stored_value(
    field: Field, value: object, message: str
) -> None:
    assert field.problem(value) == message


def test_field_problem_accepts_a_missing_value() -> None:
    assert all(Field("f", kind).problem(None) is None for kind in ("number", "bool", "date", "email", "list"))


# --- property: evaluate and plan agree, and a refusal changes nothing ---------------------------------------

PEOPLE = [*WF.people, STRANGER, "nick@EXAMPLE.com"]
TEXT = st.text(max_size=12)


def valid_value(field: Field) -> st.SearchStrategy[Any]:
    if field.type == "enum":
        return st.sampled_from(field.values)
    if field.type == "number":
        low = field.min if field.min is not None else -(10**6)
        return st.integers(min_value=int(low), max_value=10**6) | st.floats(
            min_value=low, max_value=1e9, allow_nan=False, allow_infinity=False
        )
    if field.type == "bool":
        return st.booleans()
    if field.type == "date":
        return st.dates().map(dt.date.isoformat)
    if field.type == "datetime":
        return st.datetimes(timezones=st.just(dt.timezone.utc)).map(dt.datetime.isoformat)
    if field.type == "email":
        return st.sampled_from(["jane@acme.example", "x@y.example"])
    if field.type == "url":
        return st.sampled_from(["https://contracts.example.com/sow/1", "http://x.example"])
    if field.type == "list":
        return st.lists(st.sampled_from(field.values) if field.values else TEXT, max_size=3, unique=True)
    return TEXT | st.just("")


SETTABLE = {f.name: f for f in ER.all_fields() if not f.system}
ticket_values = st.fixed_dictionaries(
    {"id": st.just("ER-AB12CD"), "type": st.just("enhancement"), "state": st.sampled_from(list(ER.states))},
    optional={name: valid_value(f) for name, f in SETTABLE.items() if name != "owner"}
    | {"owner": st.sampled_from([*WF.people, *WF.roles])},
)
given_sets = st.fixed_dictionaries({}, optional={name: valid_value(f) for name, f in SETTABLE.items()})


@settings(max_examples=200, deadline=None, database=None)
@given(current=ticket_values, sets=st.just({}) | given_sets, note=st.none() | TEXT)
def test_evaluate_allows_exactly_what_plan_does_and_a_refusal_changes_nothing(
    current: dict[str, Any], sets: dict[str, Any], note: str | None
) -> None:
    before = copy.deepcopy(current)
    for transition in ER.transitions_from(current["state"]):
        for actor in PEOPLE:
            judged = engine.evaluate(WF, ER, current, transition, actor, sets, note, check_note=True)
            try:
                made = engine.plan(WF, ER, current, transition.name, actor, sets, note)
            except Refused as error:
                assert not judged.allowed
                assert error.reasons == list(judged.reasons)
                assert error.missing == list(judged.missing)
                assert isinstance(error, NotPermitted) is (not judged.permitted)
            else:
                assert judged.allowed, judged.reasons
                assert made.to_state == judged.to == made.values["state"]
                assert made.to_state in transition.targets(current["state"])
            assert current == before
