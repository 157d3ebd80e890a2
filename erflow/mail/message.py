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


MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
# erflow's own Message-IDs name their ticket: <erflow.ER-4K7M2Q.<20 hex digits>@domain>
OWN_MESSAGE_ID = re.compile(r"<erflow\.([A-Z][A-Z0-9]{0,7}-[0-9A-Z]{1,16})\.[0-9a-f]{20}@[^<>\s@]+>")
SUBJECT_TAG = re.compile(r"\[([A-Z][A-Z0-9]{0,7}-[0-9A-Z]{1,16})\]")


def new_message_id(ticket_id: str, domain: str) -> str:
    """A Message-ID that names its ticket, so that a reply to it finds the ticket by its headers
    (short enough that its header line is never folded)."""
    import secrets

    return f"<erflow.{ticket_id}.{secrets.token_hex(10)}@{domain}>"


def tagged(subject: str, ticket_id: str) -> str:
    """The subject with the ticket's tag ``[ER-12]`` in front (once)."""
    tag = f"[{ticket_id}]"
    return subject if tag in subject else f"{tag} {subject}"


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
    reply_to: str = ""  # the desk's address, where the customer's answer goes
    in_reply_to: str = ""  # the customer's message this one answers
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what in ("template", "ticket_id", "to_name", "subject", "message_id", "in_reply_to"):
            check_line(getattr(self, what), what)
        for one in (self.in_reply_to, *self.references):
            if one and not MESSAGE_ID.fullmatch(one):
                raise InvalidData(f"email: {one!r} is not a Message-ID")
        sender = mailbox(self.sender, "sender")
        addr_spec(self.to, "to")
        if self.reply_to:
            addr_spec(self.reply_to, "reply_to")
        if self.date.tzinfo is None:
            raise InvalidData("email field 'date' has no time zone offset")
        if not self.message_id:
            object.__setattr__(self, "message_id", new_message_id(self.ticket_id, sender.domain))

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
        if self.reply_to:
            msg["Reply-To"] = addr_spec(self.reply_to, "reply_to")
        if self.in_reply_to:
            msg["In-Reply-To"] = self.in_reply_to
        if self.references:
            msg["References"] = " ".join(self.references)
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
