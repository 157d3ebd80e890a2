"""Mail that comes in: one raw message taken into the store exactly once, as one commit.

The message is matched to a ticket by its In-Reply-To and References (erflow's own Message-IDs name
their ticket; a customer's earlier message is found by its key under mail/), then by the subject's
tag ``[ER-12]``; a message that matches none becomes a new ticket by the workflow's ``intake:``
rules (erflow/app/intake.py). A reply is logged in the ticket's Communications (its text without the
quoted history and signature) and, when the customer sent it and the state has an ``on_reply:``
rule, takes that transition as the customer, through the same gates as any other. The raw message
is kept beside the ticket (erflow/store/mailfiles.py) so nothing is lost by reading only the reply.

Whatever cannot be taken in (unparseable, too big, an auto-reply or a bounce to no ticket, a ticket
that cannot be created) goes to the quarantine with the reason, also as a commit; ``erflow mail
retry`` tries it again. A message received before (same key) changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app import outbox, transaction
from erflow.app.context import Context
from erflow.app.emails import EmailResult, log_emails, will_send
from erflow.core import conversation, engine, model
from erflow.core.errors import ErflowError, NotFound
from erflow.core.workflow import is_customer
from erflow.store import mailfiles
from erflow.store.commits import Change, QuarantineChange

if TYPE_CHECKING:
    from erflow.mail.inbound import Inbound
    from erflow.mail.message import Email

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


def _from_erflow(data: bytes) -> bool:
    head = data[:65536].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return bool(_OWN.search(head))


def as_actor(ctx: Context, actor: str) -> Context:
    """The same store, clock and loaded workflow, another actor (the sender of a message)."""
    other = Context(ctx.store, actor, ctx.now, ctx.env)
    for cached in ("workflow", "git", "templates"):
        if cached in ctx.__dict__:
            other.__dict__[cached] = ctx.__dict__[cached]
    return other


def receive(
    ctx: Context, data: bytes, *, where: str = "stdin", send: bool = False, retry: str | None = None
) -> Received:
    """Take one raw message in (see the module's docstring). ``retry``: the key of the quarantined
    copy this is, which the same commit removes when the message is taken in."""
    from erflow.mail import inbound

    intake = ctx.workflow.intake
    try:
        message = inbound.parse(data, max_bytes=intake.max_bytes)
    except inbound.Unreadable as exc:
        key = inbound.message_key(data, header_message_id(data))
        return quarantine(ctx, data, key, exc.message, where, retry=retry)
    key = inbound.message_key(data, message.message_id)
    if _from_erflow(data):
        reason = "erflow's own email came back (a mail loop?); nothing was done with it"
        return quarantine(ctx, data, key, reason, where, message, retry=retry)
    ticket_id, how = match(ctx, message)
    if ticket_id is None:
        if message.kind == "bounce":
            return quarantine(
                ctx, data, key, "a bounce for no email erflow sent", where, message, retry=retry
            )
        if message.kind == "auto-reply":
            return quarantine(ctx, data, key, "an auto-reply to no ticket", where, message, retry=retry)
        from erflow.app import intake as intake_rules

        return intake_rules.create(ctx, data, key, message, where, send=send, retry=retry)
    return _reply(ctx, data, key, message, ticket_id, how, where, send=send, retry=retry)


def match(ctx: Context, message: Inbound) -> tuple[str | None, str]:
    """The ticket a message answers and how it was found: by the Message-IDs it answers (erflow's
    own, whose outbox entry must exist; or a message received before), else by its subject's tag."""
    from erflow.mail import inbound
    from erflow.mail import outbox as entries
    from erflow.mail.message import OWN_MESSAGE_ID, SUBJECT_TAG

    root = ctx.store.root
    answered = [*message.in_reply_to, *reversed(message.references)]
    if message.kind == "bounce":
        answered = [*message.bounced_ids, *answered]
    for message_id in dict.fromkeys(answered):
        own = OWN_MESSAGE_ID.fullmatch(message_id)
        if own and (root / entries.entry_path(own.group(1), message_id)).is_file():
            return own.group(1), f"answers {message_id}"
        earlier = mailfiles.received(root, inbound.message_key(b"", message_id))
        if earlier is not None and f"/{mailfiles.QUARANTINE}/" not in earlier:
            return earlier.split("/")[1], f"answers {message_id}"
    for tag in SUBJECT_TAG.findall(message.subject):
        try:
            ctx.store.find(tag)
        except (NotFound, ErflowError):
            continue
        return tag, f"subject tag [{tag}]"
    return None, ""


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


def _reply(
    ctx: Context,
    data: bytes,
    key: str,
    message: Inbound,
    ticket_id: str,
    how: str,
    where: str,
    *,
    send: bool,
    retry: str | None,
) -> Received:
    sender = message.sender
    actor_ctx = as_actor(ctx, sender or "mail")
    sending = will_send(ctx, send)
    with transaction.writing(actor_ctx, ticket_id) as began:
        earlier = mailfiles.received(ctx.store.root, key)
        if earlier is not None and (retry is None or f"/{mailfiles.QUARANTINE}/" not in earlier):
            return Received("duplicate", key, ticket_id, path=earlier, where=where)
        pending = transaction.load_for_change(actor_ctx, ticket_id, began)
        ticket = pending.ticket
        verified = not ctx.workflow.intake.verify_sender or is_customer(sender, ticket.meta)
        documents, paths = saved_files(ctx, ticket.id, key, data, message)
        log_received(ctx, ticket, message, paths, verified)
        result = Received("reply", key, ticket.id, path=paths[0], where=where, reason=how)
        emails: list[Email] = []
        change = Change(ticket.id, "mail", sender or "mail", None, ticket.state, ticket.state, summary=how)
        if message.kind == "bounce":
            result.outcome = "bounce"
            _log_bounce(ctx, ticket, message)
            change = Change(
                ticket.id, "mail", sender or "mail", None, ticket.state, ticket.state, summary="bounce"
            )
        elif message.kind == "auto-reply":
            result.reason = "an auto-reply: logged, moves nothing"
        elif not verified:
            result.reason = f"{sender} is not the ticket's customer: logged as unverified, moves nothing"
        else:
            moved = _on_reply(actor_ctx, pending, message, sending)
            if isinstance(moved, str):
                if moved:
                    result.reason = moved
                    ticket.add_entry("Notes", model.entry(ctx.now, f"customer reply moved nothing: {moved}"))
                    emails = _tell_owner(ctx, ticket, message, moved)
                    result.emails = log_emails(ctx, ticket, emails, sending)
                    emails = emails if sending else []
            else:
                plan, applied = moved
                result.outcome, result.transition, result.to_state = (
                    "moved",
                    plan.transition.name,
                    plan.to_state,
                )
                result.emails = applied.results
                emails = applied.outgoing(sending)
                change = Change(
                    ticket.id, "advance", sender, plan.transition.name, plan.from_state, plan.to_state,
                    text=message.reply.strip(),
                )  # fmt: skip
        removed = [ctx.store.root / p for p in mailfiles.quarantine_paths(retry)] if retry else []
        result.commit = transaction.commit(
            actor_ctx, began, [pending], change, emails, documents, removed=removed
        )
        if message.kind == "bounce":
            _mark_bounced(ctx, message)
        outbox.deliver(ctx, result.emails)
    return result


def _on_reply(
    ctx: Context, pending: transaction.Pending, message: Inbound, sending: bool
) -> tuple[engine.Plan, Any] | str:
    """The transition the state's ``on_reply:`` rules give this reply, applied in memory; or why
    none was taken ('' when the state has no rule)."""
    from erflow.app.advance import apply_plan
    from erflow.app.views import workload

    ticket, ticket_type = pending.ticket, pending.type
    state = ticket_type.states.get(ticket.state)
    text = message.reply.strip()
    rules = state.on_reply if state else ()
    rule = next(
        (r for r in rules if r.match is None or re.search(r.match, text, re.IGNORECASE | re.MULTILINE)), None
    )
    if rule is None:
        return f"no on_reply rule of {ticket.state} matches the reply" if rules else ""
    sets = engine.parse_sets(ticket_type, {rule.fills: text}) if rule.fills else {}
    try:
        plan = engine.plan(
            ctx.workflow, ticket_type, ticket.meta, rule.transition, ctx.actor, sets, text,
            workload=lambda: workload(ctx),
        )  # fmt: skip
    except ErflowError as exc:
        return exc.message
    return plan, apply_plan(ctx, pending, plan, ctx.actor, text, sending)


def _tell_owner(ctx: Context, ticket: model.Ticket, message: Inbound, why: str) -> list[Email]:
    """An email to the ticket's owner (a person, or the first person of its role): the customer
    replied and the reply could not move the ticket."""
    from erflow.mail.message import Email, tagged

    owner = str(ticket.meta.get("owner") or "")
    person = ctx.workflow.people.get(owner.lower())
    if person is None:
        members = ctx.workflow.people_with_role(owner)
        person = members[0] if members else None
    if person is None:
        return []
    sender = str(ctx.workflow.settings.get("sender") or person.email)
    body = (
        f"{message.sender} replied to {ticket.id} ({ticket.meta.get('title', '')}), and the reply moved "
        f"nothing:\n{why}\n\nTheir reply:\n\n{message.reply.strip() or '(no text)'}\n\n"
        f"erflow show {ticket.id} has the whole conversation.\n"
    )
    subject = tagged(f"Customer reply needs you: {ticket.id}", ticket.id)
    return [Email("owner_notice", ticket.id, sender, person.email, person.name, subject, body, ctx.now)]


def _log_bounce(ctx: Context, ticket: model.Ticket, message: Inbound) -> None:
    ids = ", ".join(message.bounced_ids) or "an email"
    ticket.add_entry(
        conversation.SECTION, model.entry(ctx.now, f"delivery of {ids} failed (bounce from {message.sender})")
    )


def _mark_bounced(ctx: Context, message: Inbound) -> None:
    """The outbox's delivery record of each bounced email says so (kept in this clone)."""
    from erflow.mail import outbox as entries
    from erflow.store import outbox as records

    git_dir = ctx.git.git_dir()
    for message_id in message.bounced_ids:
        records.bounced(git_dir, entries.key(message_id), f"bounced: {message.subject}"[:300])


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
