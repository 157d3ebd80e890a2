"""A ticket's conversation with its customer as its Communications log records it: the head of each
entry for a message that came in, and the Message-IDs read back to thread the answers."""

from __future__ import annotations

import re

from erflow.core.model import Ticket

SECTION = "Communications"
# - **2026-12-05T10:00:00+00:00** email from ann@example.com: “Re: …” (received, <id@host>)
_RECEIVED = re.compile(r"^- \*\*[^*]+\*\* email from \S+: .* \((?:received|unverified), (<[^<>\s]+>)\)$")


def received_head(sender: str, subject: str, message_id: str, *, verified: bool = True) -> str:
    """The head of the entry for a message from ``sender`` (unverified: not the ticket's customer)."""
    status = "received" if verified else "unverified"
    return f"email from {sender}: “{subject}” ({status}, {message_id})"


def last_received(ticket: Ticket) -> str | None:
    """The Message-ID of the latest message the customer sent about this ticket, or None."""
    for entry in reversed(ticket.sections.get(SECTION, [])):
        found = _RECEIVED.match(entry.split("\n", 1)[0])
        if found:
            return found.group(1)
    return None
