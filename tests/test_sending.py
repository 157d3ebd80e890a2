"""Delivering customer emails to a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import email
import email.policy
import json
import ssl
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import (
    CUSTOMER_EMAIL,
    INTAKE_FLAGS,
    NICK,
    PM,
    SMTP_PASSWORD,
    SMTP_USER,
    SUPPORT,
    Cli,
    Mailbox,
    commits_since,
    describe,
    expected_emails,
    free_port,
    one_line_error,
)


def delivered(mailbox: Mailbox) -> list[EmailMessage]:
    return [email.message_from_bytes(e.content, policy=email.policy.default) for e in mailbox.envelopes]  # type: ignore[misc]


def communications(run: Cli, ticket_id: str) -> list[str]:
    body: str = run.show(ticket_id)["body"]
    return body.split("## Communications\n", 1)[1].strip().splitlines()


def test_advance_with_send_delivers_the_email_and_logs_it_as_sent(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")

    data = run.json("advance", ticket_id, "schedule", "--send", user=NICK)

    assert data["emails"] == expected_emails(ticket_id, "board_approved_no_quote", sent=True)
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    assert envelope.mail_from == "destyn@example.com"
    (message,) = delivered(smtp_server)
    assert message["Subject"] == f"[{ticket_id}] Enhancement Request {ticket_id} - Approved for Scheduling"
    assert message["To"] == f"Jane Doe <{CUSTOMER_EMAIL}>"
    body = message.get_content()
    assert f"https://support.example.com/requests/{ticket_id}" in body
    assert ticket_id in message["Subject"] + body
    assert "Export invoices to CSV" in body
    last = communications(run, ticket_id)[-1]
    assert "email board_approved_no_quote" in last and f"(queued to send, {message['Message-ID']})" in last


def test_new_with_send_delivers_the_acknowledgement(run: Cli, store: Path, smtp_server: Mailbox) -> None:
    data = run.json("new", "enhancement", *INTAKE_FLAGS, "--send", user=SUPPORT)
    assert data["emails"] == expected_emails(data["id"], "intake_acknowledgement", sent=True)
    (message,) = delivered(smtp_server)
    assert message["Subject"] == f"[{data['id']}] Enhancement Request {data['id']} - Received"
    assert f"(queued to send, {message['Message-ID']})" in communications(run, data["id"])[-1]


def test_email_command_with_send_delivers_one_template(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("scheduled")
    result = run.ok("email", ticket_id, "board_approved_no_quote", "--send", user=PM)
    assert (
        f"Subject: [{ticket_id}] Enhancement Request {ticket_id} - Approved for Scheduling"
        in result.stdout.replace(":\n ", ": ")
    )
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[CUSTOMER_EMAIL]]
    message_id = delivered(smtp_server)[0]["Message-ID"]
    assert f"(queued to send, {message_id})" in communications(run, ticket_id)[-1]


def test_without_send_nothing_reaches_the_server(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    data = run.json("advance", ticket_id, "schedule", user=NICK)
    assert data["emails"] == expected_emails(ticket_id, "board_approved_no_quote", sent=False)
    assert smtp_server.envelopes == []


def test_send_emails_setting_delivers_without_the_flag(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    workflow = run.root / "workflow.yaml"
    text = workflow.read_text(encoding="utf-8")
    assert "  send_emails: false\n" in text
    workflow.write_text(text.replace("  send_emails: false\n", "  send_emails: true\n"), encoding="utf-8")
    run.commit_all("settings: send customer emails")

    data = run.json("advance", ticket_id, "schedule", user=NICK)

    assert data["emails"] == expected_emails(ticket_id, "board_approved_no_quote", sent=True)
    assert len(smtp_server.envelopes) == 1


def test_smtp_from_overrides_the_sender(run: Cli, smtp_server: Mailbox) -> None:
    ticket_id = run.ticket_at("leadership")
    run.ok(
        "advance",
        ticket_id,
        "schedule",
        "--send",
        user=NICK,
        env={"ERFLOW_SMTP_FROM": "Requests <er@example.com>"},
    )
    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "er@example.com"
    assert delivered(smtp_server)[0]["From"] == "Requests <er@example.com>"


def test_unreachable_smtp_server_does_not_stop_the_change_and_the_email_waits_in_the_outbox(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = run.ticket_at("leadership")
    monkeypatch.setenv("ERFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("ERFLOW_SMTP_TLS", "none")

    result = run("advance", ticket_id, "schedule", "--send", "--json", user=NICK)

    assert result.exit_code == 0, describe(result)
    data = json.loads(result.stdout)
    assert data["emails"] == expected_emails(ticket_id, "board_approved_no_quote", sent=False)
    assert "waits in the outbox" in result.stderr and "127.0.0.1" in result.stderr
    assert run.state(ticket_id) == "scheduling"
    (waiting,) = run.json("outbox")
    assert waiting["status"] == "pending" and waiting["ticket"] == ticket_id


def test_send_without_smtp_settings_is_a_usage_error_and_changes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    before = run.snapshot()
    result = run("advance", ticket_id, "schedule", "--send", user=NICK)
    assert result.exit_code == 2, describe(result)
    assert "ERFLOW_SMTP_HOST" in one_line_error(result)
    assert run.snapshot() == before


def everything_written(run: Cli) -> str:
    """Every file in the store (outside .git) and the whole git log, as text."""
    files = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in run.root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(run.root).parts
    )
    return files + run.git("log", "--all", "-p", "--format=%H %an %ae%n%B")


def test_smtp_password_is_never_shown_or_stored(
    run: Cli, smtp_server: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = run.ticket_at("leadership")
    monkeypatch.setenv("ERFLOW_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("ERFLOW_SMTP_PASSWORD", SMTP_PASSWORD)
    outputs = []

    ok = run("advance", ticket_id, "schedule", "--send", "--json", user=NICK)
    assert ok.exit_code == 0, describe(ok)
    outputs.append(ok)
    assert smtp_server.logins == [(SMTP_USER.encode(), SMTP_PASSWORD.encode())]
    assert len(smtp_server.envelopes) == 1

    monkeypatch.setenv("ERFLOW_SMTP_PASSWORD", SMTP_PASSWORD + "-wrong")
    planned = run(
        "advance", ticket_id, "plan", "--set", "iteration=1", "--set", "target_delivery_window=Dec", user=PM
    )
    assert planned.exit_code == 0, describe(planned)  # plan, without --send, sends nothing: no login needed
    bad = run("email", ticket_id, "board_approved_no_quote", "--send", user=PM)
    assert bad.exit_code == 0, describe(bad)  # the email waits in the outbox
    assert "login" in bad.stderr and "refused" in bad.stderr
    outputs += [planned, bad, run("outbox"), run("outbox", "flush", "--json")]

    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(free_port()))
    unreachable = run("email", ticket_id, "board_approved_no_quote", "--send", user=PM)
    assert unreachable.exit_code == 0, describe(unreachable)
    outputs += [unreachable, run("outbox", "--json")]
    assert len(smtp_server.envelopes) == 1

    for result in outputs:
        assert SMTP_PASSWORD not in result.stdout + result.stderr
    assert SMTP_PASSWORD not in everything_written(run)
    records = run.root / ".git" / "erflow" / "outbox"
    assert len(list(records.glob("*.json"))) == 2
    assert all(SMTP_PASSWORD not in p.read_text(encoding="utf-8") for p in records.rglob("*.json"))


def test_failed_delivery_on_new_creates_the_ticket_and_queues_its_acknowledgement(
    run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("ERFLOW_SMTP_TLS", "none")
    before = run.head()
    result = run("new", "enhancement", *INTAKE_FLAGS, "--send", user=SUPPORT)
    assert result.exit_code == 0, describe(result)
    ticket_id = result.stdout.strip()
    assert len(commits_since(run.root, before)) == 1
    (waiting,) = run.json("outbox")
    assert waiting["ticket"] == ticket_id and waiting["status"] == "pending" and waiting["attempts"] == 1


# ---------------------------------------------------------------------------------------------
# TLS: STARTTLS and implicit TLS, with the server's certificate checked


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_server(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, mode: str
) -> tuple[Mailbox, Controller]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    mailbox = Mailbox(port=free_port())
    # aiosmtpd counts only STARTTLS as TLS for AUTH; over implicit TLS the session is encrypted anyway.
    options: dict[str, object] = (
        {"tls_context": context, "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=mailbox.port, authenticator=mailbox.authenticate, **options
    )
    controller.start()
    monkeypatch.setenv("ERFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("ERFLOW_SMTP_TLS", mode)
    monkeypatch.setenv("ERFLOW_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("ERFLOW_SMTP_PASSWORD", SMTP_PASSWORD)
    return mailbox, controller


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_delivery_over_tls_with_a_trusted_certificate(
    run: Cli, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    ticket_id = run.ticket_at("leadership")
    mailbox, controller = tls_server(certificate, monkeypatch, mode)
    try:
        data = run.json(
            "advance",
            ticket_id,
            "schedule",
            "--send",
            user=NICK,
            env={"ERFLOW_SMTP_CAFILE": str(certificate[0])},
        )
    finally:
        controller.stop()
    assert data["emails"] == expected_emails(ticket_id, "board_approved_no_quote", sent=True)
    assert [e.rcpt_tos for e in mailbox.envelopes] == [[CUSTOMER_EMAIL]]
    assert mailbox.logins == [(SMTP_USER.encode(), SMTP_PASSWORD.encode())]


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_untrusted_certificate_refuses_delivery_and_the_email_waits(
    run: Cli, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    ticket_id = run.ticket_at("leadership")
    mailbox, controller = tls_server(certificate, monkeypatch, mode)
    try:
        result = run("advance", ticket_id, "schedule", "--send", user=NICK)
        waiting = run.json("outbox")
    finally:
        controller.stop()
    assert result.exit_code == 0, describe(result)  # the change is made; the email waits
    assert "certificate" in result.stderr
    assert SMTP_PASSWORD not in result.stderr
    assert mailbox.envelopes == [] and mailbox.logins == []
    assert [w["status"] for w in waiting] == ["pending"] and "certificate" in waiting[0]["last_error"]


def test_no_email_reaches_the_customer_when_the_change_cannot_be_committed(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("leadership")
    hook = run.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    before = run.snapshot()

    result = run("advance", ticket_id, "schedule", "--send", user=NICK)

    assert result.exit_code != 0, describe(result)
    assert run.snapshot() == before
    assert smtp_server.envelopes == []
    assert not list((run.root / ".git" / "erflow" / "outbox").glob("*.json"))
    assert run.json("outbox") == []
