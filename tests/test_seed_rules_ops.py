"""Rules of seeds 001 and 003 that the default workflow encodes as data, each played on a fresh store:
on-call is whoever holds the ``oncall`` role (a third engineer joins the rota by being listed), a
critical bug breaching its SLA stays with its owner while the others go to the PM, a rejection tells
the submitter why (seed 001); the doc change nudge counts from the last email to the customer and the
hand-over from the nudge however late the sweep runs, and the Monday reminder goes only to customers
still testing (seed 003). Every command runs at 2026-11-02T09:00:00+00:00 (a Monday) unless told.
"""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

from conftest import CUSTOMER_EMAIL, PM, SUPPORT, Cli, Mailbox, commit_info, commits_since, describe
from test_default_timers import at, doc_on_hold, sweep
from test_other_types import (
    CS_TEAM,
    ONCALL_A,
    ONCALL_B,
    TRIAGE,
    configured_doc,
    default_type,
    new_bug,
    owner,
    step,
)
from test_seed_rules import body_of
from test_workflow_apply import apply, audit, edited_workflow

from erflow.core.workflow import Assign
from erflow.store import workflow_file

ONCALL_C = "oncall-c@example.com"
THIRD_ON_CALL = (
    "  oncall-b@example.com: {name: On-call Engineer B, roles: [oncall]}\n",
    "  oncall-b@example.com: {name: On-call Engineer B, roles: [oncall]}\n"
    "  oncall-c@example.com: {name: On-call Engineer C, roles: [oncall]}\n",
)


def bug_at(run: Cli, time: str, severity: str = "critical") -> str:
    """A new bug reported on Monday 2026-11-02 at ``time``; its id."""
    data = run.json(
        "new", "bug", "--title", f"Outage at {time}", "--customer-email", CUSTOMER_EMAIL,
        "--customer-name", "Jane Doe", "--set", f"severity={severity}", user=SUPPORT,
        env=at(f"2026-11-02T{time}:00+00:00"),
    )  # fmt: skip
    return str(data["id"])


def timer_actions(run: Cli, now: str, ticket_id: str) -> list[dict[str, Any]]:
    return [a for a in sweep(run, now) if a["ticket"] == ticket_id]


# ---------------------------------------------------------------------------------------------
# Seed 001: on-call is a role


def test_the_on_call_state_keeps_an_on_call_owner_else_takes_the_next_on_the_rota(run: Cli) -> None:
    run.init()
    on_call = default_type(run, "bug").states["on_call"]
    assert on_call.owner == "oncall"
    assert on_call.assign == (Assign(rule="round_robin", keep=True),)
    assert "oncall-a@" not in (run.root / "workflow.yaml").read_text(encoding="utf-8").split("on_call:")[1]

    # A critical bug found in discovery: its PM owner is no on-call engineer, so the rota picks one.
    first, _ = new_bug(run, "severity=critical", title="Payments down")  # the rota: A
    found, _ = new_bug(run, "severity=high", title="Search slow")
    step(run, found, "triage", TRIAGE)
    assert owner(run, found) == PM
    step(run, found, "escalate_on_call", PM, severity="critical")
    assert owner(run, found) == ONCALL_B
    step(run, first, "escalate_on_call", TRIAGE)
    assert owner(run, first) == ONCALL_A  # kept: A holds the oncall role


def test_a_third_on_call_engineer_joins_the_rota_by_being_listed_under_people(
    run: Cli, tmp_path: Path
) -> None:
    run.init()
    first, second = bug_at(run, "09:01"), bug_at(run, "09:02")
    assert [owner(run, first), owner(run, second)] == [ONCALL_A, ONCALL_B]

    result = apply(run, edited_workflow(run, tmp_path, *THIRD_ON_CALL))
    assert result.exit_code == 0, describe(result)

    third = bug_at(run, "09:03")
    assert owner(run, third) == ONCALL_C  # no other line of workflow.yaml changed
    run.json("advance", third, "escalate_on_call", user=ONCALL_C, env=at("2026-11-02T09:04:00+00:00"))
    assert owner(run, third) == ONCALL_C
    fourth = bug_at(run, "09:05")
    assert owner(run, fourth) == ONCALL_A
    found = bug_at(run, "09:06", severity="medium")
    run.json("advance", found, "triage", user=TRIAGE, env=at("2026-11-02T09:07:00+00:00"))
    run.json(
        "advance", found, "escalate_on_call", "--set", "severity=critical", user=PM,
        env=at("2026-11-02T09:08:00+00:00"),
    )  # fmt: skip
    assert owner(run, found) == ONCALL_B  # B was given one longest ago
    assert audit(run) == (0, [])


