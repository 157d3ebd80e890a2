"""Advancing a ticket: the engine's plan applied in memory (values, clocks, the Notes entry, linked
tickets, documents, emails), then written as one commit."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app import follow, outbox, transaction
from erflow.app.context import Context, require_actor
from erflow.app.create import fresh_ticket, holds
from erflow.app.emails import email_context, log_emails, render_emails, will_send
from erflow.app.notify import Notified, owner_change, state_entered
from erflow.app.transaction import ChangeResult
from erflow.app.views import workload
from erflow.core import engine, model
from erflow.core.conditions import is_set
from erflow.core.errors import InvalidData, Refused
from erflow.core.model import LINK_INVERSE, Ticket
from erflow.core.workflow import EmailSpec, LinkedTicket, TicketType, Transition
from erflow.store.commits import Change

if TYPE_CHECKING:
    from erflow.app.emails import EmailResult
    from erflow.app.reading import TicketFile
    from erflow.mail.message import Email


def advance(
    ctx: Context,
    raw_id: str,
    transition: str,
    sets: Mapping[str, str] | None = None,
    note: str | None = None,
    *,
    dry_run: bool = False,
    send: bool = False,
    already_read: TicketFile | None = None,
) -> ChangeResult:
    """Apply a transition to a ticket as one commit. ``already_read``: the ticket's file as a view
    read it (the advance menu's), not read again if unchanged since."""
    actor = require_actor(ctx)
    sending = will_send(ctx, send) and not dry_run
    with transaction.writing(ctx, raw_id, dry_run=dry_run) as began:
        pending = transaction.load_for_change(ctx, raw_id, began, already_read)
        from erflow.app.edit import people_named

        typed = engine.parse_sets(pending.type, people_named(ctx, sets or {}))
        try:
            plan = engine.plan(
                ctx.workflow, pending.type, pending.ticket.meta, transition, actor, typed, note,
                workload=lambda: workload(ctx),
            )  # fmt: skip
        except Refused as exc:
            raise _with_sets_given(exc, sets or {}) from None
        applied = apply_plan(ctx, pending, plan, actor, note, sending)
        result = ChangeResult(
            pending.ticket.id, "advance", None, transition, plan.from_state, plan.to_state, applied.results,
            created=applied.created, changes=plan.changes, dry_run=dry_run, notifications=applied.notices,
        )  # fmt: skip
        if dry_run:
            return result
        change = Change(
            pending.ticket.id, "advance", actor, transition, plan.from_state, plan.to_state, text=note or "",
            created=tuple(applied.created),
        )  # fmt: skip
        result.commit = transaction.commit(
            ctx, began, [pending, *applied.linked], change, applied.outgoing(sending), applied.documents
        )
        outbox.deliver(ctx, [*result.emails, *result.notifications])
    return result


def _with_sets_given(refusal: Refused, sets: Mapping[str, str]) -> Refused:
    """The refusal, its message ending with the ``--set`` values given (kept by nothing), so that the
    command can be run again with the missing ones added."""
    if not sets:
        return refusal
    given = " ".join(f"--set {shlex.quote(f'{name}={value}')}" for name, value in sets.items())
    return type(refusal)(
        f"{refusal.message}; you gave: {given}",
        reasons=refusal.reasons,
        missing=refusal.missing,
        hint=refusal.hint,
    )


@dataclass
class Applied:
    """What applying a plan to a ticket (in memory) produced: ``linked`` are the other tickets the
    change writes, those it creates and those that follow it (app.follow)."""

    emails: list[Email]
    results: list[EmailResult]
    linked: list[transaction.Pending]
    documents: list[tuple[Path, str]] = field(default_factory=list)
    notified: Notified = field(default_factory=Notified)

    @property
    def notices(self) -> list[EmailResult]:
        return list(self.notified.results)

    @property
    def created(self) -> list[str]:
        return [item.ticket.id for item in self.linked if item.original is None]

    def outgoing(self, sending: bool) -> list[Email]:
        """The emails to queue with the commit: the customer's and the staff notifications."""
        return [*self.emails, *self.notified.emails] if sending else []


def apply_plan(
    ctx: Context,
    pending: transaction.Pending,
    plan: engine.Plan,
    actor: str,
    note: str | None,
    sending: bool,
    *,
    own_note: bool = True,
) -> Applied:
    """Apply a plan to the ticket in memory: values, state clocks, the Notes entry, linked tickets,
    the tickets that follow it, the emails due and the staff notifications (rendered and logged).
    Nothing is written. ``own_note``: the note is a person's, copied to the followers (not a
    timer's)."""
    ticket, ticket_type = pending.ticket, pending.type
    owner_before = ticket.meta.get("owner")
    entered_before = ticket.meta.get("state_entered")
    ticket.meta = {k: v for k, v in plan.values.items() if v is not None}
    if plan.to_state != plan.from_state:
        _clock_state_change(ctx, ticket, ticket_type, plan.from_state, entered_before)
    head = f"{actor}: {plan.transition.name} ({plan.from_state} → {plan.to_state})"
    changed = {k: v for k, v in plan.changes.items() if k not in ("state", "owner")}
    if changed:
        head += "; " + ", ".join(f"{k}={model.brief(v[1])}" for k, v in changed.items())
    ticket.add_entry("Notes", model.entry(ctx.now, head, note or ""))
    followed = follow.carry(
        ctx, ticket, moved=plan.to_state != plan.from_state, head=f"{actor}: {plan.transition.name}",
        note=(note or "") if own_note else "",
    )  # fmt: skip
    linked = _create_linked(
        ctx, pending, plan.linked, f"{actor}: created by {ticket.id} {plan.transition.name}"
    )
    emails = render_emails(ctx, ticket, ticket_type, plan.emails)
    results = log_emails(ctx, ticket, emails, sending)
    for item, specs in linked:
        item_emails = render_emails(ctx, item.ticket, item.type, specs)
        results += log_emails(ctx, item.ticket, item_emails, sending)
        emails += item_emails
    documents = _render_documents(ctx, ticket, ticket_type, plan.transition)
    how = f"took {plan.transition.name} ({plan.from_state} → {plan.to_state})"
    notified = owner_change(ctx, ticket, ticket_type, owner_before, actor, how, sending)
    if plan.to_state != plan.from_state:
        notified.add(state_entered(ctx, ticket, ticket_type, actor, how, sending))
    for item, _ in linked:
        notified.add(
            owner_change(ctx, item.ticket, item.type, None, actor, f"created it from {ticket.id}", sending)
        )
    return Applied(emails, results, [item for item, _ in linked] + followed, documents, notified)


def _render_documents(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, transition: Transition
) -> list[tuple[Path, str]]:
    """The files a transition writes (knowledge articles, invoices...), rendered, not yet written."""
    made = []
    for spec in transition.documents:
        if spec.when is not None and not holds(ctx, spec.when, ticket.meta):
            continue
        from erflow.mail.templates import (
            DocumentSet,  # jinja2: imported only by a change that renders something
        )

        documents = DocumentSet(ctx.store.templates_dir / "documents", ctx.store.root)
        text = documents.render_text(
            spec.template, email_context(ctx, ticket, ticket_type), ticket_id=ticket.id
        )
        path = ctx.store.root / spec.path.replace("{id}", ticket.id)
        made.append((path, text))
        ticket.add_entry("Notes", model.entry(ctx.now, f"wrote {ctx.store.relative(path)} ({spec.template})"))
    return made


def _clock_state_change(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, left: str, entered_before: Any
) -> None:
    """On a change of state: the first response, time paused for the SLA, and state_entered."""
    from erflow.core import timers
    from erflow.core.businesstime import Clock

    meta = ticket.meta
    sla = ticket_type.sla
    if sla is not None and left in sla.pause:
        since = timers.instant(entered_before, ctx.workflow.calendar)
        if since is not None:
            paused = Clock(ctx.workflow.calendar, sla.business).elapsed(since, ctx.now)
            total = float(meta.get("sla_paused_minutes") or 0) + paused.total_seconds() / 60
            meta["sla_paused_minutes"] = int(total)
    if left == ticket_type.initial and "responded" not in meta:
        meta["responded"] = model.timestamp(ctx.now)
    entered = ticket_type.states.get(str(meta.get("state")))
    if entered is not None and (entered.terminal or (sla is not None and entered.name in sla.stop)):
        meta.setdefault("resolved", model.timestamp(ctx.now))
    else:
        meta.pop("resolved", None)  # reopened: the resolution clock runs again
    meta["state_entered"] = model.timestamp(ctx.now)


def _create_linked(
    ctx: Context, source: transaction.Pending, specs: Sequence[LinkedTicket], head: str
) -> list[tuple[transaction.Pending, list[EmailSpec]]]:
    """The tickets a transition creates, linked both ways to the ticket it moves."""
    made = []
    parent = source.ticket
    for spec in specs:
        target = ctx.workflow.type(spec.type)
        values: dict[str, Any] = {
            n: parent.meta[n] for n in spec.copy if n != "title" and is_set(parent.meta.get(n))
        }
        values.update(
            {new: parent.meta[old] for new, old in spec.map.items() if is_set(parent.meta.get(old))}
        )
        values.update(spec.sets)
        for name, value in values.items():
            declared = target.field(name)
            problem = declared.problem(value) if declared else f"no field {name!r}"
            if problem:
                where = f"{ctx.store.workflow_path}: creating a {spec.type} from {parent.id}"
                raise InvalidData(f"{where}: {problem}", hint="fix the create: of that transition")
        description = parent.description if spec.description else ""
        ticket, emails = fresh_ticket(
            ctx, target, str(parent.meta.get("title", "")), values, description, head
        )
        parent.meta["links"] = [*(parent.meta.get("links") or []), f"{spec.link} {ticket.id}"]
        ticket.meta["links"] = [*(ticket.meta.get("links") or []), f"{LINK_INVERSE[spec.link]} {parent.id}"]
        parent.add_entry(
            "Notes", model.entry(ctx.now, f"created {ticket.id} ({spec.type}), linked {spec.link}")
        )
        made.append((transaction.Pending(ticket, target, ctx.store.path_for(ticket.id), None), emails))
    return made
