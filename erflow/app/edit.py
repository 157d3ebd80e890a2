"""Changes to one ticket that move no state: set fields, add a note, log time, assign, link, email."""

from __future__ import annotations

from collections.abc import Mapping

from erflow.app import follow, outbox, transaction
from erflow.app.context import Context, require_actor
from erflow.app.emails import EmailResult, log_emails, render_emails
from erflow.app.reading import read_ticket
from erflow.app.transaction import ChangeResult
from erflow.core import engine, model
from erflow.core.errors import NotFound, NotPermitted, Refused, UsageError
from erflow.core.model import LINK_INVERSE
from erflow.core.workflow import EmailSpec
from erflow.store.commits import Change


def _permit(ctx: Context, action: str) -> str:
    actor = require_actor(ctx)
    if not ctx.workflow.may(actor, action):
        allowed = ", ".join(ctx.workflow.permissions.get(action, ("*",)))
        who = "is not listed under people" if actor not in ctx.workflow.people else "lacks the role"
        raise NotPermitted(f"{actor} may not {action} ({who}; permissions.{action}: {allowed})")
    return actor


def people_named(ctx: Context, pairs: Mapping[str, str]) -> dict[str, str]:
    """The K=V pairs with the owner checked: a person under people or a role (a queue), ``me``
    being the actor; NotFound with the closest name for anyone else. An empty value unsets it."""
    from erflow.core.names import person

    given = dict(pairs)
    if given.get("owner", "").strip():
        given["owner"] = person(ctx.workflow, ctx.actor, given["owner"], what="owner")
    return given


def set_fields(ctx: Context, raw_id: str, pairs: Mapping[str, str], note: str | None = None) -> ChangeResult:
    actor = _permit(ctx, "set")
    if not pairs:
        raise UsageError("nothing to set: give K=V pairs")
    pairs = people_named(ctx, pairs)
    with transaction.writing(ctx, raw_id) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket, ticket_type = pending.ticket, pending.type
        for name in pairs:
            engine.check_settable(ticket_type, name)
        typed = engine.parse_sets(ticket_type, dict(pairs))
        before = dict(ticket.meta)
        for key, value in typed.items():
            if value is None:
                ticket.meta.pop(key, None)
            else:
                ticket.meta[key] = value
        changes = engine.diff(before, ticket.meta)
        if not changes:
            raise Refused(f"{ticket.id}: nothing changes; the values are already set")
        summary = ", ".join(
            f"{k}={model.brief(v[1]) if v[1] is not None else '(unset)'}" for k, v in changes.items()
        )
        ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: set {summary}", note or ""))
        change = Change(
            ticket.id,
            "set",
            actor,
            None,
            ticket.state,
            ticket.state,
            summary=", ".join(changes),
            text=note or "",
        )
        commit = transaction.commit(ctx, began, [pending], change)
    return ChangeResult(ticket.id, "set", commit, changes=changes)


def add_note(ctx: Context, raw_id: str, text: str, *, customer: bool = False) -> ChangeResult:
    actor = _permit(ctx, "note")
    if not text.strip():
        raise UsageError("the note is empty")
    with transaction.writing(ctx, raw_id) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        kind = "customer-visible note" if customer else "note"
        ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: {kind}", text))
        followers = follow.carry(ctx, ticket, moved=False, head=f"{actor}: {kind}", note=text)
        change = Change(ticket.id, "note", actor, None, ticket.state, ticket.state, text=text)
        commit = transaction.commit(ctx, began, [pending, *followers], change)
    return ChangeResult(ticket.id, "note", commit)


def log_time(
    ctx: Context, raw_id: str, hours: str, *, billable: bool, note: str | None = None
) -> ChangeResult:
    """Record time spent on a ticket, billable or not, in its Time section (one commit)."""
    actor = _permit(ctx, "log_time")
    try:
        amount = model.parse_hours(hours)
    except ValueError as exc:
        raise UsageError(f"log-time: {exc}") from None
    with transaction.writing(ctx, raw_id) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        ticket.add_entry("Time", model.time_entry(ctx.now, actor, amount, billable, note or ""))
        kind = "billable" if billable else "non-billable"
        change = Change(
            ticket.id,
            "log-time",
            actor,
            None,
            ticket.state,
            ticket.state,
            summary=f"{amount:g} h {kind}",
            text=note or "",
        )
        commit = transaction.commit(ctx, began, [pending], change)
    total, billable_total = model.time_totals(ticket)
    return ChangeResult(
        ticket.id,
        "log-time",
        commit,
        changes={"hours": [None, total], "billable_hours": [None, billable_total]},
    )