def test_keep_goes_with_a_rotating_rule_and_is_true_or_false(tmp_path: Path) -> None:
    base = workflow_file.load_with_problems
    text = (Path(workflow_file.__file__).parents[1] / "defaults" / "workflow.yaml").read_text()
    rule = "assign: {rule: round_robin, keep: true}"
    assert text.count(rule) == 1
    for bad, message in [
        ("assign: {rule: keep, keep: true}", "keep: true goes with the rule fewest_open or round_robin"),
        ("assign: {rule: round_robin, keep: yes-please}", "expected true or false"),
    ]:
        path = tmp_path / "workflow.yaml"
        path.write_text(text.replace(rule, bad), encoding="utf-8")
        loaded, problems = base(path)
        assert loaded is None
        assert [p for p in problems if "types.bug.states.on_call.assign.keep" in p and message in p], problems


# ---------------------------------------------------------------------------------------------
# Seed 001: SLA escalation as a route, and the rejection's reason


def test_the_sla_escalation_is_a_route_and_a_critical_bug_keeps_its_on_call_owner(
    run: Cli, tmp_path: Path
) -> None:
    run.init()
    sla = default_type(run, "bug").sla
    assert sla is not None
    assert sla.escalate.assign == (
        Assign(rule="unchanged", when={"severity": "critical"}),
        Assign(role="pm"),
    )
    critical, _ = new_bug(run, "severity=critical", title="Payments down")
    high, _ = new_bug(run, "severity=high", title="Search slow")
    assert (owner(run, critical), owner(run, high)) == (ONCALL_A, TRIAGE)

    # Critical: a 1-hour response, around the clock; high: 4 business hours.
    (action,) = timer_actions(run, "2026-11-02T10:00:01+00:00", critical)
    assert (action["timer"], action["done"]) == ("sla_response", True)
    shown = run.show(critical)
    assert (shown["owner"], shown["labels"]) == (ONCALL_A, ["sla-breached"])

    (action,) = timer_actions(run, "2026-11-02T13:00:01+00:00", high)
    assert action["timer"] == "sla_response"
    shown = run.show(high)
    assert (shown["owner"], shown["labels"]) == (PM, ["sla-breached"])
    assert audit(run) == (0, [])

    path = tmp_path / "workflow.yaml"
    text = (run.root / "workflow.yaml").read_text(encoding="utf-8")
    for old, new, message in [
        ("rule: unchanged}", "rule: unchanged, role: pm}", "the rule unchanged keeps the owner"),
        ("- {role: pm}\n        add_labels: [sla-breached]", "- {when: {severity: high}, role: pm}\n"
         "        add_labels: [sla-breached]", "the last branch must have no when: (it is the default)"),
    ]:  # fmt: skip
        assert text.count(old) == 1, old
        path.write_text(text.replace(old, new), encoding="utf-8")
        loaded, problems = workflow_file.load_with_problems(path)
        assert loaded is None
        assert [p for p in problems if "types.bug.sla.escalate.assign" in p and message in p], problems


