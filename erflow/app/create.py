"""Creating a ticket: ``new``, and the fresh ticket a transition's linked tickets start from too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from erflow.app import outbox, transaction
from erflow.app.context import Context, require_actor
from erflow.app.emails import log_emails, render_emails, will_send
from erflow.app.notify import owner_change
from erflow.app.transaction import ChangeResult
from erflow.app.views import workload
from erflow.core import conditions, engine, model
from erflow.core.conditions import is_set
from erflow.core.errors import NotPermitted, Refused, UsageError
from erflow.core.model import Ticket
from erflow.core.workflow import EmailSpec, TicketType
from erflow.store.commits import Change


@dataclass
class NewRequest:
    type: str
    title: str | None = None
    description: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_org: str | None = None
    sets: dict[str, str] = field(default_factory=dict)
    form: Mapping[str, Any] | None = None


_FORM_ALIASES = {
    "customer_org": "customer",
    "organization": "customer",
    "subject": "title",
    "body": "description",
}


def _form_values(request: NewRequest) -> tuple[dict[str, str], str | None]:
    """Merge a form submission and the command-line flags (flags win) into text values."""
    merged: dict[str, str] = {}
    description = None
    for key, value in (request.form or {}).items():
        key = _FORM_ALIASES.get(str(key), str(key))
        if value is None:
            continue
        if key == "description":
            description = str(value)
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (dict,)):
            raise UsageError(f"form field {key!r}: expected a value, not a mapping")
        merged[key] = str(value)
    flags = {
        "title": request.title,
        "customer_name": request.customer_name,
        "customer_email": request.customer_email,
        "customer": request.customer_org,
    }
    merged.update({k: v for k, v in flags.items() if v is not None})
    merged.update(request.sets)
    return merged, request.description if request.description is not None else description


def new(ctx: Context, request: NewRequest, *, send: bool = False, dry_run: bool = False) -> ChangeResult:
    wf = ctx.workflow
    ticket_type = wf.type(request.type)
    actor = require_actor(ctx)
    if not wf.may(actor, "new"):
        raise NotPermitted(f"{actor} may not create tickets (permissions.new in workflow.yaml)")
    raw, description = _form_values(request)
    title = " ".join((raw.pop("title", "") or "").split())
    if not title:
        raise UsageError("a ticket needs a title (--title or title: in the form)")
    if raw.get("owner"):
        from erflow.app.edit import people_named

        raw = people_named(ctx, raw)
    values = engine.parse_sets(ticket_type, raw)
    for name in values:
        if ticket_type.owners_of(name):
            owners = ", ".join(sorted(ticket_type.owners_of(name)))
            raise Refused(f"{name!r} is set by the transition {owners}, not at creation")
    sending = will_send(ctx, send)
    with transaction.writing(ctx, dry_run=dry_run) as began:
        ticket, specs = fresh_ticket(ctx, ticket_type, title, values, description or "", f"{actor}: created")
        emails = render_emails(ctx, ticket, ticket_type, specs)
        results = log_emails(ctx, ticket, emails, sending)
        notified = owner_change(ctx, ticket, ticket_type, None, actor, "created it", sending)
        result = ChangeResult(
            ticket.id, "new", None, None, None, ticket.state, results, dry_run=dry_run,
            notifications=list(notified.results),
        )  # fmt: skip
        if dry_run:
            return result
        pending = transaction.Pending(ticket, ticket_type, ctx.store.path_for(ticket.id), None)
        change = Change(ticket.id, "new", actor, None, None, ticket.state, summary=title)
        outgoing = [*emails, *notified.emails] if sending else ()
        result.commit = transaction.commit(ctx, began, [pending], change, outgoing)
        outbox.deliver(ctx, [*results, *result.notifications])
    return result


def fresh_ticket(
    ctx: Context, ticket_type: TicketType, title: str, values: Mapping[str, Any], description: str, head: str
) -> tuple[Ticket, list[EmailSpec]]:
    """A new ticket in the type's initial state (id allocated, nothing written), and the emails its
    creation sends. Call it under the store lock."""
    now = model.timestamp(ctx.now)
    initial = ticket_type.initial
    meta: dict[str, Any] = {"id": ctx.store.allocate_id(ticket_type.prefix), "type": ticket_type.name}
    meta.update(title=title, state=initial, labels=[], links=[])
    meta.update({k: v for k, v in values.items() if v is not None})
    meta.update(created=now, updated=now, state_entered=now)
    if "owner" not in values:
        meta["owner"] = engine.owner_for(
            ctx.workflow, ticket_type, initial, meta, workload=lambda: workload(ctx)
        )
    meta = {k: v for k, v in meta.items() if v is not None}
    missing = [
        name
        for requirement in ticket_type.create.requires
        if requirement.when is None or holds(ctx, requirement.when, meta)
        for name in requirement.fields
        if not is_set(meta.get(name))
    ]
    if missing:
        raise Refused(f"a new {ticket_type.name} needs: {', '.join(missing)}", missing=missing)
    ticket = Ticket(meta, description.strip("\n"))
    ticket.add_entry("Notes", model.entry(ctx.now, f"{head} in {initial}"))
    specs = [s for s in ticket_type.create.emails if s.when is None or holds(ctx, s.when, meta)]
    return ticket, specs


def holds(ctx: Context, condition: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return conditions.holds(condition, values, ctx.workflow.policies)
