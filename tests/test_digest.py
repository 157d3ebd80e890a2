"""``erflow digest``: each person's reminders mailed to them once a day, through the outbox, to a
real SMTP server (aiosmtpd); the day is the workflow calendar's, ``--now`` moves the clock."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import (
    BOARD,
    INTAKE_FLAGS,
    PM,
    SUBMIT,
    SUPPORT,
    Cli,
    Mailbox,
    commit_info,
    commits_since,
    describe,
)
from test_outbox import down, kill_at

DAY = "2026-11-02"
LATER = "2026-11-02T15:30:00+00:00"  # the same day, later
NEXT_DAY = "2026-11-03T09:00:00+00:00"
ROW = re.compile(
    r"^- (?P<id>[A-Z]+-[0-9A-Z]+): (?P<why>.*) \| (?P<left>.*) \| next: (?P<next>\S+) \| (?P<link>\S+)$"
)


def two_tickets(run: Cli) -> list[str]:
    """The PM owns two tickets in PM review, the second submitted later."""
    first = run.ticket_at("pm_review")
    second = run.ok("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT, env={"ERFLOW_NOW": LATER})
    second_id = second.stdout.strip()
    run.ok("advance", second_id, SUBMIT[0], user=SUPPORT, env={"ERFLOW_NOW": LATER})
    return [first, second_id]


def received(mailbox: Mailbox) -> list[EmailMessage]:
    found = []
    for envelope in mailbox.envelopes:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def digest(run: Cli, *args: str, now: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    env = dict(kw.pop("env", None) or {})
    if now:
        env["ERFLOW_NOW"] = now
    data: list[dict[str, Any]] = run.json("digest", *args, user=SUPPORT, env=env, **kw)
    return data


def of(data: list[dict[str, Any]], person: str) -> dict[str, Any]:
    (found,) = [d for d in data if d["person"] == person]
    return found


def test_the_pms_digest_arrives_with_the_rows_of_reminders_in_order_in_one_audited_commit(
    run: Cli, smtp_server: Mailbox
) -> None:
    tickets = two_tickets(run)
    wanted = run.json("reminders", "--for", PM, user=SUPPORT, env={"ERFLOW_NOW": LATER})
    assert [row["id"] for row in wanted] == tickets  # older first among equals
    head = run.head()

    data = digest(run, "--send", now=LATER)

    assert of(data, PM)["status"] == "sent" and of(data, PM)["reminders"] == 2
    assert of(data, BOARD)["status"] == "nothing to send"  # nothing waits on the board
    (mail,) = received(smtp_server)
    assert smtp_server.envelopes[0].rcpt_tos == [PM]
    assert mail["Subject"] == f"Your erflow reminders for {DAY}: 2 waiting"
    assert mail["Message-ID"] == of(data, PM)["message_id"]
    rows = [m.groupdict() for line in mail.get_content().splitlines() if (m := ROW.match(line))]
    assert [(r["id"], r["why"], r["next"]) for r in rows] == [(w["id"], w["why"], w["next"]) for w in wanted]
    assert rows[0]["link"] == f"https://support.example.com/requests/{tickets[0]}"
    assert rows[0]["left"] == "no deadline"
    (commit,) = commits_since(run.root, head)
    info = commit_info(run.root, commit)
    assert info.subject == f"digest {DAY}" and info.author_email == SUPPORT
    assert info.trailers["Erflow-Action"] == ["digest"] and info.trailers["Erflow-Actor"] == [SUPPORT]
    assert info.files == [of(data, PM)["path"]] and info.files[0].startswith(f"outbox/digest/{DAY}/")
    assert run.json("outbox") == []
    audit = run("audit", "--json")
    assert audit.exit_code == 0, describe(audit)
    assert '"violations": []' in audit.stdout


def test_a_second_run_the_same_day_sends_nothing_and_commits_nothing_the_next_day_sends_again(
    run: Cli, smtp_server: Mailbox
) -> None:
    run.ticket_at("pm_review")
    first = of(digest(run, "--send"), PM)
    head = run.head()

    again = run.ok("digest", "--send", user=SUPPORT, env={"ERFLOW_NOW": LATER})

    assert f"1 reminder to {PM}: already sent" in again.stdout.splitlines()
    assert len(smtp_server.envelopes) == 1 and run.head() == head
    assert f"0 reminders to {BOARD}: nothing to send" in again.stdout.splitlines()

    after = run.ok("digest", "--send", "--for", PM, "--now", NEXT_DAY, user=SUPPORT)

    assert after.stdout.splitlines() == [f"1 reminder to {PM}: sent"]
    assert len(commits_since(run.root, head)) == 1
    ids = [m["Message-ID"] for m in received(smtp_server)]
    assert ids[0] == first["message_id"] and ids[1] != ids[0] and len(ids) == 2
    assert commit_info(run.root).subject == "digest 2026-11-03"


def test_a_muted_person_gets_no_digest(run: Cli, smtp_server: Mailbox) -> None:
    run.ticket_at("pm_review")
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    entry = "destyn@example.com: {name: Destyn Dagle, roles: [pm, admin]"
    assert entry in text
    path.write_text(text.replace(entry, entry + ", mute: [digest]"), encoding="utf-8")
    run.commit_all("mute the PM's digest")
    run.ok("check")
    head = run.head()

    data = digest(run, "--send")

    assert of(data, PM)["status"] == "muted" and of(data, PM)["reminders"] == 1
    assert smtp_server.envelopes == [] and run.head() == head


def test_dry_run_and_a_run_without_send_write_nothing(run: Cli, smtp_server: Mailbox) -> None:
    run.ticket_at("pm_review")
    before = run.snapshot()

    dry = run.ok("digest", "--send", "--dry-run", user=SUPPORT)
    preview = run.ok("digest", "--for", PM, user=SUPPORT)

    assert f"1 reminder to {PM}: would send" in dry.stdout.splitlines()
    assert preview.stdout.startswith("From: ") and f"To: Destyn Dagle <{PM}>" in preview.stdout
    assert preview.stderr.splitlines() == [f"1 reminder to {PM}: not sent"]
    assert run.snapshot() == before and smtp_server.envelopes == []
    assert not (run.root / ".git" / "erflow" / "outbox").exists()


def test_with_smtp_down_the_digest_waits_in_the_outbox_and_one_flush_delivers_it_once(
    run: Cli, smtp_server: Mailbox
) -> None:
    run.ticket_at("pm_review")

    data = digest(run, "--send", "--for", PM, env=down(run))

    (mine,) = data
    assert mine["status"] == "queued" and "Connection refused" in mine["problem"]
    (waiting,) = run.json("outbox")
    assert waiting["ticket"] == f"digest/{DAY}" and waiting["to"] == PM
    flushed = run.json("outbox", "flush")
    assert [d["message_id"] for d in flushed["delivered"]] == [mine["message_id"]]
    assert of(digest(run, "--send"), PM)["status"] == "already sent"
    assert run.json("outbox", "flush")["delivered"] == []
    assert len(smtp_server.envelopes) == 1


def test_killed_between_commit_and_smtp_the_next_run_delivers_it_once(run: Cli, smtp_server: Mailbox) -> None:
    run.ticket_at("pm_review")
    kill_at(run.root, "committed", "digest", "--send", "--for", PM, user=SUPPORT)
    assert commit_info(run.root).subject == f"digest {DAY}" and smtp_server.envelopes == []
    head = run.head()

    (mine,) = digest(run, "--send", "--for", PM)

    assert mine["status"] == "sent" and run.head() == head
    assert len(smtp_server.envelopes) == 1
    assert of(digest(run, "--send"), PM)["status"] == "already sent"
    assert len(smtp_server.envelopes) == 1


@pytest.mark.parametrize(("args", "code"), [(("--for", "nobody@example.com"), 4), (("--bogus",), 2)])
def test_an_unknown_person_or_option_is_one_line_with_the_contracts_code(
    run: Cli, args: tuple[str, ...], code: int
) -> None:
    run.init()
    result = run("digest", *args, user=SUPPORT)
    assert result.exit_code == code, describe(result)
    assert len(result.stderr.splitlines()) == 1


def test_send_without_smtp_settings_is_refused_before_anything_is_written(run: Cli) -> None:
    run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("digest", "--send", user=SUPPORT)
    assert result.exit_code == 2, describe(result)
    assert "ERFLOW_SMTP_HOST" in result.stderr and run.snapshot() == before


def test_the_day_is_the_workflow_calendars(run: Cli, smtp_server: Mailbox) -> None:
    run.ticket_at("pm_review")
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    calendar = 'calendar:\n  timezone: "+00:00"'
    assert calendar in text
    path.write_text(text.replace(calendar, calendar.replace("+00:00", "-05:00")), encoding="utf-8")
    run.commit_all("the desk works in New York")

    late = of(digest(run, "--send", now="2026-11-03T03:00:00+00:00"), PM)  # 22:00 on the 2nd there

    assert late["day"] == DAY and late["path"].startswith(f"outbox/digest/{DAY}/")
    assert of(digest(run, "--send", now="2026-11-03T04:30:00+00:00"), PM)["status"] == "already sent"
    assert of(digest(run, "--send", now="2026-11-03T05:00:00+00:00"), PM)["day"] == "2026-11-03"
    assert len(smtp_server.envelopes) == 2