def test_rejecting_a_bug_tells_the_submitter_the_reason(run: Cli, smtp_server: Mailbox) -> None:
    run.init()
    bug, _ = new_bug(run, "severity=low", title="Footer colour is slightly off")
    step(run, bug, "triage", TRIAGE)
    reason = "The colour follows the current brand guide (v3, page 12)"
    data = step(
        run, bug, "reject", PM, "--send", discovery_notes="Matches the brand guide", reject_reason=reason
    )

    assert data["to"] == "rejected"
    assert [(e["template"], e["sent"]) for e in data["emails"]] == [("bug_rejected", True)]
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    message = email.message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == f"[{bug}] Bug {bug} - Decision Update"
    assert reason in " ".join(body_of(message).split())


# ---------------------------------------------------------------------------------------------
# Seed 003: the test loop's timers count from the last email to the customer


def test_a_sweep_ten_days_late_sends_only_the_nudge_and_the_hand_over_follows_a_day_later(
    run: Cli, tmp_path: Path
) -> None:
    run.init()
    doc = doc_on_hold(run, tmp_path)  # Monday 09:00: the first test email
    assert run.show(doc)["last_emailed"] == "2026-11-02T09:00:00+00:00"

    (nudge,) = timer_actions(run, "2026-11-12T10:00:00+00:00", doc)  # a Thursday, ten days on
    assert (nudge["timer"], nudge["to"]) == ("nudge_after_3_days", "on_hold")
    assert [e["template"] for e in nudge["emails"]] == ["doc_ready_to_test_second"]
    shown = run.show(doc)
    assert (shown["nudge_sent"], shown["last_emailed"]) == (True, "2026-11-12T10:00:00+00:00")

    assert timer_actions(run, "2026-11-13T09:59:00+00:00", doc) == []
    (hand_over,) = timer_actions(run, "2026-11-13T10:00:00+00:00", doc)
    assert (hand_over["timer"], hand_over["to"]) == ("hand_over_a_day_later", "todo")
    assert run.show(doc)["test_status"] == "no_reply"
    assert audit(run) == (0, [])


def test_a_reply_to_the_customer_restarts_the_nudges_three_days(
    run: Cli, tmp_path: Path, smtp_server: Mailbox
) -> None:
    run.init()
    doc = doc_on_hold(run, tmp_path)
    run.ok(
        "reply", doc, "--text", "Did the test account work for you?", user=SUPPORT,
        env=at("2026-11-04T11:00:00+00:00"),
    )  # fmt: skip
    assert run.show(doc)["last_emailed"] == "2026-11-04T11:00:00+00:00"
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[CUSTOMER_EMAIL]]

    assert timer_actions(run, "2026-11-07T10:59:00+00:00", doc) == []
    (nudge,) = timer_actions(run, "2026-11-07T11:00:00+00:00", doc)
    assert nudge["timer"] == "nudge_after_3_days"
    assert audit(run) == (0, [])


def test_the_monday_reminder_goes_only_to_customers_still_testing(run: Cli, tmp_path: Path) -> None:
    run.init()
    (timer,) = [t for t in default_type(run, "doc_change").timers if t.name == "monday_onboard_reset"]
    assert timer.when == {"test_status": "testing"}
    testing = doc_on_hold(run, tmp_path)
    confirmed = doc_on_hold(run, tmp_path)
    step(run, confirmed, "customer_confirmed", SUPPORT, "--note", "Looks good")
    assert run.show(confirmed)["test_status"] == "confirmed"

    fired = [a for a in sweep(run, "2026-11-09T09:30:00+00:00") if a["timer"] == "monday_onboard_reset"]
    assert [(a["ticket"], a["emails"][0]["template"]) for a in fired] == [(testing, "doc_onboard_reset")]


# ---------------------------------------------------------------------------------------------
# Seed 003: the CS configuration ticket follows its document change request


