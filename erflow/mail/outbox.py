"""Outbox entries: a customer email as it goes out, written into the store before it is delivered.

An entry is ``outbox/<ticket id>/<key>.eml``: the whole RFC 5322 message (headers and body, line
ends ``\\n``), its Message-ID fixed, its sender as ERFLOW_SMTP_FROM made it. ``key`` is a hash of
the Message-ID, so one message has one file whatever is retried. Delivery sends these bytes, so
every attempt sends the same message.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass

from erflow.core.errors import InvalidData
from erflow.mail.message import Email

FOLDER = "outbox"


def key(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:20]


def entry_path(ticket_id: str, message_id: str) -> str:
    """The entry's path relative to the store root."""
    return f"{FOLDER}/{ticket_id}/{key(message_id)}.eml"


def entry_bytes(mail: Email) -> bytes:
    return mail.as_message().as_bytes()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    """An entry read back for delivery."""

    path: str
    data: bytes
    message_id: str
    envelope_from: str
    to: str
    subject: str

    def wire(self, eight_bit: bool) -> tuple[bytes, list[str]]:
        """The bytes to hand to SMTP (CRLF line ends) and the MAIL options they need; for a server
        without 8BITMIME a body that is not ASCII goes as quoted-printable."""
        data = self.data
        options: list[str] = []
        if not data.isascii():
            if eight_bit:
                options.append("BODY=8BITMIME")
            else:
                message = email.message_from_bytes(data, policy=email.policy.default)
                body = message.get_content()
                message.set_content(body, charset="utf-8", cte="quoted-printable")
                data = message.as_bytes()
        return re.sub(rb"\r?\n", b"\r\n", data), options


def read_entry(path: str, data: bytes) -> Entry:
    """Parse an entry; refused (naming the file) if it is not one message to one address."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    try:
        senders = message["From"].addresses
        recipients = message["To"].addresses
        message_id = str(message["Message-ID"]).strip()
        subject = str(message["Subject"] or "")
    except (AttributeError, TypeError, ValueError) as exc:
        raise InvalidData(f"{path}: not an outbox message ({exc})") from None
    if len(senders) != 1 or len(recipients) != 1 or not message_id:
        raise InvalidData(f"{path}: not an outbox message (one From, one To and a Message-ID)")
    return Entry(path, data, message_id, senders[0].addr_spec, recipients[0].addr_spec, subject)
