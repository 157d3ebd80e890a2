"""The outbox: a customer is emailed exactly once, whatever is killed and whichever server is down.

A real aiosmtpd server on 127.0.0.1 (or a port where none listens), real ``python -m erflow``
processes killed by SIGKILL at the failpoints of delivery (erflow/store/faults.py).
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import NICK, PM, Cli, Mailbox, describe, free_port, git

from erflow.mail.message import Email
from erflow.mail.outbox import entry_bytes, read_entry
from erflow.store import faults

SCHEDULE = ("advance", "{id}", "schedule", "--send")  # leadership -> scheduling: one customer email


def kill_at(root: Path, point: str, *args: str, user: str) -> None:
    """Run erflow as a process of its own, told to SIGKILL itself at ``point``; it must die there."""
    env = {**os.environ, "ERFLOW_USER": user, faults.ENV: point}
    proc = subprocess.run(
        [sys.executable, "-m", "erflow", *args, "--store", str(root)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == -signal.SIGKILL, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def message_ids(mailbox: Mailbox) -> list[str]:
    return [
        str(email.message_from_bytes(e.content, policy=email.policy.default)["Message-ID"])  # type: ignore[arg-type]
        for e in mailbox.envelopes
    ]


def entries(root: Path) -> list[Path]:
    return sorted((root / "outbox").rglob("*.eml"))


def entry_message_id(path: Path) -> str:
    return str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Message-ID"])


def scheduled(run: Cli, point: str | None = None) -> str:
    """The standard ticket moved leadership -> scheduling with --send (killed at ``point`` if given)."""
    ticket_id = run.ticket_at("leadership")
    args = [a.format(id=ticket_id) for a in SCHEDULE]
    if point is None:
        run.ok(*args, user=NICK)
    else:
        kill_at(run.root, point, *args, user=NICK)
    return ticket_id


def down(run: Cli) -> dict[str, str | None]:
    """The environment of a command that finds no SMTP server listening."""
    return {"ERFLOW_SMTP_PORT": str(free_port())}


def test_the_email_is_committed_with_the_change_and_delivered_under_the_message_id_it_was_given(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = scheduled(run)

    (entry,) = entries(run.root)
    assert entry.parent.name == ticket_id
    assert sorted(git(run.root, "show", "--name-only", "--format=", "HEAD").split()) == [
        entry.relative_to(run.root).as_posix(),
        run.path(ticket_id).relative_to(run.root).as_posix(),
    ]  # one commit: the state change and its outbox entry
    assert message_ids(smtp_server) == [entry_message_id(entry)]
    assert entry_message_id(entry) in run.show(ticket_id)["body"]
    assert run.json("outbox") == []
    (sent,) = run.json("outbox", "--sent")
    assert sent["status"] == "sent" and sent["attempts"] == 1 and sent["last_error"] is None


def test_with_the_server_down_the_change_is_made_the_email_waits_and_one_flush_delivers_it_once(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("leadership")

    result = run(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK, env=down(run))

    assert result.exit_code == 0, describe(result)
    assert "not delivered" in result.stderr and "erflow outbox flush" in result.stderr
    assert run.state(ticket_id) == "scheduling"
    (waiting,) = run.json("outbox")
    assert waiting["ticket"] == ticket_id and waiting["status"] == "pending"
    assert waiting["attempts"] == 1 and "Connection refused" in waiting["last_error"]
    assert waiting["to"] == "jane@acme.example" and ticket_id in waiting["subject"]
    head = run.head()

    flushed = run.json("outbox", "flush")

    assert [d["id"] for d in flushed["delivered"]] == [waiting["id"]] and flushed["left"] == []
    assert message_ids(smtp_server) == [waiting["message_id"]]
    assert run.json("outbox") == []
    again = run.json("outbox", "flush")
    assert again == {"delivered": [], "left": [], "skipped": None}
    assert len(smtp_server.envelopes) == 1
    assert run.head() == head  # delivery is recorded beside the store, not committed


def test_sweep_flushes_what_waits_in_the_outbox(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK, env=down(run))
    assert smtp_server.envelopes == []

    data = run.json("sweep")

    assert [d["ticket"] for d in data["outbox"]["delivered"]] == [ticket_id]
    assert len(smtp_server.envelopes) == 1
    run.ok("sweep")
    assert len(smtp_server.envelopes) == 1


def test_sweep_without_smtp_settings_leaves_the_outbox_as_it_is(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK, env=down(run))

    result = run("sweep", env={"ERFLOW_SMTP_HOST": None})

    assert result.exit_code == 0, describe(result)
    assert "wait in the outbox: ERFLOW_SMTP_HOST is not set" in result.stderr
    assert [w["status"] for w in run.json("outbox")] == ["pending"]
    assert smtp_server.envelopes == []


@pytest.mark.parametrize(("point", "reached"), [("sending", 0), ("smtp-accepted", 1)])
def test_killed_mid_delivery_the_email_is_unknown_and_sent_again_only_with_resend_under_its_message_id(
    run: Cli, smtp_server: Mailbox, point: str, reached: int
) -> None:
    ticket_id = scheduled(run, point)
    assert len(smtp_server.envelopes) == reached
    assert run.state(ticket_id) == "scheduling"  # the change landed before any delivery

    run.ok("note", ticket_id, "after the kill", user=PM)  # the next command sends nothing
    (waiting,) = run.json("outbox")
    assert waiting["status"] == "unknown" and waiting["attempts"] == 1
    assert f"erflow outbox flush --resend {waiting['id']}" in waiting["hint"]
    listed = run.ok("outbox")
    assert "unknown" in listed.stdout and "--resend" in listed.stderr
    flushed = run.json("outbox", "flush")
    assert flushed["delivered"] == [] and [w["status"] for w in flushed["left"]] == ["unknown"]
    run.ok("sweep")
    assert len(smtp_server.envelopes) == reached

    resent = run.json("outbox", "flush", "--resend", waiting["id"])

    assert [d["id"] for d in resent["delivered"]] == [waiting["id"]]
    assert message_ids(smtp_server) == [waiting["message_id"]] * (reached + 1)
    assert run.json("outbox") == []
    run.ok("outbox", "flush", "--resend")
    assert len(smtp_server.envelopes) == reached + 1


def test_killed_before_the_commit_nothing_is_sent_nothing_waits_and_the_change_is_undone(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("leadership")
    before = run.snapshot()

    kill_at(run.root, "files-written", *[a.format(id=ticket_id) for a in SCHEDULE], user=NICK)
    assert entries(run.root)  # written, not committed

    run.ok("outbox", "flush")  # recovers first, then finds nothing to deliver
    assert run.snapshot() == before
    assert entries(run.root) == []
    assert run.json("outbox") == []
    assert not list((run.root / ".git" / "erflow" / "outbox").glob("*.json"))  # the stale record went
    assert smtp_server.envelopes == []
    run.ok(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK)
    assert len(smtp_server.envelopes) == 1


def test_without_send_nothing_is_queued(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok("advance", ticket_id, "schedule", user=NICK)
    assert not (run.root / "outbox").exists()
    assert "(not sent)" in run.show(ticket_id)["body"]
    run.ok("outbox", "flush")
    assert smtp_server.envelopes == []


def test_an_entry_changed_after_it_was_queued_is_not_sent(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK, env=down(run))
    (entry,) = entries(run.root)
    entry.write_bytes(entry.read_bytes().replace(b"To: ", b"Bcc: mallory@elsewhere.example\nTo: ", 1))
    run.commit_all("a hand edit of the outbox")

    flushed = run.json("outbox", "flush")

    (left,) = flushed["left"]
    assert left["status"] == "failed" and "changed since it was queued" in left["last_error"]
    assert smtp_server.envelopes == []


def test_a_clone_does_not_deliver_what_another_clone_queued(
    run: Cli, smtp_server: Mailbox, tmp_path: Path
) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK, env=down(run))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(run.root), str(other))

    assert run.json("outbox", store=other) == []
    run.ok("outbox", "flush", store=other)
    assert smtp_server.envelopes == []
    run.ok("outbox", "flush")  # the clone that queued it delivers it
    assert len(smtp_server.envelopes) == 1


class Refusing(Mailbox):
    """A server that refuses every message (550) until told to accept."""

    accept = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.accept:
            return "550 5.7.1 mailbox unavailable"
        return await super().handle_DATA(server, session, envelope)


def test_a_message_the_server_refuses_is_listed_failed_and_retried_by_flush(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = run.ticket_at("leadership")
    mailbox = Refusing(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    monkeypatch.setenv("ERFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("ERFLOW_SMTP_TLS", "none")
    try:
        result = run(*[a.format(id=ticket_id) for a in SCHEDULE], user=NICK)
        assert result.exit_code == 0, describe(result)
        (failed,) = run.json("outbox")
        mailbox.accept = True
        flushed = run.json("outbox", "flush")
    finally:
        controller.stop()
    assert failed["status"] == "failed" and "550" in failed["last_error"] and failed["attempts"] == 1
    assert [(d["id"], d["attempts"]) for d in flushed["delivered"]] == [(failed["id"], 2)]
    assert message_ids(mailbox) == [failed["message_id"]]


def test_a_body_that_is_not_ascii_goes_as_quoted_printable_to_a_server_without_8bitmime() -> None:
    mail = Email("t", "ER-AB12CD", "Ops <ops@example.com>", "jane@acme.example", "Jane", "Grüße", "Café ☕\n")
    entry = read_entry("outbox/x.eml", entry_bytes(mail))
    eight, options = entry.wire(eight_bit=True)
    seven, plain = entry.wire(eight_bit=False)
    assert options == ["BODY=8BITMIME"] and plain == []
    assert seven.isascii() and b"Content-Transfer-Encoding: quoted-printable" in seven
    assert b"\r\n" in seven and b"\n" not in seven.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(seven.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert parsed["Message-ID"] == mail.message_id and parsed.get_content() == "Café ☕\n"  # type: ignore[attr-defined]


def test_flush_of_an_unknown_id_is_not_found(run: Cli, smtp_server: Mailbox) -> None:
    scheduled(run)
    result = run("outbox", "flush", "0123456789abcdef0123")
    assert result.exit_code == 4, describe(result)
    assert "no message 0123456789abcdef0123" in result.stderr