def test_the_configuration_ticket_follows_its_doc_tickets_state_and_notes_in_the_same_commit(
    run: Cli, tmp_path: Path
) -> None:
    run.init()
    follows = default_type(run, "config").follows
    assert follows is not None
    assert (follows.link, follows.states["delivered"], follows.notes) == ("created_by", "done", True)
    doc, config = configured_doc(run, tmp_path, wants_to_test=True)

    run.ok("note", doc, "The addendum goes after section 4", user=SUPPORT)
    assert sorted(commit_info(run.root).files) == sorted(
        str(run.path(t).relative_to(run.root)) for t in (doc, config)
    )
    assert "The addendum goes after section 4" in run.show(config)["body"]

    step(run, doc, "ready_to_test", CS_TEAM[0])
    step(run, doc, "customer_confirmed", SUPPORT, "--note", "Approved by Jane on the phone")
    shown = run.show(config)
    assert shown["state"] == "open" and "Approved by Jane on the phone" in shown["body"]

    data = step(run, doc, "publish", CS_TEAM[0])
    assert data["to"] == "delivered" and data["created"] == []
    assert set(commit_info(run.root).trailers["Erflow-Ticket"]) == {doc, config}
    shown = run.show(config)
    assert (shown["state"], shown["resolved"]) == ("done", "2026-11-02T09:00:00+00:00")
    assert f"follows {doc}: open → done ({doc} is delivered)" in shown["body"]

    # The customer finds an error after publication: back to CS, and the CS ticket opens again.
    step(run, doc, "customer_reported_issue", SUPPORT, "--note", "Wrong dealer name on page 2")
    shown = run.show(config)
    assert (shown["state"], "resolved" in shown) == ("open", False)
    assert "Wrong dealer name on page 2" in shown["body"]
    step(run, doc, "ready_to_test", CS_TEAM[0])
    step(run, doc, "customer_confirmed", SUPPORT, "--note", "Fixed, approved")
    step(run, doc, "publish", CS_TEAM[0])
    assert run.state(config) == "done"
    before = run.head()
    (close,) = timer_actions(run, "2026-11-03T09:00:00+00:00", doc)
    assert close["to"] == "closed"
    assert commit_info(run.root).files == [str(run.path(doc).relative_to(run.root))]  # done already
    assert len(commits_since(run.root, before)) == 1
    assert run.state(config) == "done"
    assert audit(run) == (0, [])
    run.ok("check")


def test_a_hand_made_follower_move_the_workflow_does_not_map_is_a_violation(run: Cli, tmp_path: Path) -> None:
    run.init()
    doc, config = configured_doc(run, tmp_path, wants_to_test=True)
    step(run, doc, "ready_to_test", CS_TEAM[0])
    path = run.path(config)
    path.write_text(path.read_text(encoding="utf-8").replace("state: open", "state: done"), encoding="utf-8")
    message = run.git("log", "-1", "--format=%B").replace(
        f"Erflow-Ticket: {doc}\n", f"Erflow-Ticket: {doc}\nErflow-Ticket: {config}\n"
    )
    assert f"Erflow-Ticket: {config}" in message
    run.git("add", "-A")
    run.git(
        "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "--amend", "-m", message
    )  # as if ready_to_test had moved the CS ticket too
    code, violations = audit(run)
    assert code == 3
    assert [v["reason"] for v in violations if v["ticket"] == config] == [
        f"{config} went to done, but follows {doc} (on_hold) to no state"
    ]


def test_follows_is_checked_against_the_states_and_the_link_that_create_the_follower(tmp_path: Path) -> None:
    text = (Path(workflow_file.__file__).parents[1] / "defaults" / "workflow.yaml").read_text()
    line = "follows: {link: created_by, states: {delivered: done, closed: done, declined: done, todo: open}"
    assert text.count(line) == 1
    path = tmp_path / "workflow.yaml"
    for bad, message in [
        ("follows: {link: created_by, states: {delivered: finished", "unknown state 'finished'"),
        ("follows: {link: created_by, states: {published: done", "'published' is not a state of doc_change"),
        ("follows: {link: blocked_by, states: {delivered: done", "no transition creates a config ticket"),
        ("follows: {link: made_by, states: {delivered: done", "unknown link 'made_by'"),
    ]:
        path.write_text(text.replace(line, bad + line.split("delivered: done")[1]), encoding="utf-8")
        loaded, problems = workflow_file.load_with_problems(path)
        assert loaded is None
        assert [p for p in problems if "types.config.follows" in p and message in p], problems
