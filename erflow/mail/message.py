"""A customer email: its headers checked, and the message built as it goes out."""

from __future__ import annotations

import email.errors
import email.message
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.headerregistry import Address

from erflow.core.addresses import addr_spec, check_line, mailbox
from erflow.core.errors import InvalidData

WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_MAX_LINE = 998  # octets per line allowed by RFC 5322


def _now() -> datetime:
    return datetime.now(timezone.utc).astimezone()


def _no_encoded_words(text: str) -> str:
    """Customer text for a header, kept from being read as RFC 2047: Python's email package decodes
    '=?utf-8?q?...=0A?=' typed by a customer into a real line break, which would start a new header."""
    return text.replace("=?", "= ?")


def one_line(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Email:
    """One rendered customer email; constructing it validates every header value."""

    template: str
    ticket_id: str
    sender: str
    to: str
    to_name: str
    subject: str
    body: str
    date: datetime = field(default_factory=_now)
    message_id: str = ""

    def __post_init__(self) -> None:
        for what in ("template", "ticket_id", "to_name", "subject", "message_id"):
            check_line(getattr(self, what), what)
        sender = mailbox(self.sender, "sender")
        addr_spec(self.to, "to")
        if self.date.tzinfo is None:
            raise InvalidData("email field 'date' has no time zone offset")
        if not self.message_id:
            msgid = email.utils.make_msgid(domain=sender.domain)
            object.__setattr__(self, "message_id", msgid)

    def as_text(self) -> str:
        return self.as_message().as_bytes().decode("utf-8")

    def as_message(self, *, eight_bit: bool = True) -> email.message.EmailMessage:
        """The message as it goes out; with ``eight_bit`` false, a body that is not ASCII goes as
        quoted-printable (for a server without 8BITMIME)."""
        msg = email.message.EmailMessage(policy=email.policy.default)
        msg["From"] = mailbox(self.sender, "sender")
        to = addr_spec(self.to, "to")
        name = _no_encoded_words(self.to_name)
        msg["To"] = Address(display_name=name, username=to.username, domain=to.domain)
        msg["Subject"] = _no_encoded_words(self.subject)
        msg["Date"] = email.utils.format_datetime(self.date)
        msg["Message-ID"] = self.message_id
        msg["X-Erflow-Ticket"] = self.ticket_id
        lines = self.body.encode("utf-8").splitlines()
        if any(len(line) > _MAX_LINE for line in lines):
            cte = "quoted-printable"
        elif self.body.isascii():
            cte = "7bit"
        else:
            cte = "8bit" if eight_bit else "quoted-printable"
        msg.set_content(self.body, charset="utf-8", cte=cte)
        _check_headers(msg)
        return msg


def _check_headers(msg: email.message.EmailMessage) -> None:
    """The last guard: the message as written has exactly the headers erflow set, no line more."""
    try:
        head = msg.as_bytes(policy=msg.policy.clone(linesep="\n")).split(b"\n\n", 1)[0]
    except (email.errors.MessageError, ValueError) as exc:  # a newer Python refuses to write it
        raise InvalidData(f"email header cannot be written safely: {exc}") from None
    written = [line.split(b":", 1)[0].decode("ascii", "replace") for line in head.split(b"\n")]
    if [n for n in written if n and n[0] not in " \t"] != list(msg.keys()):
        raise InvalidData("email header value would add a header line; refused")
