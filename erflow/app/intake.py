"""A message that answers no ticket becomes a new one, by the workflow's ``intake:`` rules: the first
route whose address, subject or text matches gives the type and its first fields, else the default
type; the sender is the customer and acts as such (``customer`` role), the subject is the title and
the text the request. A message no rule takes, or that the type refuses, waits in quarantine."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from erflow.app import outbox, transaction
from erflow.app.context import Context
from erflow.app.create import fresh_ticket
from erflow.app.emails import log_emails, render_emails, will_send
from erflow.app.notify import owner_change
from erflow.app.received import Received, as_actor, log_received, quarantine, saved_files
from erflow.core.errors import InvalidData, NotFound, Refused
from erflow.core.workflow import Intake, TicketType
from erflow.store import mailfiles
from erflow.store.commits import Change

if TYPE_CHECKING:
    from erflow.mail.inbound import Inbound


def route(intake: Intake, message: Inbound) -> tuple[str | None, dict[str, Any]]:
    """The type a new message becomes and the fields its route sets (None: no route, no default)."""
    recipients = {r.lower() for r in message.recipients}
    for rule in intake.routes:
        if rule.to is not None and rule.to not in recipients:
            continue
        if rule.subject is not None and not re.search(rule.subject, message.subject, re.IGNORECASE):
            continue
        if rule.body is not None and not re.search(rule.body, message.text, re.IGNORECASE | re.MULTILINE):
            continue
        return rule.type, dict(rule.sets)
    return intake.default_type, {}


def _values(ticket_type: TicketType, message: Inbound, sets: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if ticket_type.field("customer_email") is not None:
        values["customer_email"] = message.sender
    if ticket_type.field("customer_name") is not None and message.sender_name:
        values["customer_name"] = message.sender_name
    values.update(sets)
    return values


def create(
    ctx: Context,
    data: bytes,
    key: str,
    message: Inbound,
    where: str,
    *,
    send: bool = False,
    retry: str | None = None,
) -> Received:
    """A new ticket from a message, as the customer; quarantined with the reason when it cannot be."""
    intake = ctx.workflow.intake
    type_name, sets = route(intake, message)
    if type_name is None:
        reason = "no intake route takes it and intake.default_type is not set"
        return quarantine(ctx, data, key, reason, where, message, retry=retry)
    if not message.sender:
        return quarantine(ctx, data, key, "no sender address to answer", where, message, retry=retry)
    ticket_type = ctx.workflow.type(type_name)
    actor_ctx = as_actor(ctx, message.sender)
    sending = will_send(ctx, send)
    try:
        with transaction.writing(actor_ctx) as began:
            earlier = mailfiles.received(ctx.store.root, key)
            if earlier is not None and (retry is None or f"/{mailfiles.QUARANTINE}/" not in earlier):
                return Received("duplicate", key, path=earlier, where=where)
            values = _values(ticket_type, message, sets)
            if not ctx.workflow.may(message.sender, "new", values):
                raise _NotTaken(f"{message.sender} may not create tickets (permissions.new)")
            title = message.subject or "(no subject)"
            ticket, specs = fresh_ticket(
                actor_ctx,
                ticket_type,
                title,
                values,
                message.text.strip(),
                f"{message.sender}: created by email",
            )
            documents, paths = saved_files(ctx, ticket.id, key, data, message)
            log_received(ctx, ticket, message, paths, verified=True)
            emails = render_emails(actor_ctx, ticket, ticket_type, specs) if intake.acknowledge else []
            results = log_emails(ctx, ticket, emails, sending)
            notified = owner_change(
                actor_ctx, ticket, ticket_type, None, message.sender, "created it by email", sending
            )
            emails += notified.emails
            pending = transaction.Pending(ticket, ticket_type, ctx.store.path_for(ticket.id), None)
            change = Change(ticket.id, "new", message.sender, None, None, ticket.state, summary=title)
            removed = [ctx.store.root / p for p in mailfiles.quarantine_paths(retry)] if retry else []
            commit = transaction.commit(
                actor_ctx, began, [pending], change, emails if sending else (), documents, removed=removed
            )
            outbox.deliver(ctx, [*results, *notified.results])
    except _NotTaken as exc:
        return quarantine(ctx, data, key, exc.message, where, message, retry=retry)
    except (Refused, NotFound, InvalidData) as exc:  # the message waits for a fix, then a retry
        return quarantine(
            ctx, data, key, f"not taken as a new {type_name}: {exc.message}", where, message, retry=retry
        )
    return Received(
        "new",
        key,
        ticket.id,
        commit,
        to_state=ticket.state,
        path=paths[0],
        where=where,
        emails=results,
        notifications=list(notified.results),
    )


class _NotTaken(Refused):
    pass
