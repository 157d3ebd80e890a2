"""A received message's record and what every way of taking it in shares: the outcome, the raw
message and its attachments as files of the change, its entry in the ticket's Communications, and
the quarantine (erflow/store/mailfiles.py) for what cannot be taken in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app import transaction
from erflow.app.context import Context
from erflow.app.emails import EmailResult
from erflow.core import conversation, model
from erflow.store import mailfiles
from erflow.store.commits import QuarantineChange

if TYPE_CHECKING:
    from erflow.mail.inbound import Inbound


_HEADER_ID = re.compile(rb"^message-id:[ \t]*(<[^<>\s]{1,900}>)", re.I | re.M)
_OWN = re.compile(rb"^x-erflow-ticket:", re.I | re.M)


@dataclass
class Received:
    """What became of one message: ``new`` (a ticket made), ``reply`` (logged on a ticket),
    ``moved`` (logged, and the ticket took a transition), ``bounce`` (a delivery failure logged),
    ``duplicate`` (received before: nothing changed) or ``quarantined``."""

    outcome: str
    key: str
    ticket: str | None = None
    commit: str | None = None
    transition: str | None = None
    to_state: str | None = None
    reason: str = ""
    path: str | None = None
    where: str = ""
    emails: list[EmailResult] = field(default_factory=list)
    notifications: list[EmailResult] = field(default_factory=list)  # staff (app/notify.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "key": self.key,
            "ticket": self.ticket,
            "commit": self.commit,
            "transition": self.transition,
            "to": self.to_state,
            "reason": self.reason or None,
            "path": self.path,
            "source": self.where,
            "emails": [e.as_json() for e in self.emails],
            "notifications": [e.as_json() for e in self.notifications],
        }

    def line(self) -> str:
        """One line for a person: what happened to the message."""
        what = {
            "new": f"new ticket {self.ticket}",
            "reply": f"reply logged on {self.ticket}",
            "moved": f"reply logged on {self.ticket}, which took {self.transition} to {self.to_state}",
            "bounce": f"bounce logged on {self.ticket}",
            "duplicate": f"already received as {self.path}; nothing changed",
            "quarantined": f"quarantined as {self.path}",
        }[self.outcome]
        because = f" ({self.reason})" if self.reason and self.outcome != "duplicate" else ""
        return f"{self.where}: {what}{because}"


def header_message_id(data: bytes) -> str | None:
    """The Message-ID in the header section, read without parsing (for a message that does not parse)."""
    head = data[:65536].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    found = _HEADER_ID.search(head)
    return found.group(1).decode("ascii", "replace") if found else None


def from_erflow(data: bytes) -> bool:
    head = data[:65536].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return bool(_OWN.search(head))


def as_actor(ctx: Context, actor: str) -> Context:
    """The same store, clock and loaded workflow, another actor (the sender of a message)."""
    other = Context(ctx.store, actor, ctx.now, ctx.env)
    for cached in ("workflow", "git", "templates"):
        if cached in ctx.__dict__:
            other.__dict__[cached] = ctx.__dict__[cached]
    return other


def saved_files(
    ctx: Context, ticket_id: str, key: str, data: bytes, message: Inbound
) -> tuple[list[tuple[Path, bytes]], list[str]]:
    """The raw message and its attachments as documents of the change, and their paths."""
    from erflow.mail.inbound import safe_filename

    root = ctx.store.root
    documents: list[tuple[Path, bytes]] = [(root / mailfiles.message_path(ticket_id, key), data)]
    taken: set[str] = set()
    folder = mailfiles.attachment_folder(ticket_id, key)
    for attachment in message.attachments:
        name = safe_filename(attachment.name, taken)
        taken.add(name)
        documents.append((root / folder / name, attachment.data))
    return documents, [ctx.store.relative(path) for path, _ in documents]


def log_received(
    ctx: Context, ticket: model.Ticket, message: Inbound, paths: list[str], verified: bool
) -> None:
    """The message in the ticket's Communications: who, the subject, its Message-ID, the reply's text
    and where the raw message and its attachments are kept."""
    head = conversation.received_head(
        message.sender or "(no sender)",
        message.subject,
        message.message_id or "no Message-ID",
        verified=verified,
    )
    text = message.reply.strip() or "(no text)"
    kept = f"kept as {paths[0]}" + (f"; attachments: {', '.join(paths[1:])}" if paths[1:] else "")
    ticket.add_entry(conversation.SECTION, model.entry(ctx.now, head, f"{text}\n\n({kept})"))
    if verified:  # the customer's own: reminders look for unread replies only where this is set
        ticket.meta["last_received"] = model.timestamp(ctx.now)


def quarantine(
    ctx: Context,
    data: bytes,
    key: str,
    reason: str,
    where: str,
    message: Inbound | None = None,
    *,
    retry: str | None = None,
) -> Received:
    """Keep a message that could not be taken in, with the reason, as one commit; a message already
    in quarantine (or received) changes nothing, unless this is its retry (the record then tells
    the latest reason)."""
    root = ctx.store.root
    eml, record = mailfiles.quarantine_paths(key)
    sender = message.sender if message else ""
    ctx = as_actor(ctx, ctx.actor or sender or "mail")
    with transaction.writing(ctx) as began:
        earlier = mailfiles.received(root, key)
        if earlier is not None and (retry is None or earlier != eml):
            return Received("duplicate", key, path=earlier, where=where)
        if retry == key and mailfiles.quarantined_one(root, key)[0].reason == reason:
            return Received("quarantined", key, reason=reason, path=eml, where=where)
        item = mailfiles.Quarantined(
            key, reason, model.timestamp(ctx.now), where, sender, message.subject if message else ""
        )
        documents: list[tuple[Path, str | bytes]] = [
            (root / eml, data),
            (root / record, mailfiles.quarantine_record(item)),
        ]
        removed = [root / p for p in mailfiles.quarantine_paths(retry)] if retry and retry != key else []
        change = QuarantineChange(key, reason, ctx.actor)
        commit = transaction.commit(ctx, began, [], change, (), documents, removed=removed)
    return Received("quarantined", key, commit=commit, reason=reason, path=eml, where=where)
