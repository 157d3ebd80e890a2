"""Staff notifications rendered and logged: the notices erflow.core.notifications fires, each an email
from its staff template, logged in the ticket's Communications and queued with the change's commit
like the customer's emails (app/transaction.py), or logged "not sent"."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context
from erflow.app.emails import EmailResult, email_context, threaded
from erflow.core import engine, model
from erflow.core.errors import InvalidData
from erflow.core.model import Ticket
from erflow.core.notifications import fire, shown
from erflow.core.workflow import NotifyRule, TicketType
from erflow.store import tickets as store

if TYPE_CHECKING:
    from erflow.mail.message import Email


@dataclass
class NoticeResult(EmailResult):
    """A staff notification: an email result that also names its event."""

    event: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"event": self.event, **super().as_json()}


@dataclass
class Notified:
    """The notifications of one change: the emails (queued when sending) and their results."""

    emails: list[Email] = field(default_factory=list)
    results: list[NoticeResult] = field(default_factory=list)

    def add(self, other: Notified) -> None:
        self.emails += other.emails
        self.results += other.results

    def outgoing(self, sending: bool) -> list[Email]:
        return self.emails if sending else []


def notify(
    ctx: Context,
    ticket: Ticket,
    ticket_type: TicketType,
    event: str,
    actor: str,
    what: str,
    sending: bool,
    *,
    timer: str | None = None,
    rules: tuple[NotifyRule, ...] | None = None,
) -> Notified:
    """Fire ``event`` on the ticket (as it is now): render each notice for each recipient, log it in
    the ticket's Communications, and return the emails with their results. ``what``: one line on
    what happened, for the template."""
    done = Notified()
    notices = fire(ctx.workflow, ticket_type, event, ticket.meta, actor, ctx.now, timer=timer, rules=rules)
    for notice in notices:
        rule = notice.rule
        if not ctx.templates.exists(rule.template):
            raise InvalidData(
                f"{store.WORKFLOW}:{rule.line}: notification template {rule.template!r} not found in "
                f"{store.TEMPLATES}/",
                hint="run erflow check",
            )
        for person in notice.to:
            values = email_context(ctx, ticket, ticket_type)
            values.update(
                event=event,
                what=what,
                when=shown(ctx.now, ctx.workflow.calendar),
                recipient_name=person.name,
                next_actions=_next_actions(ctx, ticket, ticket_type, person.email),
            )
            sender = str(ctx.workflow.settings.get("sender") or actor)
            mail = ctx.templates.render(
                rule.template,
                values,
                ticket_id=ticket.id,
                sender=sender,
                to=person.email,
                to_name=person.name,
            )
            mail = threaded(ctx, ticket, dataclasses.replace(mail, date=ctx.now))
            done.emails.append(mail)
    done.results = log_notices(ctx, ticket, done.emails, event, sending)
    return done


def _next_actions(ctx: Context, ticket: Ticket, ticket_type: TicketType, email: str) -> str:
    """The transitions the person may take from the ticket's state, one line (or a word that none)."""
    options = engine.options(ctx.workflow, ticket_type, ticket.meta, email)
    names = [f"{o.transition.name} ({o.transition.label})" for o in options if o.permitted]
    return "; ".join(dict.fromkeys(names)) or "none of its next steps is yours"


def log_notices(
    ctx: Context, ticket: Ticket, emails: Sequence[Email], event: str, queued: bool
) -> list[NoticeResult]:
    """Each notification in the ticket's Communications log, queued or not sent."""
    results = []
    for mail in emails:
        status = f"queued to send, {mail.message_id}" if queued else "not sent"
        head = f"notification {mail.template} ({event}) to {mail.to}: “{mail.subject}” ({status})"
        ticket.add_entry("Communications", model.entry(ctx.now, head))
        results.append(
            NoticeResult(
                mail.template,
                mail.to,
                mail.subject,
                False,
                mail.as_text(),
                mail.message_id,
                queued,
                event=event,
            )  # fmt: skip
        )
    return results


def owner_change(
    ctx: Context,
    ticket: Ticket,
    ticket_type: TicketType,
    before: Any,
    actor: str,
    how: str,
    sending: bool,
) -> Notified:
    """``assigned`` when the ticket's owner became a person other than ``before`` (and the actor)."""
    owner = str(ticket.meta.get("owner") or "").lower()
    if not owner or owner == str(before or "").lower() or owner not in ctx.workflow.people:
        return Notified()
    return notify(ctx, ticket, ticket_type, "assigned", actor, f"{actor} {how}: you own it now", sending)


def state_entered(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, actor: str, how: str, sending: bool
) -> Notified:
    """``role_needed``: the ticket entered its state, and these roles take it on from there."""
    state = ticket_type.states.get(ticket.state)
    label = state.label if state else ticket.state
    return notify(ctx, ticket, ticket_type, "role_needed", actor, f"{actor} {how}: now in {label}", sending)
