"""``erflow reminders``: what waits on a person, most urgent first: the open tickets they own (with
SLA time left), steps only their role can take, timers due within 24 hours, and customer replies
since their last action. Real git stores driven through the CLI; ``ERFLOW_NOW`` moves the clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import BOARD, NICK, PM, SUPPORT, Cli, describe, one_line_error
from test_mail_in import at_needs_info, message, receive
from test_other_types import TRIAGE, new_bug
from test_sweep import AGENT, TEMPLATES, WORKFLOW, new_doc

KEYS = {"id", "title", "kind", "why", "urgency", "next"}


def reminders(run: Cli, user: str, *extra: str, now: str | None = None) -> list[dict[str, Any]]:
    env = {"ERFLOW_NOW": now} if now else None
    rows: list[dict[str, Any]] = run.json("reminders", *extra, user=user, env=env)
    return rows


def kinds(rows: list[dict[str, Any]], ticket_id: str) -> list[str]:
    return [row["kind"] for row in rows if row["id"] == ticket_id]


def test_a_pm_sees_the_tickets_they_own_as_json_and_as_plain_lines(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")

    rows = reminders(run, PM)

    assert [set(row) for row in rows] == [KEYS]
    (row,) = rows
    assert (row["id"], row["title"], row["kind"]) == (ticket_id, "Export invoices to CSV", "owned")
    assert row["next"] == "request_info" and "PM review" in row["why"]
    assert isinstance(row["urgency"], int)
    assert reminders(run, SUPPORT) == []  # support made it, but no longer owns it
    line = run.ok("reminders", user=PM).stdout.splitlines()
    assert line == [
        f"{ticket_id}\tExport invoices to CSV\towned\t{row['why']}\t{row['urgency']}\trequest_info"
    ]
    assert reminders(run, SUPPORT, "--for", PM) == rows


def test_a_board_member_sees_product_board_tickets_as_needing_their_role(run: Cli) -> None:
    ticket_id = run.ticket_at("product_board")
    assert run.show(ticket_id)["owner"] == "board"  # a queue: nobody owns it yet

    for member in (BOARD, NICK):
        (row,) = reminders(run, member)
        assert (row["id"], row["kind"]) == (ticket_id, "your role")
        assert row["next"] == "approve_no_quote" and "needs board" in row["why"]
    assert reminders(run, PM) == []  # the PM approved it; the board decides now


def test_an_overdue_sla_ticket_sorts_first(run: Cli, store: Path) -> None:
    relaxed, _ = new_bug(run, "severity=low", title="Footer colour")
    urgent, _ = new_bug(run, "severity=high", title="Checkout button does nothing")
    assert run.show(relaxed)["owner"] == run.show(urgent)["owner"] == TRIAGE

    rows = reminders(run, TRIAGE, now="2026-11-02T15:00:00+00:00")  # 6 business hours later

    assert [(row["id"], row["kind"]) for row in rows] == [(urgent, "owned"), (relaxed, "owned")]
    assert rows[0]["urgency"] == -120 and "SLA response breached 2h ago" in rows[0]["why"]
    assert rows[1]["urgency"] > 0 and "SLA response due in" in rows[1]["why"]
    assert rows[0]["next"] == "triage"


def test_a_customer_reply_shows_until_the_owner_adds_a_note(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = at_needs_info(run)
    assert kinds(reminders(run, PM), ticket_id) == ["owned"]

    monkeypatch.setenv("ERFLOW_NOW", "2026-11-03T10:00:00+00:00")
    got = receive(run, message(f"Re: [{ticket_id}] More details", "Date, number and amount."))
    assert got["ticket"] == ticket_id

    rows = reminders(run, PM)
    assert kinds(rows, ticket_id) == ["owned", "reply"]
    (reply,) = [row for row in rows if row["kind"] == "reply"]
    assert reply["next"] == "answer the customer"
    assert "jane@acme.example" in reply["why"] and "More details" in reply["why"]

    monkeypatch.setenv("ERFLOW_NOW", "2026-11-03T11:00:00+00:00")
    run.ok("note", ticket_id, "Called Jane back", user=PM)
    assert kinds(reminders(run, PM), ticket_id) == ["owned"]


def test_timers_due_within_a_day_on_owned_tickets(run: Cli, store: Path) -> None:
    (store / "workflow.yaml").write_text(WORKFLOW, encoding="utf-8")
    for name, text in TEMPLATES.items():
        (store / "templates" / f"{name}.j2").write_text(text, encoding="utf-8")
    run.commit_all("a docs workflow with timers")
    doc = new_doc(run)
    run.ok("advance", doc, "ready_to_test", user=AGENT)

    early = reminders(run, AGENT, now="2026-11-03T09:00:00+00:00")
    assert kinds(early, doc) == ["owned"]

    rows = reminders(run, AGENT, now="2026-11-04T12:00:00+00:00")
    timers = [row for row in rows if row["kind"] == "timer"]
    assert [row["why"].split()[1] for row in timers] == ["nudge"]
    assert 0 < timers[0]["urgency"] <= 24 * 60
    assert rows[0]["kind"] == "timer"  # due sooner than anything else

    late = reminders(run, AGENT, now="2026-11-06T12:00:00+00:00")
    overdue = [row for row in late if row["kind"] == "timer"]
    assert [row["why"].split()[1] for row in overdue] == ["nudge", "hand_over"]
    assert overdue[0]["urgency"] < 0 and overdue[1]["next"] == "publish"


def test_an_unknown_person_exits_4_with_a_did_you_mean(run: Cli, store: Path) -> None:
    result = run("reminders", "--for", "destin@example.com", user=PM)
    assert result.exit_code == 4, describe(result)
    line = one_line_error(result)
    assert "no person destin@example.com under people" in line
    assert "did you mean destyn@example.com" in line
