"""sweep: timers and SLA escalations, each fired once, one commit each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app import outbox, transaction
from erflow.app.advance import apply_plan
from erflow.app.context import Context
from erflow.app.emails import EmailResult, log_emails, render_emails, will_send
from erflow.app.notify import Notified, notify, owner_change
from erflow.app.views import workload
from erflow.core import engine, model
from erflow.core.errors import Conflict, NotFound, Refused
from erflow.store.commits import Change
from erflow.store.ticketfile import Progress

if TYPE_CHECKING:
    from erflow.core.model import Ticket
    from erflow.core.workflow import TicketType


@dataclass
class SweepAction:
    ticket: str
    name: str  # the timer, or sla_response / sla_resolution
    due: str
    actions: str
    done: bool = False
    commit: str | None = None
    reason: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    emails: list[EmailResult] = field(default_factory=list)
    notifications: list[EmailResult] = field(default_factory=list)  # staff (app/notify.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "timer": self.name,
            "due": self.due,
            "actions": self.actions,
            "done": self.done,
            "commit": self.commit,
            "reason": self.reason,
            "from": self.from_state,
            "to": self.to_state,
            "emails": [e.as_json() for e in self.emails],
            "notifications": [e.as_json() for e in self.notifications],
        }


SWEEP_ACTOR = "erflow@localhost"
NOTIFY = "notify_"  # the timers_fired names of the notifications the sweep detects
PROGRESS_FROM = 10  # a sweep firing more timers than this (one commit each) reports its progress


def sweep(
    ctx: Context, *, dry_run: bool = False, send: bool = False, progress: Progress | None = None
) -> list[SweepAction]:
    """Run every timer and SLA escalation due at ``ctx.now``, each once, one commit each.

    Safe to run again and again: what fired is recorded in the ticket, so a second sweep at the same
    instant finds nothing to do. A timer's transition is checked against its gates and rules (not
    roles: the workflow itself acts); when they are not met, nothing happens and the reason is told.
    Everything due is found first; ``progress(done, total)`` then follows the firing when it is long.
    """
    from erflow.core import notifications, timers

    sending = will_send(ctx, send) and not dry_run
    if not dry_run:  # refused up front, even with nothing due (each firing checks again, locked)
        transaction.require_branch(ctx.git)
    due: list[tuple[SweepAction, str]] = []
    # Only tickets in a state that is not terminal can have anything due (timers.due).
    live = sorted({s.name for t in ctx.workflow.types.values() for s in t.states.values() if not s.terminal})
    if not live:
        return []
    for indexed in ctx.store.indexed(tuple(ctx.workflow.types), live):
        meta = indexed.meta
        if meta is None:
            continue  # named by list and check; one bad file never stops the others
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        if ticket_type is None:
            continue
        for item in timers.due(ctx.workflow, ticket_type, meta, ctx.now):
            action = SweepAction(
                str(meta["id"]), item.name, model.timestamp(item.due), item.actions.describe()
            )
            due.append((action, item.key))
        for event in notifications.sweep_events(ctx.workflow, ticket_type, meta, ctx.now):
            action = SweepAction(
                str(meta["id"]), f"notify {event.event}", model.timestamp(event.due),
                f"notify {event.rule.template}",
            )  # fmt: skip
            due.append((action, event.key))
    if dry_run:
        for action, key in due:
            _preview(ctx, action, key)
        return [action for action, _ in due]
    report = progress if progress is not None and len(due) > PROGRESS_FROM else None
    for number, (action, key) in enumerate(due, 1):
        _fire(ctx, action, key, sending)
        if report is not None:
            report(number, len(due))
    return [action for action, _ in due]


def _load(ctx: Context, action: SweepAction, began: transaction.Began) -> transaction.Pending | None:
    """The action's ticket, read under the lock; None (and the reason told) when it cannot change."""
    try:
        return transaction.load_for_change(ctx, action.ticket, began)
    except Conflict as exc:
        action.reason = exc.message
        return None