def assign(ctx: Context, raw_id: str, who: str) -> ChangeResult:
    actor = _permit(ctx, "assign")
    wf = ctx.workflow
    from erflow.core.names import person

    target = person(wf, actor, who)
    with transaction.writing(ctx, raw_id) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        old = ticket.meta.get("owner")
        if old == target:
            raise Refused(f"{ticket.id} is already assigned to {target}")
        ticket.meta["owner"] = target
        ticket.add_entry(
            "Notes", model.entry(ctx.now, f"{actor}: assigned to {target} (was {old or 'nobody'})")
        )
        from erflow.app.emails import will_send
        from erflow.app.notify import owner_change

        sending = will_send(ctx, False)
        notified = owner_change(ctx, ticket, pending.type, old, actor, "assigned it to you", sending)
        change = Change(
            ticket.id, "assign", actor, None, ticket.state, ticket.state, summary=f"owner {target}"
        )
        commit = transaction.commit(ctx, began, [pending], change, notified.outgoing(sending))
        if sending:
            from erflow.app import outbox

            outbox.deliver(ctx, notified.results)
    return ChangeResult(
        ticket.id, "assign", commit, changes={"owner": [old, target]}, notifications=list(notified.results)
    )


def link(ctx: Context, raw_id: str, relation: str, other_id: str) -> ChangeResult:
    actor = _permit(ctx, "link")
    rel = relation.strip().lower()
    if rel not in LINK_INVERSE:
        raise UsageError(f"unknown relation {relation!r}", hint=f"one of: {', '.join(LINK_INVERSE)}")
    with transaction.writing(ctx, raw_id, other_id) as began:
        first = transaction.load_for_change(ctx, raw_id, began)
        second = transaction.load_for_change(ctx, other_id, began)
        if first.ticket.id == second.ticket.id:
            raise Refused("a ticket cannot be linked to itself")
        entry_a = f"{rel} {second.ticket.id}"
        entry_b = f"{LINK_INVERSE[rel]} {first.ticket.id}"
        links_a = list(first.ticket.meta.get("links") or [])
        if entry_a in links_a:
            raise Refused(f"{first.ticket.id} is already linked: {entry_a}")
        first.ticket.meta["links"] = links_a + [entry_a]
        links_b = list(second.ticket.meta.get("links") or [])
        if entry_b not in links_b:
            second.ticket.meta["links"] = links_b + [entry_b]
        first.ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: linked {entry_a}"))
        second.ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: linked {entry_b}"))
        change = Change(
            first.ticket.id, "link", actor, None, first.ticket.state, first.ticket.state, summary=entry_a
        )
        commit = transaction.commit(ctx, began, [first, second], change)
    return ChangeResult(
        first.ticket.id, "link", commit, changes={"links": [links_a, first.ticket.meta["links"]]}
    )


def email(
    ctx: Context, raw_id: str, template: str, *, send: bool = False, record: bool = True
) -> ChangeResult:
    """Render one template for a ticket; send it with ``send``; log it in the ticket unless told not to."""
    if not ctx.templates.exists(template):
        raise NotFound(
            f"no template {template!r} in {ctx.store.templates_dir}",
            hint=f"templates: {', '.join(ctx.templates.names())}",
        )
    actor = require_actor(ctx)
    if not record and not send:
        file = read_ticket(ctx, ctx.store.find(raw_id))
        ticket = file.ticket
        mails = render_emails(ctx, ticket, file.type, [EmailSpec(template)])
        return ChangeResult(
            ticket.id,
            "email",
            None,
            emails=[EmailResult(m.template, m.to, m.subject, False, m.as_text()) for m in mails],
            dry_run=True,
        )
    with transaction.writing(ctx, raw_id) as began:
        pending = transaction.load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        mails = render_emails(ctx, ticket, pending.type, [EmailSpec(template)])
        results = log_emails(ctx, ticket, mails, send)
        change = Change(ticket.id, "email", actor, None, ticket.state, ticket.state, summary=template)
        commit = transaction.commit(ctx, began, [pending], change, mails if send else ())
        outbox.deliver(ctx, results)
    return ChangeResult(ticket.id, "email", commit, emails=results)
