"""Timers, SLA clocks and `erflow sweep --now`: the right action at the right moment, once, never early."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, check_refuses_edit, commit_info, commits_since

from erflow.core.businesstime import Calendar, Duration, parse_duration

# 2026-11-02 is a Monday; the conftest pins every command at 2026-11-02T09:00:00+00:00.
WORKFLOW = textwrap.dedent(
    """\
    version: 1
    settings:
      portal_url: "https://help.example.com/{id}"
      sender: "Docs <docs@example.com>"
      sender_name: Docs
    policies: {}
    calendar:
      timezone: "+00:00"
      days: [mon, tue, wed, thu, fri]
      hours: "09:00-17:00"
      holidays: ["2026-11-11"]
    roles: {agent: Agent, lead: Lead}
    people:
      a1@example.com: {name: Ann, roles: [agent]}
      lead@example.com: {name: Lee, roles: [lead]}
    permissions: {new: [agent], set: [agent], note: ["*"], assign: [lead], link: [lead]}
    types:
      doc:
        prefix: DOC
        initial: open
        fields:
          severity: {type: enum, values: [critical, normal]}
        states:
          open: {owner: agent}
          on_hold: {owner: agent, waiting: customer}
          delivered: {owner: agent}
          closed: {terminal: true}
        transitions:
          - {name: ready_to_test, from: open, to: on_hold, roles: [agent]}
          - {name: confirmed, from: on_hold, to: delivered, roles: [agent]}
          - {name: publish, from: on_hold, to: delivered, roles: [agent]}
          - {name: close, from: delivered, to: closed, roles: [agent]}
        sla:
          clock: business
          at_risk: 0.5
          targets:
            - {when: {severity: critical}, response: 2h, resolution: 1d}
            - {response: 1d, resolution: 3d}
          escalate:
            note: SLA breached
            assign: {person: lead@example.com}
            add_labels: [sla-breached]
        timers:
          - {name: nudge, state: on_hold, after: 3d, email: nudge_email}
          - {name: hand_over, state: on_hold, after: 4d, transition: publish}
          - {name: auto_close, state: delivered, after: 24h, transition: close}
          - {name: monday_reset, every: "mon 09:00", state: on_hold, email: reset_email}
    """
)
TEMPLATES = {
    "nudge_email": "Subject: Still testing {{ id }}?\n\nHi {{ customer_name }},\n\nAny news?\n",
    "reset_email": "Subject: Onboard resets tonight ({{ id }})\n\nHi {{ customer_name }},\n\nTest today.\n",
}
AGENT = "a1@example.com"


@pytest.fixture
def docs(run: Cli, store: Path) -> Cli:
    (store / "workflow.yaml").write_text(WORKFLOW, encoding="utf-8")
    for name, text in TEMPLATES.items():
        (store / "templates" / f"{name}.j2").write_text(text, encoding="utf-8")
    run.commit_all("a docs workflow with timers")
    run.ok("check")
    return run


def at(text: str) -> dict[str, str | None]:
    return {"ERFLOW_NOW": text}


def new_doc(run: Cli, *sets: str, when: str = "2026-11-02T09:00:00+00:00") -> str:
    args = [a for s in sets for a in ("--set", s)]
    flags = [
        "--title",
        "Contract template",
        "--customer-name",
        "Jane",
        "--customer-email",
        "jane@acme.example",
    ]
    return str(run.ok("new", "doc", *flags, *args, user=AGENT, env=at(when)).stdout.strip())


def sweep(run: Cli, now: str, *extra: str) -> list[dict[str, Any]]:
    data = run.json("sweep", "--now", now, *extra, user=AGENT)
    assert data["now"] == now
    actions: list[dict[str, Any]] = data["actions"]
    return actions


def on_hold(run: Cli, when: str = "2026-11-02T09:00:00+00:00") -> str:
    ticket_id = new_doc(run, when=when)
    run.ok("advance", ticket_id, "ready_to_test", user=AGENT, env=at(when))
    return ticket_id


# --- timers ----------------------------------------------------------------------------------


def test_nothing_fires_before_its_time(docs: Cli) -> None:
    on_hold(docs)
    before = docs.snapshot()
    assert sweep(docs, "2026-11-05T08:59:59+00:00") == []
    assert docs.snapshot() == before


def test_the_nudge_fires_three_days_after_entering_the_state_once(docs: Cli) -> None:
    ticket_id = on_hold(docs)
    head = docs.head()
    (action,) = sweep(docs, "2026-11-05T09:00:00+00:00")
    assert (action["ticket"], action["timer"], action["done"]) == (ticket_id, "nudge", True)
    assert action["due"] == "2026-11-05T09:00:00+00:00"
    assert action["emails"] == [
        {
            "template": "nudge_email",
            "to": "jane@acme.example",
            "subject": f"[{ticket_id}] Still testing {ticket_id}?",
            "sent": False,
        }
    ]
    assert commits_since(docs.root, head) == [action["commit"]]
    info = commit_info(docs.root)
    assert info.trailers["Erflow-Timer"] == ["nudge"]
    assert info.trailers["Erflow-Action"] == ["sweep"]
    again = docs.snapshot()
    assert sweep(docs, "2026-11-05T09:00:00+00:00") == []
    assert sweep(docs, "2026-11-05T12:00:00+00:00") == []
    assert docs.snapshot() == again
    docs.ok("check")


def test_the_hand_over_moves_the_ticket_a_day_after_the_nudge(docs: Cli) -> None:
    ticket_id = on_hold(docs)
    sweep(docs, "2026-11-05T10:00:00+00:00")
    (action,) = sweep(docs, "2026-11-06T09:00:00+00:00")
    assert (action["timer"], action["from"], action["to"]) == ("hand_over", "on_hold", "delivered")
    assert docs.show(ticket_id)["state"] == "delivered"
    assert docs.show(ticket_id)["state_entered"] == "2026-11-06T09:00:00+00:00"


def test_a_late_sweep_runs_every_due_timer_in_order_and_new_state_timers_start_then(docs: Cli) -> None:
    ticket_id = on_hold(docs)
    actions = sweep(docs, "2026-11-20T09:00:00+00:00")
    assert [(a["timer"], a["done"]) for a in actions] == [("nudge", True), ("hand_over", True)]
    assert docs.show(ticket_id)["state"] == "delivered"
    assert sweep(docs, "2026-11-21T08:59:59+00:00") == []  # auto_close counts from the hand-over
    (close,) = sweep(docs, "2026-11-21T09:00:00+00:00")
    assert (close["timer"], close["to"]) == ("auto_close", "closed")


def test_auto_close_counts_calendar_hours_over_a_weekend(docs: Cli) -> None:
    ticket_id = new_doc(docs, when="2026-11-06T15:00:00+00:00")  # a Friday
    docs.ok("advance", ticket_id, "ready_to_test", user=AGENT, env=at("2026-11-06T15:00:00+00:00"))
    docs.ok("advance", ticket_id, "confirmed", user=AGENT, env=at("2026-11-06T16:00:00+00:00"))
    assert sweep(docs, "2026-11-07T15:59:00+00:00") == []
    (action,) = sweep(docs, "2026-11-07T16:00:00+00:00")
    assert (action["timer"], action["to"]) == ("auto_close", "closed")


def test_re_entering_a_state_starts_its_timers_afresh(docs: Cli) -> None:
    ticket_id = on_hold(docs)
    sweep(docs, "2026-11-05T09:00:00+00:00")  # nudge
    sweep(docs, "2026-11-06T09:00:00+00:00")  # hand over to delivered
    assert docs.show(ticket_id)["state"] == "delivered"
    path = docs.path(ticket_id)
    assert "nudge@2026-11-02T09:00:00+00:00" in path.read_text(encoding="utf-8")


def test_the_monday_reminder_goes_to_every_ticket_on_hold_and_only_on_monday(docs: Cli) -> None:
    saturday = "2026-11-07T10:00:00+00:00"  # their nudges fall due on Tuesday 10:00
    first, second = on_hold(docs, saturday), on_hold(docs, saturday)
    waiting = new_doc(docs, when=saturday)  # still open: no reminder
    assert sweep(docs, "2026-11-08T12:00:00+00:00") == []  # Sunday
    actions = sweep(docs, "2026-11-09T09:30:00+00:00")  # Monday
    assert sorted((a["ticket"], a["timer"]) for a in actions) == sorted(
        [(first, "monday_reset"), (second, "monday_reset")]
    )
    assert waiting not in {a["ticket"] for a in actions}
    assert sweep(docs, "2026-11-09T16:00:00+00:00") == []  # once per Monday
    tuesday = sweep(docs, "2026-11-10T09:30:00+00:00")  # past the one-day window (only SLA work is due)
    assert [a["timer"] for a in tuesday] == ["sla_response"] and tuesday[0]["ticket"] == waiting


def test_a_dry_run_lists_what_is_due_and_changes_nothing(docs: Cli) -> None:
    on_hold(docs)
    before = docs.snapshot()
    (action,) = sweep(docs, "2026-11-05T09:00:00+00:00", "--dry-run")
    assert (action["timer"], action["done"], action["commit"]) == ("nudge", False, None)
    assert docs.snapshot() == before


def test_a_timer_transition_whose_gate_fails_is_reported_and_changes_nothing(docs: Cli) -> None:
    path = docs.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "{name: publish, from: on_hold, to: delivered, roles: [agent]}",
        "{name: publish, from: on_hold, to: delivered, roles: [agent], requires: [severity]}",
    )
    path.write_text(text, encoding="utf-8")
    docs.commit_all("publish needs a severity")
    ticket_id = on_hold(docs)
    sweep(docs, "2026-11-05T09:00:00+00:00")
    before = docs.snapshot()
    (action,) = sweep(docs, "2026-11-06T09:00:00+00:00")
    assert action["done"] is False and "severity" in action["reason"]
    assert docs.snapshot() == before
    assert docs.show(ticket_id)["state"] == "on_hold"


# --- SLA -------------------------------------------------------------------------------------


def test_a_breached_response_is_escalated_once(docs: Cli) -> None:
    ticket_id = new_doc(docs, "severity=critical")
    assert sweep(docs, "2026-11-02T10:59:00+00:00") == []
    (action,) = sweep(docs, "2026-11-02T11:00:01+00:00")
    assert action["timer"] == "sla_response"
    shown = docs.show(ticket_id)
    assert shown["owner"] == "lead@example.com"
    assert shown["labels"] == ["sla-breached"]
    assert "SLA breached" in shown["body"]
    assert sweep(docs, "2026-11-02T12:00:00+00:00") == []


def test_a_response_in_time_stops_the_response_clock(docs: Cli) -> None:
    ticket_id = new_doc(docs, "severity=critical")
    docs.ok("advance", ticket_id, "ready_to_test", user=AGENT, env=at("2026-11-02T10:00:00+00:00"))
    shown = docs.show(ticket_id)
    assert shown["responded"] == "2026-11-02T10:00:00+00:00"
    assert [
        a["timer"] for a in sweep(docs, "2026-11-02T12:00:00+00:00") if a["timer"].startswith("sla")
    ] == []


def test_time_waiting_on_the_customer_pauses_the_resolution_clock(docs: Cli) -> None:
    ticket_id = new_doc(docs, "severity=critical")  # resolution 1 business day: due Tue 09:00
    docs.ok("advance", ticket_id, "ready_to_test", user=AGENT, env=at("2026-11-02T10:00:00+00:00"))
    docs.ok("advance", ticket_id, "confirmed", user=AGENT, env=at("2026-11-02T14:00:00+00:00"))
    shown = docs.show(ticket_id)
    assert shown["sla_paused_minutes"] == 240
    assert [a["timer"] for a in sweep(docs, "2026-11-03T12:59:00+00:00")] == []
    assert [a["timer"] for a in sweep(docs, "2026-11-03T13:00:01+00:00")] == ["sla_resolution"]


def test_show_and_list_flag_at_risk_and_breached_tickets(docs: Cli) -> None:
    ticket_id = new_doc(docs)  # response 1 business day: due Tue 09:00; at risk from Mon 13:00
    assert "at risk" in docs.ok("show", ticket_id, env=at("2026-11-02T13:30:00+00:00")).stdout
    listed = docs.ok("list", env=at("2026-11-03T09:30:00+00:00")).stdout
    assert "SLA" in listed and "breached" in listed


# --- the business calendar -------------------------------------------------------------------

UTC = dt.timezone.utc
CAL = Calendar.parse("+00:00", ["mon", "tue", "wed", "thu", "fri"], "09:00-17:00", ["2026-12-25"])


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        ("2026-11-20T15:00", "1d", "2026-11-23T15:00"),  # Friday + 1 working day = Monday
        ("2026-11-20T15:00", "4h", "2026-11-23T11:00"),  # 2 h Friday, 2 h Monday
        ("2026-11-21T10:00", "1h", "2026-11-23T10:00"),  # Saturday: from Monday's opening
        ("2026-12-24T16:00", "2h", "2026-12-28T10:00"),  # over Christmas and a weekend
        ("2026-11-23T08:00", "30m", "2026-11-23T09:30"),  # before opening
    ],
)
def test_business_time_skips_nights_weekends_and_holidays(start: str, duration: str, due: str) -> None:
    begin = dt.datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert CAL.add(begin, parse_duration(duration)) == dt.datetime.fromisoformat(due).replace(tzinfo=UTC)


def test_elapsed_business_time_counts_only_working_hours() -> None:
    friday = dt.datetime(2026, 11, 20, 15, tzinfo=UTC)
    monday = dt.datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert CAL.elapsed(friday, monday) == dt.timedelta(hours=3)
    assert CAL.elapsed(monday, friday) == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "duration"), [("3d", Duration(3)), ("1d4h", Duration(1, 240)), ("3 days", Duration(3))]
)
def test_durations_are_read(text: str, duration: Duration) -> None:
    assert parse_duration(text) == duration


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        ("after: 3d, email: nudge_email", "after: 3 fortnights, email: nudge_email"),
        ('every: "mon 09:00"', 'every: "someday"'),
        ("after: 24h, transition: close", "after: 24h, transition: reopen"),
        ("{name: nudge, state: on_hold", "{name: nudge, state: limbo"),
        ('hours: "09:00-17:00"', 'hours: "17:00-09:00"'),
        ("at_risk: 0.5", "at_risk: 5"),
        (
            "{name: hand_over, state: on_hold, after: 4d, transition: publish}",
            "{name: hand_over, state: on_hold}",
        ),
    ],
)
def test_check_names_a_broken_timer_sla_or_calendar(docs: Cli, change: str, broken: str) -> None:
    check_refuses_edit(docs, change, broken)


# --- reports ---------------------------------------------------------------------------------


def test_report_sla_lists_every_clock_worst_first(docs: Cli) -> None:
    late = new_doc(docs, "severity=critical")
    fine = new_doc(docs)
    data = docs.json("report", "sla", env=at("2026-11-02T11:30:00+00:00"))
    assert data["columns"][:2] == ["id", "type"]
    rows = [(r["id"], r["clock"], r["status"]) for r in data["rows"]]
    assert rows[0] == (late, "response", "breached")
    assert (fine, "response", "running") in rows
    assert {r["target"] for r in data["rows"] if r["id"] == late} == {"2h", "1d"}
    csv = docs.ok("report", "sla", "--csv", env=at("2026-11-02T11:30:00+00:00")).stdout.splitlines()
    assert csv[0] == "id,type,state,owner,clock,target,due,elapsed_minutes,paused_minutes,status"
    assert len(csv) == 1 + len(rows)


def test_report_workload_counts_open_tickets_and_hours_per_owner(docs: Cli) -> None:
    first = new_doc(docs)
    new_doc(docs)
    docs.ok("log-time", first, "2", "--billable", user=AGENT)
    (row,) = docs.json("report", "workload")["rows"]
    assert row == {"owner": AGENT, "open": 2, "hours_logged": 2.0, "billable_hours": 2.0, "roles": "agent"}


def test_an_unknown_report_is_not_found(docs: Cli) -> None:
    result = docs("report", "horoscope")
    assert result.exit_code == 4
    assert "sla" in result.stderr


def test_a_long_sweep_reports_its_progress_after_finding_everything_due(
    docs: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erflow.app import sweep
    from erflow.app.context import open_context

    tickets = [new_doc(docs) for _ in range(3)]
    monkeypatch.setattr(sweep, "PROGRESS_FROM", 2)
    env = {"ERFLOW_NOW": "2026-11-20T09:00:00+00:00", "ERFLOW_USER": AGENT}
    seen: list[tuple[int, int]] = []

    dry = sweep.sweep(
        open_context(str(docs.root), env, docs.root),
        dry_run=True,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [] and {a.ticket for a in dry} == set(tickets) and len(dry) >= 3
    done = sweep.sweep(
        open_context(str(docs.root), env, docs.root), progress=lambda d, t: seen.append((d, t))
    )
    assert [(a.ticket, a.name) for a in done] == [(a.ticket, a.name) for a in dry]
    assert seen == [(n, len(dry)) for n in range(1, len(dry) + 1)]
    monkeypatch.setattr(sweep, "PROGRESS_FROM", 100)
    seen.clear()
    assert (
        sweep.sweep(open_context(str(docs.root), env, docs.root), progress=lambda d, t: seen.append((d, t)))
        == []
    )
    assert seen == []