def _fire(ctx: Context, action: SweepAction, key: str, sending: bool) -> None:
    from erflow.core import timers

    if key.startswith(NOTIFY):
        _fire_notice(ctx, action, key, sending)
        return
    actor = ctx.actor or SWEEP_ACTOR
    with transaction.writing(ctx, action.ticket) as began:
        pending = _load(ctx, action, began)
        if pending is None:
            return
        ticket, ticket_type = pending.ticket, pending.type
        still = [d for d in timers.due(ctx.workflow, ticket_type, ticket.meta, ctx.now) if d.key == key]
        if not still:
            action.reason = "no longer due (changed since)"
            return
        actions = still[0].actions
        action.from_state = action.to_state = ticket.state
        ticket.add_entry(
            "Notes",
            model.entry(ctx.now, f"{actor}: timer {action.name} ({action.actions})", actions.note or ""),
        )
        owner_before = ticket.meta.get("owner")
        if actions.assign:
            owner = engine.owner_for(
                ctx.workflow, ticket_type, ticket.state, ticket.meta, assign=actions.assign,
                workload=lambda: workload(ctx),
            )  # fmt: skip
            if owner is not None:
                ticket.meta["owner"] = owner
        labels = list(ticket.meta.get("labels") or [])
        ticket.meta["labels"] = labels + [label for label in actions.add_labels if label not in labels]
        emails = render_emails(ctx, ticket, ticket_type, [actions.email] if actions.email else [])
        action.emails = log_emails(ctx, ticket, emails, sending)
        notified = owner_change(
            ctx, ticket, ticket_type, owner_before, actor, f"escalated it (timer {action.name})", sending
        )
        notified.add(_timer_notices(ctx, ticket, ticket_type, action.name, actor, sending))
        linked: list[transaction.Pending] = []
        created: list[str] = []
        documents: list[tuple[Path, str]] = []
        if actions.transition is not None:
            why = f"timer {action.name}"
            try:
                plan = engine.plan(
                    ctx.workflow, ticket_type, ticket.meta, actions.transition, actor, {}, why,
                    workload=lambda: workload(ctx), system=True,
                )  # fmt: skip
            except (Refused, NotFound) as exc:
                action.reason = exc.message
                return
            applied = apply_plan(ctx, pending, plan, actor, why, sending, own_note=False)
            notified.add(applied.notified)
            emails += applied.emails
            action.emails += applied.results
            linked, created = applied.linked, applied.created
            documents = applied.documents
            action.to_state = plan.to_state
        timers.record(ticket.meta, key)
        emails += notified.outgoing(sending)
        action.notifications = list(notified.results)
        transition = actions.transition
        change = Change(
            ticket.id, "sweep", actor, transition, action.from_state, action.to_state,
            summary=f"timer {action.name}", created=tuple(created), timer=action.name,
        )  # fmt: skip
        action.commit = transaction.commit(
            ctx, began, [pending, *linked], change, emails if sending else [], documents
        )
        outbox.deliver(ctx, [*action.emails, *action.notifications])
        action.done = True


def _timer_notices(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, name: str, actor: str, sending: bool
) -> Notified:
    """``sla_breached`` for an SLA escalation (sla_response, sla_resolution), else ``timer_fired``."""
    if name.startswith("sla_"):
        what = f"SLA {name[4:]} breached; {ticket_type.sla.escalate.describe() if ticket_type.sla else ''}"
        return notify(ctx, ticket, ticket_type, "sla_breached", actor, what.rstrip("; "), sending)
    return notify(ctx, ticket, ticket_type, "timer_fired", actor, f"timer {name} fired", sending, timer=name)


def _sweep_event(ctx: Context, ticket_type: TicketType, meta: dict[str, Any], key: str) -> Any:
    from erflow.core import notifications

    found = notifications.sweep_events(ctx.workflow, ticket_type, meta, ctx.now)
    return next((e for e in found if e.key == key), None)


def _fire_notice(ctx: Context, action: SweepAction, key: str, sending: bool) -> None:
    """A notification the sweep found due by time (sla_at_risk, stuck): sent, and recorded in the
    ticket's timers_fired, as one commit."""
    from erflow.core import timers

    actor = ctx.actor or SWEEP_ACTOR
    with transaction.writing(ctx, action.ticket) as began:
        pending = _load(ctx, action, began)
        if pending is None:
            return
        ticket, ticket_type = pending.ticket, pending.type
        event = _sweep_event(ctx, ticket_type, ticket.meta, key)
        if event is None:
            action.reason = "no longer due (changed since)"
            return
        action.from_state = action.to_state = ticket.state
        notified = notify(
            ctx, ticket, ticket_type, event.event, actor, event.what, sending, rules=(event.rule,)
        )
        action.notifications = list(notified.results)
        timers.record(ticket.meta, key)
        change = Change(
            ticket.id, "notify", actor, None, ticket.state, ticket.state, summary=f"{event.event} notified"
        )
        action.commit = transaction.commit(ctx, began, [pending], change, notified.outgoing(sending))
        outbox.deliver(ctx, action.notifications)
        action.done = True


def _preview(ctx: Context, action: SweepAction, key: str) -> None:
    """A dry run: the notifications the action would send, rendered, nothing written."""
    from erflow.app.reading import read_ticket

    try:
        ticket_file = read_ticket(ctx, ctx.store.find(action.ticket))
    except (NotFound, Conflict):
        return
    ticket, ticket_type = ticket_file.ticket, ticket_file.type
    actor = ctx.actor or SWEEP_ACTOR
    if key.startswith(NOTIFY):
        event = _sweep_event(ctx, ticket_type, ticket.meta, key)
        if event is not None:
            rules = (event.rule,)
            notified = notify(ctx, ticket, ticket_type, event.event, actor, event.what, False, rules=rules)
            action.notifications = list(notified.results)
        return
    action.notifications = list(_timer_notices(ctx, ticket, ticket_type, action.name, actor, False).results)
