"""Customer email in: ``erflow mail receive`` threads a reply to its ticket, takes the state's
``on_reply:`` transition as the customer, makes new tickets by ``intake:``, keeps what it cannot take
in a quarantine, and changes nothing the second time; ``erflow reply`` answers in the same thread.

Real git stores, a real aiosmtpd server (conftest's ``smtp_server``), messages built with the
standard library's ``email`` package and piped to the real CLI.
"""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import CUSTOMER_EMAIL, PM, Cli, Mailbox, commits_since, git

DESK = "desk@example.com"


def message(
    subject: str,
    text: str,
    *,
    sender: str = f"Jane Doe <{CUSTOMER_EMAIL}>",
    to: str = DESK,
    message_id: str | None = "<m1@acme.example>",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Thu, 03 Dec 2026 10:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    return msg.as_bytes()


def receive(run: Cli, data: bytes, *extra: str) -> dict[str, Any]:
    result = run.runner.invoke(
        __import__("erflow.cli.main", fromlist=["app"]).app,
        ["mail", "receive", "-", "--json", *extra, "--store", str(run.root)],
        input=data,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    received: dict[str, Any] = json.loads(result.stdout)
    return received


def parsed(envelope: Any) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[return-value]


def at_needs_info(run: Cli, *flags: str) -> str:
    ticket_id = run.ticket_at("pm_review")
    run.json("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", *flags, user=PM)
    assert run.state(ticket_id) == "needs_info"
    return ticket_id


def test_round_trip_acknowledgement_reply_threaded_moved_and_answered(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = at_needs_info(run, "--send")
    (asked,) = [parsed(e) for e in smtp_server.envelopes]
    assert str(asked["Subject"]).strip().startswith(f"[{ticket_id}] Enhancement Request {ticket_id}")
    assert asked["Reply-To"] == DESK
    head = run.head()

    answer = message(
        f"Re: {str(asked['Subject']).strip()}",
        "Date, number, amount and status.\n\nJane\n\nOn Wed, Dec 2, 2026, Desk <desk@example.com> wrote:\n"
        "> We need a bit more information\n",
        message_id="<answer-1@acme.example>",
        in_reply_to=str(asked["Message-ID"]),
    )
    got = receive(run, answer)

    assert (got["outcome"], got["ticket"], got["transition"], got["to"]) == (
        "moved", ticket_id, "info_received", "pm_review",
    )  # fmt: skip
    assert run.state(ticket_id) == "pm_review"
    assert commits_since(run.root, head) == [got["commit"]]  # one commit
    info = git(run.root, "show", "-s", "--format=%ae%n%B", "HEAD")
    assert info.startswith(f"{CUSTOMER_EMAIL}\n") and "Erflow-Transition: info_received" in info
    body = run.show(ticket_id)["body"]
    assert f"email from {CUSTOMER_EMAIL}" in body and "(received, <answer-1@acme.example>)" in body
    assert (
        "Date, number, amount and status." in body and "We need a bit more" not in body.split("received")[-1]
    )
    raw = run.root / got["path"]
    assert raw.read_bytes() == answer  # kept exactly as it came
    run.ok("audit", user=PM)  # the customer's transition passes the same gates as any other

    sent = run.json("reply", ticket_id, "--text", "Thanks Jane, the export will have those columns.", user=PM)
    assert sent["commit"] == run.head()
    reply = parsed(smtp_server.envelopes[-1])
    assert reply["In-Reply-To"] == "<answer-1@acme.example>"
    assert "<answer-1@acme.example>" in reply["References"]
    assert str(reply["Subject"]).strip().startswith(f"[{ticket_id}] ") and reply["Reply-To"] == DESK
    assert "Thanks Jane" in reply.get_content()
    assert "Thanks Jane" in run.show(ticket_id)["body"]


def test_the_same_message_twice_changes_nothing_the_second_time(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    data = message(f"Re: [{ticket_id}] more info", "Here it is.")
    first = receive(run, data)
    head, before = run.head(), run.snapshot()
    second = receive(run, data)
    assert first["outcome"] == "moved" and second["outcome"] == "duplicate"
    assert second["path"] == first["path"] and run.head() == head and run.snapshot() == before


def test_a_message_without_message_id_is_known_again_by_its_bytes(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    data = message(f"[{ticket_id}] info", "Here it is.", message_id=None)
    assert receive(run, data)["outcome"] == "moved"
    assert receive(run, data)["outcome"] == "duplicate"


def test_a_new_message_becomes_a_ticket_with_the_sender_as_customer_and_an_acknowledgement(
    run: Cli, store: Path
) -> None:
    got = receive(run, message("Export to CSV please", "We would like a CSV export of invoices."))
    assert got["outcome"] == "new"
    ticket = run.show(got["ticket"])
    assert (ticket["type"], ticket["title"], ticket["customer_email"], ticket["customer_name"]) == (
        "enhancement", "Export to CSV please", CUSTOMER_EMAIL, "Jane Doe",
    )  # fmt: skip
    assert [e["template"] for e in got["emails"]] == ["intake_acknowledgement"]
    assert git(store, "show", "-s", "--format=%ae", "HEAD").strip() == CUSTOMER_EMAIL
    run.ok("audit", user=PM)


def test_intake_routes_by_recipient_address_and_subject(run: Cli, store: Path) -> None:
    bug = receive(
        run, message("Printer", "It is on fire.", to="bugs@example.com", message_id="<b1@acme.example>")
    )
    assert run.show(bug["ticket"])["type"] == "bug"
    crash = receive(run, message("The app crashes on save", "Every time.", message_id="<b2@acme.example>"))
    assert run.show(crash["ticket"])["type"] == "bug"


def test_a_reply_from_someone_else_is_logged_unverified_and_moves_nothing(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    got = receive(run, message(f"Re: [{ticket_id}] info", "Here.", sender="Mallory <mallory@evil.example>"))
    assert got["outcome"] == "reply" and "not the ticket's customer" in got["reason"]
    assert run.state(ticket_id) == "needs_info"
    assert "(unverified, <m1@acme.example>)" in run.show(ticket_id)["body"]


def test_an_auto_reply_is_logged_moves_nothing_and_sends_no_acknowledgement(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    ooo = {"Auto-Submitted": "auto-replied"}
    got = receive(run, message(f"Out of office: [{ticket_id}]", "I am away.", headers=ooo))
    assert got["outcome"] == "reply" and got["emails"] == [] and run.state(ticket_id) == "needs_info"
    stray = receive(run, message("Out of office", "Away.", headers=ooo, message_id="<ooo2@acme.example>"))
    assert stray["outcome"] == "quarantined" and "auto-reply" in stray["reason"]


def test_unrouted_mail_waits_in_quarantine_and_a_retry_after_a_fix_takes_it_in(run: Cli, store: Path) -> None:
    workflow = (store / "workflow.yaml").read_text(encoding="utf-8")
    no_default = store.parent / "no-default.yaml"
    no_default.write_text(workflow.replace("  default_type: enhancement\n", ""), encoding="utf-8")
    run.ok("workflow", "apply", str(no_default), user=PM)
    head = run.head()
    got = receive(run, message("Need help", "Please call me.", message_id="<q1@acme.example>"))
    assert got["outcome"] == "quarantined" and "default_type" in got["reason"]
    assert commits_since(store, head) == [got["commit"]]
    listed = run.json("mail", "quarantine")
    assert [q["key"] for q in listed] == [got["key"]] and listed[0]["reason"] == got["reason"]
    head = run.head()
    again = run.json("mail", "retry", got["key"][:8])
    assert again["outcome"] == "quarantined" and run.head() == head  # nothing fixed: nothing changes

    fixed = store.parent / "fixed.yaml"
    fixed.write_text(workflow, encoding="utf-8")
    run.ok("workflow", "apply", str(fixed), user=PM)
    taken = run.json("mail", "retry", got["key"][:8])
    assert taken["outcome"] == "new" and run.json("mail", "quarantine") == []
    assert not (store / got["path"]).exists() and (store / taken["path"]).is_file()
    assert receive(run, message("Need help", "Please call me.", message_id="<q1@acme.example>"))[
        "outcome"
    ] == ("duplicate")


def test_unparseable_bytes_are_quarantined_never_a_traceback(run: Cli, store: Path) -> None:
    got = receive(run, b"\x00\xff garbage, not an email at all\n")
    assert got["outcome"] == "quarantined"
    assert (store / got["path"]).read_bytes() == b"\x00\xff garbage, not an email at all\n"


def test_a_message_over_the_size_limit_is_kept_in_quarantine_not_dropped(run: Cli, store: Path) -> None:
    big = message("Big", "x" * 100 + "\n" + ("y" * 76 + "\n") * 150_000, message_id="<big@acme.example>")
    assert len(big) > 10 * 1024 * 1024
    got = receive(run, big)
    assert got["outcome"] == "quarantined" and "limit" in got["reason"]
    assert (store / got["path"]).read_bytes() == big


def test_attachments_are_kept_beside_the_message_with_safe_names(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    msg = email.message_from_bytes(
        message(f"[{ticket_id}] files", "See attached."), policy=email.policy.default
    )
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(b"root:x:0:0", maintype="text", subtype="plain", filename="../../etc/passwd")
    msg.add_attachment(b"one", maintype="text", subtype="plain", filename="a.txt")
    msg.add_attachment(b"two", maintype="text", subtype="plain", filename="a.txt")
    got = receive(run, msg.as_bytes())
    folder = (run.root / got["path"]).with_suffix("")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and all("/" not in n and not n.startswith(".") for n in names)
    assert sorted((folder / n).read_bytes() for n in names) == [b"one", b"root:x:0:0", b"two"]
    assert not (run.root.parent / "etc").exists()


def test_a_subject_with_an_encoded_line_break_injects_no_header_into_later_emails(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    got = receive(
        run,
        message("=?utf-8?q?Hello=0ABcc:_victim@evil.example?=", "Hi.", message_id="<inj@acme.example>"),
        "--send",
    )
    assert got["outcome"] == "new"
    (ack,) = [parsed(e) for e in smtp_server.envelopes]
    assert ack["Bcc"] is None and ack["Cc"] is None
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[CUSTOMER_EMAIL]]
    assert "\n" not in run.show(got["ticket"])["title"]


def test_a_bounce_marks_the_email_it_answers_as_failed(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = at_needs_info(run, "--send")
    (asked,) = [parsed(e) for e in smtp_server.envelopes]
    dsn = EmailMessage()
    dsn["From"] = "Mail Delivery System <mailer-daemon@acme.example>"
    dsn["To"] = DESK
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Message-ID"] = "<dsn-1@acme.example>"
    dsn["Auto-Submitted"] = "auto-replied"
    dsn.set_content("The mail system could not deliver your message.")
    original = EmailMessage()
    original["Message-ID"] = str(asked["Message-ID"])
    original["Subject"] = str(asked["Subject"])
    original.set_content("...")
    dsn.add_attachment(original)  # message/rfc822, in a multipart/mixed made a report below
    dsn.replace_header("Content-Type", "multipart/report")
    dsn.set_param("report-type", "delivery-status")
    dsn.set_boundary("report-boundary")
    got = receive(run, dsn.as_bytes())
    assert (got["outcome"], got["ticket"]) == ("bounce", ticket_id)
    assert run.state(ticket_id) == "needs_info" and got["emails"] == []
    (record,) = run.json("outbox")
    assert record["status"] == "bounced" and "bounced" in record["last_error"] and record["hint"]
    flushed = run.json("outbox", "flush")
    assert flushed["delivered"] == [] and len(smtp_server.envelopes) == 1  # never sent again


def test_a_reply_the_gate_refuses_is_logged_and_the_owner_is_told(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("pm_review")
    workflow = (run.root / "workflow.yaml").read_text(encoding="utf-8")
    line = "      pm_review: {owner: pm, label: PM review, stage: Review}\n"
    assert line in workflow
    changed = run.root.parent / "changed.yaml"
    changed.write_text(workflow.replace(line, line[:-2] + ", on_reply: approve}\n"), encoding="utf-8")
    run.ok("workflow", "apply", str(changed), user=PM)
    got = receive(
        run, message(f"Re: [{ticket_id}]", "Please approve it.", message_id="<g@acme.example>"), "--send"
    )
    assert got["outcome"] == "reply" and "may not take approve" in got["reason"]
    assert run.state(ticket_id) == "pm_review"
    (notice,) = [parsed(e) for e in smtp_server.envelopes]
    assert notice["To"].addresses[0].addr_spec == PM  # the owner, by the customer_replied notification
    assert notice["Subject"] == f"[{ticket_id}] Customer reply on {ticket_id}: Export invoices to CSV"
    assert "moved nothing" in notice.get_content() and "may not take approve" in notice.get_content()
    assert "customer reply moved nothing" in run.show(ticket_id)["body"]
    run.ok("audit", user=PM)


def test_reply_dry_run_prints_the_threaded_message_and_changes_nothing(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    receive(run, message(f"Re: [{ticket_id}] info", "Columns: date, amount.", message_id="<c1@acme.example>"))
    head = run.head()
    shown = run.ok("reply", ticket_id, "--text", "Thank you!", "--dry-run", user=PM).stdout
    assert "In-Reply-To: <c1@acme.example>" in shown and f"[{ticket_id}]" in shown and "Thank you!" in shown
    assert run.head() == head


def test_reply_to_a_ticket_without_smtp_settings_is_refused_and_changes_nothing(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    head = run.head()
    refused = run("reply", ticket_id, "--text", "Hello", user=PM, env={"ERFLOW_SMTP_HOST": None})
    assert refused.exit_code == 2 and "ERFLOW_SMTP_HOST" in refused.stderr and run.head() == head


def test_with_mta_a_busy_store_exits_tempfail_so_the_mta_retries(
    run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    from erflow.cli.main import app

    monkeypatch.setenv("ERFLOW_LOCK_TIMEOUT", "0.2")
    data = message("Busy", "Hello.", message_id="<busy@acme.example>")
    head = run.head()
    with FileLock(str(store / ".git" / "erflow.lock")):
        busy = run.runner.invoke(app, ["mail", "receive", "--mta", "--store", str(store)], input=data)
    assert busy.exit_code == 75 and "try again later" in busy.stderr and run.head() == head
    assert receive(run, data)["outcome"] == "new"  # the MTA's next delivery


def test_a_clarification_by_email_fills_the_field_its_state_names_and_moves_the_request(
    run: Cli, store: Path
) -> None:
    from test_other_types import new_request, step

    request, _ = new_request(run)
    step(run, request, "classify", PM, classification="Bug Fix", product="Billing Portal")
    step(run, request, "request_clarification", PM, clarification_needed="Which export format?")
    text = "CSV, with every column of the invoice list."
    got = receive(run, message(f"Re: [{request}] Clarification required", f"{text}\n\n-- \nJane"))
    assert (got["outcome"], got["transition"], got["to"]) == ("moved", "clarification_received", "scoping")
    assert run.show(request)["clarification_response"] == text  # the reply, without its signature


@pytest.mark.parametrize(
    ("reply", "transition", "status"),
    [
        ("Approved, it looks good to us.", "customer_confirmed", "confirmed"),
        ("The dealer name on page 2 is wrong.", "customer_reported_issue", "issue_reported"),
    ],
)
def test_an_onboard_test_answer_by_email_is_matched_by_its_words(
    run: Cli, store: Path, tmp_path: Path, reply: str, transition: str, status: str
) -> None:
    from test_default_timers import doc_on_hold

    doc = doc_on_hold(run, tmp_path)
    got = receive(run, message(f"Re: [{doc}] Ready to Test on Onboard", reply))
    assert (got["outcome"], got["transition"], got["to"]) == ("moved", transition, "todo")
    shown = run.show(doc)
    assert shown["test_status"] == status and reply in shown["body"]  # the reply is the transition's note


def test_reply_without_text_opens_the_editor_and_drops_its_comment_lines(run: Cli) -> None:
    ticket_id = at_needs_info(run)
    editor = 'sh -c \'printf "Thanks, Jane.\\n# not sent\\n" > "$1"\' sh'
    shown = run.ok("reply", ticket_id, "--dry-run", user=PM, env={"VISUAL": None, "EDITOR": editor}).stdout
    assert "Thanks, Jane." in shown and "not sent" not in shown
    failing = run("reply", ticket_id, "--dry-run", user=PM, env={"VISUAL": None, "EDITOR": "false"})
    assert failing.exit_code == 2 and "editor 'false' exited 1" in failing.stderr
