"""A ticket's emails: whom each goes to, rendered from its template, logged in the ticket, and the
SMTP settings that deliver them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context
from erflow.core import model
from erflow.core.conditions import is_set
from erflow.core.errors import InvalidData, Refused, UsageError
from erflow.core.model import Ticket
from erflow.core.workflow import EmailSpec, TicketType
from erflow.store import tickets as store

if TYPE_CHECKING:
    from erflow.mail.message import Email
    from erflow.mail.smtp import SmtpConfig


@dataclass
class EmailResult:
    template: str
    to: str
    subject: str
    sent: bool  # the SMTP server accepted it
    text: str = ""
    message_id: str = ""
    queued: bool = False  # in the outbox, to be delivered (sent once the server accepted it)
    problem: str | None = None  # why a queued email is not delivered yet

    def as_json(self) -> dict[str, Any]:
        return {"template": self.template, "to": self.to, "subject": self.subject, "sent": self.sent}


def smtp_config(ctx: Context) -> SmtpConfig:
    from erflow.mail.smtp import SmtpConfig

    config = SmtpConfig.from_env(ctx.env)
    if config is None:
        raise UsageError("sending email needs ERFLOW_SMTP_HOST (and the other ERFLOW_SMTP_* settings)")
    return config


def will_send(ctx: Context, send: bool) -> bool:
    return send or bool(ctx.workflow.settings.get("send_emails", False))


def email_context(ctx: Context, ticket: Ticket, ticket_type: TicketType) -> dict[str, Any]:
    """What a template may use: the ticket's set values (date-times in the workflow's time zone, as
    ``2026-11-02 10:00 +01:00``), ``link``, ``sender_name``, ``type_label``, ``state_label``, ``now``."""
    settings = ctx.workflow.settings
    values = {k: v for k, v in ticket.meta.items() if is_set(v)}
    tz = workflow_timezone(ctx)
    for name, value in values.items():
        declared = ticket_type.field(name)
        if declared is not None and declared.type == "datetime":
            values[name] = local_time(value, tz)
    values["now"] = local_time(ctx.now, tz)
    portal = str(settings.get("portal_url") or "{id}")
    values["link"] = portal.replace("{id}", ticket.id)
    values["sender_name"] = signer(ctx, ticket, ticket_type)
    values["type_label"] = ticket_type.label
    state = ticket_type.states.get(ticket.state)
    values["state_label"] = state.label if state else ticket.state
    return values


def signer(ctx: Context, ticket: Ticket, ticket_type: TicketType) -> str:
    """The name that signs the ticket's emails: its type's ``sender_name``, where ``{owner}`` is the
    owner's name under people; else (and for an owner who is a role or nobody) settings.sender_name."""
    fallback = str(ctx.workflow.settings.get("sender_name") or "")
    if "{owner}" in ticket_type.sender_name:
        person = ctx.workflow.people.get(str(ticket.meta.get("owner") or "").lower())
        return ticket_type.sender_name.replace("{owner}", person.name) if person else fallback
    return ticket_type.sender_name or fallback


def workflow_timezone(ctx: Context) -> dt.tzinfo:
    """settings.timezone, else the calendar's (an unreadable setting falls back to the calendar)."""
    from erflow.core.businesstime import parse_timezone

    raw = ctx.workflow.settings.get("timezone")
    if raw:
        try:
            return parse_timezone(str(raw))
        except ValueError:
            pass
    return ctx.workflow.calendar.tz


def local_time(value: Any, tz: dt.tzinfo) -> Any:
    """A date-time (or its ISO text) as ``YYYY-MM-DD HH:MM +HH:MM`` in ``tz``; other values as they are."""
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
        return value
    local = moment.astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def _recipient(ctx: Context, ticket: Ticket, ticket_type: TicketType, spec: EmailSpec) -> tuple[str, str]:
    if spec.to == "customer":
        address = ticket.meta.get("customer_email")
        if not is_set(address):
            raise Refused(
                f"{ticket.id}: email {spec.template} needs customer_email, which the ticket lacks",
                missing=["customer_email"],
            )
        return str(address), str(ticket.meta.get("customer_name") or "")
    declared = ticket_type.field(spec.to)
    if declared is not None:
        address = ticket.meta.get(spec.to)
        if not is_set(address):
            raise Refused(f"{ticket.id}: email {spec.template} needs {spec.to}", missing=[spec.to])
        person = ctx.workflow.people.get(str(address).lower())
        return str(address), person.name if person else ""
    person = ctx.workflow.people.get(spec.to.lower())
    if person is not None:
        return person.email, person.name
    members = ctx.workflow.people_with_role(spec.to)
    if members:
        return members[0].email, members[0].name
    raise InvalidData(f"{ctx.store.workflow_path}: email {spec.template} goes to unknown {spec.to!r}")


def render_emails(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, specs: Sequence[EmailSpec]
) -> list[Email]:
    """Render every email; a template that needs a field the ticket lacks refuses (exit 3)."""
    rendered = []
    for spec in specs:
        if spec.line and not ctx.templates.exists(spec.template):  # named by workflow.yaml
            raise InvalidData(
                f"{store.WORKFLOW}:{spec.line}: email template {spec.template!r} not found in "
                f"{store.TEMPLATES}/",
                hint="run erflow check",
            )
        to, to_name = _recipient(ctx, ticket, ticket_type, spec)
        mail = ctx.templates.render(
            spec.template,
            email_context(ctx, ticket, ticket_type),
            ticket_id=ticket.id,
            sender=str(ctx.workflow.settings.get("sender") or ctx.actor),
            to=to,
            to_name=to_name,
        )
        date = ctx.now.astimezone(workflow_timezone(ctx))
        rendered.append(threaded(ctx, ticket, dataclasses.replace(mail, date=date)))
    return rendered


def threaded(ctx: Context, ticket: Ticket, mail: Email) -> Email:
    """The email as part of the ticket's conversation: its tag ``[ER-12]`` in the subject, Reply-To
    the desk (intake.address), and In-Reply-To the customer's latest message, if any."""
    from erflow.core.conversation import last_received
    from erflow.mail.message import tagged

    answers = last_received(ticket) if mail.to == ticket.meta.get("customer_email") else None
    return dataclasses.replace(
        mail,
        subject=tagged(mail.subject, ticket.id),
        reply_to=ctx.workflow.intake.address or "",
        in_reply_to=answers or "",
        references=(answers,) if answers else (),
    )


def mark_emailed(ctx: Context, ticket: Ticket, to: str) -> None:
    """An email to the ticket's customer restarts ``last_emailed`` (timers may count from it)."""
    customer = ticket.meta.get("customer_email")
    if isinstance(customer, str) and customer.strip().lower() == to.strip().lower():
        ticket.meta["last_emailed"] = model.timestamp(ctx.now)


def log_emails(ctx: Context, ticket: Ticket, emails: Sequence[Email], queued: bool) -> list[EmailResult]:
    """Each email in the ticket's communications log: ``queued`` (to be sent, by the outbox, under
    its Message-ID) or not sent. One to the customer sets ``last_emailed``."""
    results = []
    for mail in emails:
        mark_emailed(ctx, ticket, mail.to)
        status = f"queued to send, {mail.message_id}" if queued else "not sent"
        head = f"email {mail.template} to {mail.to}: “{mail.subject}” ({status})"
        ticket.add_entry("Communications", model.entry(ctx.now, head))
        results.append(
            EmailResult(mail.template, mail.to, mail.subject, False, mail.as_text(), mail.message_id, queued)
        )
    return results
