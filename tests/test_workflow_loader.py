"""Tests of erflow.workflow: the default workflow against the contract, and broken workflows, each
problem reported as ``workflow.yaml:LINE: PATH: message``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import erflow
from erflow.core import workflow
from erflow.core.errors import ErflowError, InvalidData, NotFound
from erflow.store import workflow_file

DEFAULT_PATH = Path(erflow.__file__).parent / "defaults" / "workflow.yaml"


@pytest.fixture(scope="module")
def default() -> workflow.Workflow:
    return workflow_file.load(DEFAULT_PATH)


# --- the default workflow against CONTRACT.md, "The default workflow" ---------------------------------

CONTRACT_STATES = [
    "intake",
    "pm_review",
    "needs_info",
    "product_board",
    "deferred",
    "leadership",
    "decline_review",
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
    "release_ready",
    "live",
    "ready_for_billing",
    "closed",
    "declined",
    "cancelled",
]

CONTRACT_ROLES = ["support", "pm", "board", "leadership", "sales", "contracts", "accounting", "dev", "qa"]

CONTRACT_PEOPLE = {
    "support@example.com": ("support",),
    "destyn@example.com": ("pm", "admin"),  # admin: the process owner (erflow workflow apply)
    "board@example.com": ("board",),
    "nick@example.com": ("leadership", "board"),
    "sales@example.com": ("sales",),
    "contracts@example.com": ("contracts",),
    "accounting@example.com": ("accounting",),
    "dev@example.com": ("dev",),
    "qa@example.com": ("qa",),
}

# One row per transition of the contract's table: from, name, possible targets, roles, the fields that
# must always be set (the table's gate column; conditional gates are tested in test_engine.py).
CONTRACT_TABLE = [
    (
        "intake",
        "submit",
        ["pm_review"],
        ["support", "pm"],
        ["product", "priority", "business_value", "customer_email"],
    ),
    ("pm_review", "request_info", ["needs_info"], ["pm"], ["info_needed"]),
    ("needs_info", "info_received", ["pm_review"], ["pm", "support"], []),
    (
        "pm_review",
        "approve",
        ["product_board"],
        ["pm"],
        ["problem", "scope", "desired_outcome", "business_value"],
    ),
    ("product_board", "approve_no_quote", ["leadership"], ["board"], ["board_rationale"]),
    ("product_board", "approve_for_quote", ["leadership"], ["board"], ["board_rationale"]),
    ("product_board", "defer", ["deferred"], ["board"], ["board_rationale", "review_date"]),
    ("product_board", "decline", ["decline_review"], ["board"], ["decline_reason"]),
    ("decline_review", "confirm_decline", ["declined"], ["leadership"], ["decline_reason", "customer_email"]),
    ("decline_review", "return", ["pm_review"], ["leadership"], ["return_feedback"]),
    ("deferred", "reconsider", ["product_board"], ["board", "pm"], []),
    ("leadership", "schedule", ["scheduling"], ["leadership"], []),
    ("leadership", "unschedule", ["scheduling"], ["leadership"], []),
    ("leadership", "quote", ["quote_scope"], ["leadership"], []),
    ("leadership", "decline", ["declined"], ["leadership"], ["decline_reason"]),
    ("leadership", "return", ["pm_review"], ["leadership"], ["return_feedback"]),
    (
        "quote_scope",
        "scope_confirmed",
        ["quote_estimate"],
        ["pm"],
        ["scope_baseline", "acceptance_criteria", "assumptions"],
    ),
    ("quote_estimate", "estimated", ["quote_sent"], ["leadership"], ["estimate_hours"]),
    ("quote_sent", "quote_accepted", ["sow"], ["sales"], ["quote_amount"]),
    ("quote_sent", "quote_declined", ["cancelled"], ["sales"], []),
    ("sow", "sow_signed", ["payment", "scheduling"], ["contracts"], ["sow_link"]),
    ("payment", "payment_confirmed", ["scheduling"], ["accounting"], ["payment_reference"]),
    ("scheduling", "plan", ["scheduled"], ["pm"], ["iteration", "target_delivery_window"]),
    ("pm_review", "config_solves_it", ["closed"], ["pm"], ["config_solution", "customer_email"]),
    ("scheduled", "bump", ["scheduling"], ["pm"], []),
    ("scheduled", "start_development", ["in_development"], ["pm", "dev"], ["projected_delivery_date"]),
    ("in_development", "complete", ["qa"], ["dev"], []),
    ("qa", "qa_passed", ["customer_validation", "release_ready"], ["qa"], ["qa_notes"]),
    ("release_ready", "release", ["live"], ["dev"], ["live_date", "release_notes"]),
    ("qa", "qa_failed", ["in_development"], ["qa"], ["qa_notes"]),
    ("in_development", "release", ["live"], ["dev"], ["live_date", "release_notes"]),
    (
        "customer_validation",
        "release",
        ["live"],
        ["dev", "pm"],
        ["customer_confirmation", "live_date", "release_notes"],
    ),
    ("live", "close", ["closed"], ["pm"], []),
    ("live", "mark_ready_for_billing", ["ready_for_billing"], ["pm"], []),
]

# Change control: "from any quote or development state", staying in the state.
CHANGE_REQUEST_STATES = [
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
]

# The contract's "customer email" column: the templates each transition renders.
CONTRACT_EMAILS = {
    ("intake", "submit"): [],
    ("pm_review", "request_info"): ["pm_more_info"],
    ("product_board", "approve_no_quote"): ["board_approved_no_quote"],
    ("product_board", "approve_for_quote"): ["board_approved_quote"],
    ("product_board", "defer"): ["board_deferred"],
    ("product_board", "decline"): [],
    ("decline_review", "confirm_decline"): ["board_declined"],
    ("decline_review", "return"): ["leadership_returned"],
    ("leadership", "schedule"): ["board_approved_no_quote"],
    ("leadership", "unschedule"): ["board_approved_no_quote"],
    ("leadership", "quote"): ["board_approved_quote"],
    ("leadership", "decline"): ["leadership_declined"],
    ("leadership", "return"): ["leadership_returned"],
    ("sow", "sow_signed"): ["sow_received"],
    ("scheduling", "plan"): ["schedule_confirmation"],
    ("pm_review", "config_solves_it"): ["config_solution"],
    ("scheduled", "start_development"): ["development_started"],
    ("in_development", "release"): ["delivered"],
    ("customer_validation", "release"): ["delivered"],
    ("release_ready", "release"): ["delivered"],
}


def test_the_default_workflow_loads_without_problems() -> None:
    loaded, problems = workflow_file.load_with_problems(DEFAULT_PATH)
    assert problems == []
    assert loaded is not None


def test_the_default_workflow_has_the_contracts_roles_and_people(default: workflow.Workflow) -> None:
    assert list(default.roles)[: len(CONTRACT_ROLES)] == CONTRACT_ROLES
    people = {email: person.roles for email, person in default.people.items()}
    assert {email: people.get(email) for email in CONTRACT_PEOPLE} == CONTRACT_PEOPLE
    # The people the other request types add hold none of the contract's roles, so every
    # enhancement state still goes to the one person who holds its role.
    for email, roles in people.items():
        if email not in CONTRACT_PEOPLE:
            assert not set(roles) & set(CONTRACT_ROLES), email


def test_the_enhancement_type_has_exactly_the_contracts_23_states(default: workflow.Workflow) -> None:
    enhancement = default.type("enhancement")
    assert list(enhancement.states) == CONTRACT_STATES
    assert len(enhancement.states) == 23
    assert enhancement.prefix == "ER"
    assert enhancement.initial == "intake"
    assert {s.name for s in enhancement.states.values() if s.terminal} == {
        "ready_for_billing",
        "closed",
        "declined",
        "cancelled",
    }


@pytest.mark.parametrize(
    ("source", "name", "targets", "roles", "required"),
    CONTRACT_TABLE,
    ids=[f"{row[0]}-{row[1]}" for row in CONTRACT_TABLE],
)
def test_each_row_of_the_contracts_table_is_a_transition(
    default: workflow.Workflow,
    source: str,
    name: str,
    targets: list[str],
    roles: list[str],
    required: list[str],
) -> None:
    enhancement = default.type("enhancement")
    (transition,) = [t for t in enhancement.transitions_from(source) if t.name == name]
    assert [b.to for b in transition.branches] == targets
    # The contract's roles, and the customer's own (by email) where a reply takes the transition.
    assert [r for r in transition.roles if r != "customer"] == roles
    assert ("customer" in transition.roles) == any(
        rule.transition == name for rule in enhancement.states[source].on_reply
    )
    unconditional = [f for r in transition.requires if r.when is None for f in r.fields]
    assert unconditional == required


def test_the_enhancement_type_has_no_transition_outside_the_contract(default: workflow.Workflow) -> None:
    enhancement = default.type("enhancement")
    actual = {(source, t.name) for t in enhancement.transitions for source in t.sources}
    expected = {(row[0], row[1]) for row in CONTRACT_TABLE} | {
        (s, "change_request") for s in CHANGE_REQUEST_STATES
    }
    assert actual == expected


def test_change_request_leaves_every_quote_and_development_state_and_stays_there(
    default: workflow.Workflow,
) -> None:
    enhancement = default.type("enhancement")
    (change,) = [t for t in enhancement.transitions if t.name == "change_request"]
    assert list(change.sources) == CHANGE_REQUEST_STATES
    assert change.branches == ()
    assert all(change.targets(s) == [s] for s in CHANGE_REQUEST_STATES)
    assert (change.fresh, change.note, change.roles) == (True, "required", ("pm", "leadership"))


@pytest.mark.parametrize(("key", "templates"), list(CONTRACT_EMAILS.items()), ids=lambda v: str(v))
def test_each_transition_renders_the_customer_emails_of_the_contract(
    default: workflow.Workflow, key: tuple[str, str], templates: list[str]
) -> None:
    enhancement = default.type("enhancement")
    (transition,) = [t for t in enhancement.transitions_from(key[0]) if t.name == key[1]]
    assert [e.template for e in transition.emails] == templates


def test_board_emails_are_sent_only_by_policy_and_the_policies_default_to_none(
    default: workflow.Workflow,
) -> None:
    enhancement = default.type("enhancement")
    guarded = {t.name: e.when for t in enhancement.transitions_from("product_board") for e in t.emails}
    assert guarded == {
        "approve_no_quote": {"policy.board_emails": True},
        "approve_for_quote": {"policy.board_emails": True},
        "defer": {"policy.deferred_emails": True},
    }
    assert default.policies == {
        "board_emails": False,
        "deferred_emails": False,
        "support_hourly_rate": 150,
        "qa_non_billable": False,
    }


def test_quote_sets_billable_dev_priority_1_and_the_billable_label(default: workflow.Workflow) -> None:
    (quote,) = [t for t in default.type("enhancement").transitions if t.name == "quote"]
    assert dict(quote.sets) == {"leadership_status": "quote", "billable": True, "dev_priority": 1}
    assert quote.add_labels == ("billable",)


# --- broken workflows ----------------------------------------------------------------------------------

BASE = """\
version: 1
policies:
  emails_on: false
