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
from typing import TYPE_CHECKING, Any

from erflow.app import outbox, transaction
from erflow.app.context import Context
from erflow.app.emails import log_emails, will_send
from erflow.app.received import (
    Received,
    as_actor,
    from_erflow,
    header_message_id,
    log_received,
    quarantine,
    saved_files,
)
from erflow.core import conversation, engine, model
from erflow.core.errors import ErflowError, NotFound
from erflow.core.workflow import is_customer
from erflow.store import mailfiles
from erflow.store.commits import Change

if TYPE_CHECKING:
    from erflow.app.notify import Notified
    from erflow.mail.inbound import Inbound
    from erflow.mail.message import Email


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
    if from_erflow(data):
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
    documents, paths = saved_files(ctx, ticket_id, key, data, message)
    with transaction.writing(actor_ctx, ticket_id, also=paths) as began:
        earlier = mailfiles.received(ctx.store.root, key)
        if earlier is not None and (retry is None or f"/{mailfiles.QUARANTINE}/" not in earlier):
            return Received("duplicate", key, ticket_id, path=earlier, where=where)
        pending = transaction.load_for_change(actor_ctx, ticket_id, began)
        ticket = pending.ticket
        verified = not ctx.workflow.intake.verify_sender or is_customer(sender, ticket.meta)
        if ticket.id != ticket_id:  # named otherwise by the message (its case)
            documents, paths = saved_files(ctx, ticket.id, key, data, message)
        log_received(ctx, ticket, message, paths, verified)
        result = Received("reply", key, ticket.id, path=paths[0], where=where, reason=how)
        emails: list[Email] = []
        others: list[transaction.Pending] = []  # the tickets that follow this one, when it moved
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
                notified = _replied(
                    ctx, pending, message, f"moved nothing: {moved}" if moved else "", sending
                )
                result.notifications = list(notified.results)
                emails = notified.outgoing(sending)
                if moved:
                    result.reason = moved
                    ticket.add_entry("Notes", model.entry(ctx.now, f"customer reply moved nothing: {moved}"))
                    if not notified.results:  # no customer_replied rule told the owner
                        told = _tell_owner(ctx, ticket, message, moved)
                        result.emails = log_emails(ctx, ticket, told, sending)
                        emails += told if sending else []
            else:
                plan, applied = moved
                result.outcome, result.transition, result.to_state = (
                    "moved",
                    plan.transition.name,
                    plan.to_state,
                )
                result.emails = applied.results
                how = f"moved it: {plan.transition.name} ({plan.from_state} → {plan.to_state})"
                notified = _replied(ctx, pending, message, how, sending)
                result.notifications = [*applied.notices, *notified.results]
                emails = [*applied.outgoing(sending), *notified.outgoing(sending)]
                others = applied.linked
                change = Change(
                    ticket.id, "advance", sender, plan.transition.name, plan.from_state, plan.to_state,
                    text=message.reply.strip(),
                )  # fmt: skip
        removed = [ctx.store.root / p for p in mailfiles.quarantine_paths(retry)] if retry else []
        result.commit = transaction.commit(
            actor_ctx, began, [pending, *others], change, emails, documents, removed=removed
        )
        if message.kind == "bounce":
            _mark_bounced(ctx, message)
        outbox.deliver(ctx, [*result.emails, *result.notifications])
    return result


def _replied(
    ctx: Context, pending: transaction.Pending, message: Inbound, outcome: str, sending: bool
) -> Notified:
    """``customer_replied``: the reply is logged on the ticket; ``outcome`` says what it did."""
    from erflow.app.notify import notify

    reply = " ".join(message.reply.split())
    what = f"{message.sender} replied: “{reply[:200]}”" + (f"; {outcome}" if outcome else "")
    return notify(ctx, pending.ticket, pending.type, "customer_replied", message.sender, what, sending)


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
