"""Seed 000 rules the default workflow encodes as data, each played on a fresh store: the board's
decline told to the customer once leadership confirms it (step 5 and the FAQ)."""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path

from conftest import BOARD, CUSTOMER_EMAIL, NICK, PM, Cli, Mailbox, describe, one_line_error


def body_of(message: Message) -> str:
    """The text of a one-part email as delivered."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8").replace("\r\n", "\n")


REASON = "It duplicates the report builder"


def test_a_board_decline_reaches_the_customer_with_its_reason_once_leadership_confirms(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("product_board")
    data = run.json("advance", ticket_id, "decline", "--set", f"decline_reason={REASON}", "--send", user=BOARD)
    assert (data["to"], data["emails"]) == ("decline_review", [])
    assert smtp_server.envelopes == []
    shown = run.show(ticket_id)
    assert (shown["owner"], shown["board_status"]) == (NICK, "declined")

    result = run("advance", ticket_id, "confirm_decline", user=BOARD)
    assert result.exit_code != 0, describe(result)
    assert "confirm_decline" in one_line_error(result)

    data = run.json("advance", ticket_id, "confirm_decline", "--send", user=NICK)

    assert data["to"] == "declined"
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    message = email.message_from_bytes(envelope.original_content or b"")
    assert message["Subject"] == f"[{ticket_id}] Enhancement Request {ticket_id} - Decision Update"
    assert body_of(message) == (
        "Dear Jane Doe,\n\n"
        "Thank you for submitting your recent enhancement request: Export invoices to CSV\n\n"
        "After careful consideration, our Product Board has decided not to proceed with this enhancement. "
        "The decision was based on:\n\n"
        f"• {REASON}\n\n"
        f"https://support.example.com/requests/{ticket_id}\n\n"
        "Thank you,\nDestyn Dagle\n"
    )
    assert run.show(ticket_id)["leadership_status"] == "declined"


def test_leadership_may_return_a_board_decline_for_revision_instead(run: Cli, store: Path) -> None:
    ticket_id = run.ticket_at("product_board")
    run.json("advance", ticket_id, "decline", "--set", f"decline_reason={REASON}", user=BOARD)

    data = run.json(
        "advance", ticket_id, "return", "--set", "return_feedback=Which reports overlap?", user=NICK
    )

    assert (data["to"], [e["template"] for e in data["emails"]]) == ("pm_review", ["leadership_returned"])
    assert run.show(ticket_id)["owner"] == PM
    run.ok("check")