roles: [agent, lead]
people:
  a@example.com: {name: A, roles: [agent]}
types:
  t:
    prefix: T
    fields:
      size:
        type: number
      kind:
        type: enum
        values: [small, big]
      stamp:
        type: text
        set_by: [finish]
    states:
      open: {owner: agent}
      done: {terminal: true}
    transitions:
      - name: finish
        from: open
        to: done
        roles: [agent]
        requires: [size]
        rules: [{require: {size: {gt: 0}}, message: size must be positive}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    return path


def broken(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` that contains ``fragment``."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return found[occurrence - 1]


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    loaded, problems = workflow_file.load_with_problems(path)
    assert (loaded is None) == bool(problems)
    return [p.replace(f"{tmp_path}/", "", 1) for p in problems]


def test_the_base_of_the_broken_workflows_is_valid(tmp_path: Path) -> None:
    assert problems_of(tmp_path, BASE) == []


UNKNOWN_OPERATOR = (
    "unknown operator 'bigger' (expected one of: contains, gt, gte, in, lt, lte, matches, not, product, set)"
)
UNKNOWN_TYPE = (
    "unknown type 'numeric' (expected one of: bool, date, datetime, email, enum, list, number, text, url)"
)
LAST_LINE = "        rules: [{require: {size: {gt: 0}}, message: size must be positive}]\n"
SECOND_FINISH = "      - name: finish\n        from: open\n        to: open\n        roles: [agent]\n"

# id, old text, new text, the line's marker (and which occurrence), expected "PATH: message"
BROKEN = [
    (
        "to",
        "to: done",
        "to: nowhere",
        ("to: nowhere", 1),
        "types.t.transitions[0].to: unknown state 'nowhere'",
    ),
    (
        "from",
        "from: open",
        "from: nowhere",
        ("from: nowhere", 1),
        "types.t.transitions[0].from: unknown state 'nowhere'",
    ),
    (
        "from-list",
        "from: open",
        "from: [open, shut]",
        ("from: [open, shut]", 1),
        "types.t.transitions[0].from: unknown state 'shut'",
    ),
    (
        "role",
        "roles: [agent]\n        requires",
        "roles: [agent, boss]\n        requires",
        ("roles: [agent, boss]", 1),
        "types.t.transitions[0].roles: unknown role 'boss'",
    ),
    (
        "requires",
        "requires: [size]",
        "requires: [size, weight]",
        ("requires:", 1),
        "types.t.transitions[0].requires[1]: unknown field 'weight'",
    ),
    (
        "policy",
        "require: {size: {gt: 0}}",
        "require: {policy.nope: true}",
        ("policy.nope", 1),
        "types.t.transitions[0].rules[0].require: unknown policy 'nope'",
    ),
    (
        "operator",
        "require: {size: {gt: 0}}",
        "require: {size: {bigger: 0}}",
        ("bigger", 1),
        f"types.t.transitions[0].rules[0].require: {UNKNOWN_OPERATOR}",
    ),
    (
        "last-branch-when",
        "to: done",
        "to: [{to: open, when: {size: 1}}, {to: done, when: {size: 2}}]",
        ("to: [", 1),
        "types.t.transitions[0].to: the last branch must have no when: (it is the default)",
    ),
    (
        "duplicate-prefix",
        LAST_LINE,
        LAST_LINE + "  t2:\n    prefix: T\n    states: {s: {}}\n",
        ("prefix: T", 2),
        "types.t2.prefix: prefix 'T' is also used by t",
    ),
    (
        "unknown-type-key",
        "    prefix: T\n",
        "    prefix: T\n    bogus: 1\n",
        ("bogus", 1),
        "types.t.bogus: unknown key (expected one of: "
        "create, fields, follows, initial, label, prefix, sender_name, sla, source, states, timers,"
        " transitions)",
    ),
    (
        "unknown-transition-key",
        "        from: open\n",
        "        from: open\n        form: open\n",
        ("form:", 1),
        "types.t.transitions[0].form: unknown key (expected one of: "
        "add_labels, assign, create, documents, emails, fresh, from, label, name, note, remove_labels, "
        "requires, roles, rules, set, to)",
    ),
    (
        "same-name-twice",
        "    transitions:\n",
        "    transitions:\n" + SECOND_FINISH,
        ("- name: finish", 2),
        "types.t.transitions[1]: two transitions named 'finish' leave 'open'",
    ),
    (
        "enum-without-values",
        "        values: [small, big]\n",
        "",
        ("type: enum", 1),
        "types.t.fields.kind: an enum needs values",
    ),
    (
        "unknown-type",
        "type: number",
        "type: numeric",
        ("type: numeric", 1),
        f"types.t.fields.size.type: {UNKNOWN_TYPE}",
    ),
    (
        "set-unknown-field",
        "requires: [size]",
        "requires: [size]\n        set: {colour: red}",
        ("set: {colour: red}", 1),
        "types.t.transitions[0].set.colour: unknown field",
    ),
    (
        "set-bad-value",
        "requires: [size]",
        "requires: [size]\n        set: {kind: huge}",
        ("set: {kind: huge}", 1),
        "types.t.transitions[0].set.kind: kind: 'huge' is not one of small, big",
    ),
    (
        "set-system-field",
        "requires: [size]",
        "requires: [size]\n        set: {state: done}",
        ("set: {state: done}", 1),
        "types.t.transitions[0].set.state: kept by erflow",
    ),
    (
        "unknown-state-owner",
        "open: {owner: agent}",
        "open: {owner: chief}",
        ("owner: chief", 1),
        "types.t.states.open.owner: unknown role 'chief'",
    ),
    (
        "unknown-person-role",
        "roles: [agent]}",
        "roles: [agent, chief]}",
        ("chief", 1),
        "people.a@example.com.roles: unknown role 'chief'",
    ),
    (
        "bad-prefix",
        "prefix: T",
        "prefix: t-1",
        ("prefix: t-1", 1),
        "types.t.prefix: expected 1-8 capital letters or digits, starting with a letter",
    ),
    (
        "initial",
        "    prefix: T\n",
        "    prefix: T\n    initial: nowhere\n",
        ("initial:", 1),
        "types.t.initial: unknown state 'nowhere'",
    ),
    ("version", "version: 1", "version: 2", ("version", 1), "version: only version 1 is understood"),
]


@pytest.mark.parametrize(
    ("old", "new", "marker", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_a_broken_workflow_names_the_line_and_path_of_its_problem(
    tmp_path: Path, old: str, new: str, marker: tuple[str, int], expected: str
) -> None:
    text = broken(old, new)
    line = line_of(text, *marker)
    assert problems_of(tmp_path, text) == [f"workflow.yaml:{line}: {expected}"]


def test_an_unknown_top_level_key_is_reported_on_its_line(tmp_path: Path) -> None:
    text = broken("version: 1\n", "version: 1\nextras: {}\n")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("workflow.yaml:2: ")
    assert problem.endswith(
        "extras: unknown key (expected one of: "
        "calendar, intake, notifications, people, permissions, policies, roles, settings, types, version)"
    )


def test_an_unknown_top_level_key_has_a_path_without_a_leading_dot(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, broken("version: 1\n", "version: 1\nextras: {}\n"))
    assert problem.startswith("workflow.yaml:2: extras: unknown key")


def test_set_by_naming_an_unknown_transition_is_reported_with_its_path(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, broken("set_by: [finish]", "set_by: [finalize]"))
    assert problem.endswith(": types.t.fields.stamp.set_by: unknown transition 'finalize'")


def test_set_by_naming_an_unknown_transition_is_reported_on_the_set_by_line(tmp_path: Path) -> None:
    text = broken("set_by: [finish]", "set_by: [finalize]")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(f"workflow.yaml:{line_of(text, 'set_by:')}: ")


def test_settings_are_free_form(tmp_path: Path) -> None:
    text = BASE.replace("version: 1\n", "version: 1\nsettings:\n  sender: x\n  anything_else: [1, 2]\n")
    assert problems_of(tmp_path, text) == []


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        BASE.replace("version: 1\n", "version: 1\nextras: {}\n")
        .replace("type: number", "type: numeric")
        .replace("to: done", "to: nowhere")
        .replace("roles: [agent]\n        requires: [size]", "roles: [boss]\n        requires: [weight]")
        .replace("{gt: 0}", "{bigger: 0}")
        .replace("set_by: [finish]", "set_by: [finalize]")
    )
    problems = problems_of(tmp_path, text)
    expected_lines = {
        "extras: unknown key": line_of(text, "extras"),
        "types.t.fields.size.type: unknown type 'numeric'": line_of(text, "numeric"),
        "types.t.transitions[0].to: unknown state 'nowhere'": line_of(text, "nowhere"),
        "types.t.transitions[0].roles: unknown role 'boss'": line_of(text, "boss"),
        "types.t.transitions[0].requires[0]: unknown field 'weight'": line_of(text, "weight"),
        "types.t.transitions[0].rules[0].require: unknown operator 'bigger'": line_of(text, "bigger"),
        "types.t.fields.stamp.set_by: unknown transition 'finalize'": None,
    }
    assert len(problems) == len(expected_lines), problems
    for fragment, line in expected_lines.items():
        (match,) = [p for p in problems if fragment in p]
        if line is not None:
            assert match.startswith(f"workflow.yaml:{line}: "), match


def test_load_raises_invalid_data_naming_the_first_problem_and_counting_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("to: done", "to: nowhere").replace("from: open", "from: shut"))
    with pytest.raises(InvalidData) as info:
        workflow_file.load(path)
    assert info.value.exit_code == 6
    assert info.value.message.startswith(f"{path}:")
    assert info.value.message.endswith("(and 1 more; run erflow check)")


def test_a_yaml_error_is_one_problem_with_its_line(tmp_path: Path) -> None:
    text = BASE.replace("to: done", "to: done\n        to: again")
    assert problems_of(tmp_path, text) == [f"workflow.yaml:{line_of(text, 'to: again')}: duplicate key 'to'"]


def test_a_workflow_that_is_not_utf8_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_bytes(BASE.encode() + b"# caf\xe9\n")
    line = BASE.count("\n") + 1
    expected = f"{path}:{line}: not valid UTF-8 (byte {len(BASE) + 5})"
    assert workflow_file.load_with_problems(path) == (None, [expected])


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "", "42\n"])
def test_a_workflow_that_is_not_a_mapping_is_one_problem(tmp_path: Path, text: str) -> None:
    assert problems_of(tmp_path, text) == ["workflow.yaml:1: expected a mapping at the top level"]


def test_a_missing_workflow_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        workflow_file.load_with_problems(tmp_path / "workflow.yaml")


# --- bugs: crashes and mistakes the loader lets through -------------------------------------------------


def test_a_state_owner_that_is_a_list_is_a_problem(tmp_path: Path) -> None:
    text = broken("open: {owner: agent}", "open: {owner: [agent]}")
    assert problems_of(tmp_path, text)[0].startswith(f"workflow.yaml:{line_of(text, 'owner: [agent]')}: ")


def test_rules_that_are_not_a_list_are_a_problem(tmp_path: Path) -> None:
    text = broken("rules: [{require: {size: {gt: 0}}, message: size must be positive}]", "rules: 5")
    assert problems_of(tmp_path, text) == [
        f"workflow.yaml:{line_of(text, 'rules: 5')}: types.t.transitions[0].rules: expected a list"
    ]


@pytest.mark.parametrize("condition", ["{all: 5}", "{all: [5]}", "{any: [size]}", "{not: 5}"])
def test_a_malformed_combinator_in_a_rule_without_message_is_a_problem(
    tmp_path: Path, condition: str
) -> None:
    text = broken(
        "rules: [{require: {size: {gt: 0}}, message: size must be positive}]",
        f"rules: [{{require: {condition}}}]",
    )
    assert problems_of(tmp_path, text) != []


@pytest.mark.parametrize("with_set", [False, True], ids=["alone", "with-set"])
def test_a_number_field_whose_min_is_not_a_number_is_a_problem(tmp_path: Path, with_set: bool) -> None:
    text = broken("type: number", "type: number\n        min: abc")
    if with_set:
        text = text.replace("requires: [size]", "requires: [size]\n        set: {size: 1}")
    assert any(
        p.startswith(f"workflow.yaml:{line_of(text, 'min: abc')}: ") for p in problems_of(tmp_path, text)
    )


@pytest.mark.parametrize("condition", ["{size: {gt: ten}}", "{kind: {in: big}}", "{size: {lte: [1]}}"])
def test_an_operator_with_an_argument_of_the_wrong_kind_is_a_problem(tmp_path: Path, condition: str) -> None:
    text = broken("require: {size: {gt: 0}}", f"require: {condition}")
    assert problems_of(tmp_path, text) != []


def test_a_rule_with_an_empty_require_is_a_problem(tmp_path: Path) -> None:
    text = broken("require: {size: {gt: 0}}", "require: null")
    assert problems_of(tmp_path, text) != []


# --- fuzz -------------------------------------------------------------------------------------------------

KEYS = """
    version settings policies roles people permissions types t prefix label initial fields states transitions
    create name from to requires rules set add_labels remove_labels emails fresh note when require message
    owner terminal type values min max set_by all any not policy.p template a x@y.z
""".split()
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(KEYS)
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def load_or_erflow_error(tmp_path: Path, text: str) -> None:
    try:
        workflow_file.load_with_problems(write(tmp_path, text))
    except ErflowError:
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), documents, max_size=7).map(yaml.safe_dump) | st.text())
@example("roles: [a\x01]")
def test_load_with_problems_of_random_documents_raises_only_erflow_errors(tmp_path: Path, text: str) -> None:
    load_or_erflow_error(tmp_path, text)


DEFAULT_DATA = yaml.safe_load(DEFAULT_PATH.read_text())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


DEFAULT_PATHS = _paths(DEFAULT_DATA)[1:]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(DEFAULT_PATHS), documents), min_size=1, max_size=3))
@example([(("types", "enhancement", "states", "payment", "owner"), [])])
def test_the_default_workflow_with_random_values_swapped_in_raises_only_erflow_errors(
    tmp_path: Path, mutations: list[tuple[tuple[Any, ...], Any]]
) -> None:
    data = copy.deepcopy(DEFAULT_DATA)
    for path, value in mutations:
        node = data
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    load_or_erflow_error(tmp_path, yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
