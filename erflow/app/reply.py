"""A free-form public reply to a ticket's customer: threaded (In-Reply-To the customer's latest
message, the ticket's tag in the subject, Reply-To the desk), queued in the outbox by its commit and
logged in the Communications with its text, like a template's email."""

from __future__ import annotations

from erflow.app import outbox, transaction
from erflow.app.context import Context, require_actor
from erflow.app.emails import EmailResult, mark_emailed, threaded
from erflow.app.transaction import ChangeResult
from erflow.core import model
from erflow.core.conditions import is_set
from erflow.core.errors import NotPermitted, Refused, UsageError
from erflow.store.commits import Change


def reply(ctx: Context, raw_id: str, text: str, *, dry_run: bool = False) -> ChangeResult:
    """Send ``text`` to the ticket's customer (one commit; delivered after it). ``dry_run``: the
    message as it would go, nothing written."""
    from erflow.mail.message import Email

    actor = require_actor(ctx)
    if not ctx.workflow.may(actor, "reply"):
        raise NotPermitted(f"{actor} may not reply to customers (permissions.reply in workflow.yaml)")
    if not text.strip():
        raise UsageError("the reply is empty; nothing was sent")
    with transaction.writing(ctx, raw_id, dry_run=dry_run) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        to = ticket.meta.get("customer_email")
        if not is_set(to):
            raise Refused(f"{ticket.id} has no customer_email to reply to", missing=["customer_email"])
        settings = ctx.workflow.settings
        mail = Email(
            "reply",
            ticket.id,
            str(settings.get("sender") or actor),
            str(to),
            str(ticket.meta.get("customer_name") or ""),
            f"Re: {ticket.meta.get('title') or ticket.id}",
            text.strip("\n") + "\n",
            ctx.now,
        )
        mail = threaded(ctx, ticket, mail)
        if dry_run:
            result = EmailResult("reply", mail.to, mail.subject, False, mail.as_text(), mail.message_id)
            return ChangeResult(ticket.id, "reply", None, emails=[result], dry_run=True)
        head = f"email reply to {mail.to}: “{mail.subject}” (queued to send, {mail.message_id})"
        ticket.add_entry("Communications", model.entry(ctx.now, f"{actor}: {head}", text))
        mark_emailed(ctx, ticket, mail.to)
        result = EmailResult("reply", mail.to, mail.subject, False, mail.as_text(), mail.message_id, True)
        change = Change(
            ticket.id, "reply", actor, None, ticket.state, ticket.state, summary=f"to {mail.to}", text=text
        )
        commit = transaction.commit(ctx, began, [pending], change, [mail])
        outbox.deliver(ctx, [result])
    return ChangeResult(ticket.id, "reply", commit, emails=[result])
