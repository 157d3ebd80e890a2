"""Staff notifications (workflow.yaml ``notifications:``): the default rules played on bugs (seed 001)
through the real outbox and a real SMTP server, the sweep's events once each, mute, dry runs, and
a bad rule named on its line. Every command runs at 2026-11-02T09:00:00+00:00 (Monday, ISO week
45) unless told."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any

from conftest import PM, SUPPORT, Cli, Mailbox, check_refuses_edit, one_line_error
from test_mail_in import message, receive
from test_other_types import ONCALL_A, ONCALL_B, TRIAGE, new_bug, step

from erflow.core import notifications
from erflow.store import workflow_file

DEV = "dev@example.com"


def at(text: str) -> dict[str, str | None]:
    return {"ERFLOW_NOW": text}


def sweep(run: Cli, now: str, *extra: str) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = run.json("sweep", "--now", now, *extra, user=SUPPORT)["actions"]
    return actions


def told(actions: list[dict[str, Any]], ticket_id: str) -> list[tuple[str, str]]:
    """(template, recipient) of every notification the sweep's actions on one ticket sent."""
    return [(n["template"], n["to"]) for a in actions if a["ticket"] == ticket_id for n in a["notifications"]]


def delivered(mailbox: Mailbox) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the SMTP server took."""
    found = []
    for envelope in mailbox.envelopes:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        found += [(to, str(parsed["Subject"]).strip()) for to in envelope.rcpt_tos]
    return found


def staff(mailbox: Mailbox) -> list[tuple[str, str]]:
    return [(to, subject) for to, subject in delivered(mailbox) if to.endswith("@example.com")]


def triaged_bug(run: Cli, severity: str = "medium") -> str:
    bug, _ = new_bug(run, f"severity={severity}")
    step(run, bug, "triage", TRIAGE)
    return bug


def edit_workflow(run: Cli, old: str, new: str) -> None:
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    run.commit_all("workflow: notification rules for a test")


def test_assigned_on_advance_reaches_the_new_owner_not_the_actor(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    bug, created = new_bug(run, "severity=medium")
    assert [(n["event"], n["to"], n["sent"]) for n in created["notifications"]] == [
        ("assigned", TRIAGE, False)
    ]
    data = step(run, bug, "triage", TRIAGE, "--send")
    assert [(n["event"], n["template"], n["to"], n["sent"]) for n in data["notifications"]] == [
        ("assigned", "staff_assigned", PM, True)
    ]
    assert staff(smtp_server) == [(PM, f"[{bug}] {bug} is yours: Checkout button does nothing")]
    body = smtp_server.envelopes[-1].content.decode()
    assert f"https://support.example.com/requests/{bug}" in body
    assert "2026-11-02 09:00 +00:00" in body and "prioritize" in body  # when, and the next steps
    log = run.path(bug).read_text(encoding="utf-8")
    assert f"notification staff_assigned (assigned) to {PM}: “[{bug}] {bug} is yours" in log
    # The actor is never told of their own act: the PM taking the bug is told nothing, a dev is.
    run.ok("assign", bug, DEV, user=PM)
    assert "notification staff_assigned (assigned) to dev@example.com" in run.path(bug).read_text()
    run.ok("assign", bug, PM, user=PM)
    assert run.path(bug).read_text().count(f"notification staff_assigned (assigned) to {PM}") == 1


def test_customer_replied_after_mail_receive(run: Cli, store: Path, smtp_server: Mailbox) -> None:
    bug = triaged_bug(run)
    before = len(smtp_server.envelopes)
    got = receive(run, message(f"Re: [{bug}] more detail", "It fails on Safari only.\n"), "--send")
    assert got["outcome"] == "reply"
    assert [(n["event"], n["to"], n["sent"]) for n in got["notifications"]] == [
        ("customer_replied", PM, True)
    ]
    (mail,) = smtp_server.envelopes[before:]
    assert mail.rcpt_tos == [PM] and b"It fails on Safari only." in mail.content


def test_sla_at_risk_then_breached_by_sweep_each_sent_once(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    bug, _ = new_bug(run, "severity=high")  # response 4 business hours, due 13:00; owner triage
    assert told(sweep(run, "2026-11-02T12:00:00+00:00", "--send"), bug) == []  # 75 %: not yet
    assert told(sweep(run, "2026-11-02T12:20:00+00:00", "--send"), bug) == [("staff_sla_at_risk", TRIAGE)]
    assert told(sweep(run, "2026-11-02T12:40:00+00:00", "--send"), bug) == []
    breached = sweep(run, "2026-11-02T13:01:00+00:00", "--send")
    assert ("staff_sla_breached", PM) in told(breached, bug)
    assert not any(t == "staff_paged" for t, _ in told(breached, bug))  # high, not critical
    sent = staff(smtp_server)
    assert sweep(run, "2026-11-02T13:05:00+00:00", "--send") == []
    assert staff(smtp_server) == sent
    assert sent[0] == (TRIAGE, f"[{bug}] SLA at risk on {bug}: Checkout button does nothing")
    assert [s for s in sent if "SLA breached" in s[1]] == [
        (PM, f"[{bug}] SLA breached on {bug}: Checkout button does nothing")
    ]


def test_a_critical_bug_breaching_at_night_pages_the_on_call_person_of_that_week(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    night = at("2026-11-09T08:00:00+00:00")  # Monday of ISO week 46, before business hours
    data = run.json(
        "new", "bug", "--title", "Payments down", "--customer-email", "jane@acme.example",
        "--set", "severity=critical", user=SUPPORT, env=night,
    )  # fmt: skip
    bug = data["id"]
    paged = told(sweep(run, "2026-11-09T09:30:00+00:00", "--send"), bug)  # response due 09:00
    assert paged and "staff_paged" not in [t for t, _ in paged]  # inside business hours: no page
    paged = told(sweep(run, "2026-11-09T20:00:00+00:00", "--send"), bug)  # resolution due 16:00
    assert ("staff_paged", ONCALL_B) in paged  # week 46: the second on-call engineer
    assert [to for to, subject in staff(smtp_server) if subject.startswith(f"[{bug}] PAGE")] == [ONCALL_B]


def test_the_rota_is_one_on_call_person_per_iso_week() -> None:
    wf = workflow_file.load(Path(notifications.__file__).parents[1] / "defaults" / "workflow.yaml")
    monday = dt.datetime(2026, 11, 2, 23, tzinfo=dt.timezone.utc)
    weeks = [notifications.on_call(wf, monday + dt.timedelta(weeks=n)) for n in range(3)]
    assert [p.email if p else None for p in weeks] == [ONCALL_A, ONCALL_B, ONCALL_A]
    assert notifications.inside_hours(wf.calendar, monday.replace(hour=10))
    assert not notifications.inside_hours(wf.calendar, monday)


def test_stuck_after_five_business_days_once(run: Cli, store: Path) -> None:
    bug = triaged_bug(run)  # in discovery since Monday 09:00, owner the PM
    assert told(sweep(run, "2026-11-09T08:59:00+00:00"), bug) == []  # Friday 17:00 + 1 business hour
    assert told(sweep(run, "2026-11-09T09:01:00+00:00"), bug) == [("staff_stuck", PM)]
    assert told(sweep(run, "2026-11-10T12:00:00+00:00"), bug) == []
    log = run.path(bug).read_text(encoding="utf-8")
    assert log.count("notification staff_stuck (stuck)") == 1 and "(not sent)" in log
    run.ok("audit")


def test_mute_silences_an_event_for_one_person(run: Cli, store: Path) -> None:
    edit_workflow(
        run,
        "destyn@example.com: {name: Destyn Dagle, roles: [pm, admin]}",
        "destyn@example.com: {name: Destyn Dagle, roles: [pm, admin], mute: [assigned]}",
    )
    bug, _ = new_bug(run, "severity=medium")
    assert step(run, bug, "triage", TRIAGE)["notifications"] == []
    run.ok("assign", bug, DEV, user=PM)
    assert "notification staff_assigned (assigned) to dev@example.com" in run.path(bug).read_text()


def test_dry_runs_list_the_notifications_and_write_nothing(run: Cli, store: Path) -> None:
    bug, _ = new_bug(run, "severity=high")
    before = run.snapshot()
    data = run.json("advance", bug, "triage", "--dry-run", user=TRIAGE)
    assert [(n["template"], n["to"], n["sent"]) for n in data["notifications"]] == [
        ("staff_assigned", PM, False)
    ]
    shown = run.ok("advance", bug, "triage", "--dry-run", user=TRIAGE)
    text = shown.stdout + shown.stderr
    assert f"notify staff_assigned → {PM}" in text
    swept = sweep(run, "2026-11-02T12:20:00+00:00", "--dry-run")
    assert told(swept, bug) == [("staff_sla_at_risk", TRIAGE)]
    assert run.snapshot() == before


def test_a_bad_rule_is_one_line_naming_the_file_and_line(run: Cli, store: Path) -> None:
    rule = "- {event: stuck, types: [bug, support, doc_change, config, implementation], after: 5d, to: owner,"
    for bad, expected in [
        ("event: stuck,", "unknown event 'stuk' (did you mean stuck?)"),
        ("to: owner,", "unknown role 'pms' (did you mean pm?)"),
    ]:
        path = run.root / "workflow.yaml"
        original = path.read_text(encoding="utf-8")
        wrong = rule.replace(bad, {"event: stuck,": "event: stuk,", "to: owner,": "to: {role: pms},"}[bad])
        result = check_refuses_edit(run, rule, wrong)
        line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if wrong in text)
        assert f"workflow.yaml:{line}: notifications.rules[" in result.stdout and expected in result.stdout
        error = one_line_error(run("new", "bug", "--title", "x", user=SUPPORT))
        assert error.startswith("erflow: ") and f"workflow.yaml:{line}:" in error
        path.write_text(original, encoding="utf-8")
    result = check_refuses_edit(run, "template: staff_stuck}", "template: staff_stcuk}")
    assert "template 'staff_stcuk' not found in templates/" in result.stdout
