"""Tickets that follow another (their type's ``follows:``, e.g. the CS ticket a document change
creates): moved to the state mapped from the state the ticket they follow enters, and given the notes
added to it, in the same commit as that ticket's change."""

from __future__ import annotations

from erflow.app import transaction
from erflow.app.context import Context
from erflow.core import model
from erflow.core.errors import NotFound
from erflow.core.model import LINK_INVERSE, Ticket


def followers(ctx: Context, leader: Ticket) -> list[transaction.Pending]:
    """The tickets that follow ``leader``: linked to it both ways by their type's ``follows.link``.
    Each is read under the store lock the change holds, refused if its file has changes not
    committed."""
    found = []
    for item in leader.meta.get("links") or []:
        relation, _, other = str(item).partition(" ")
        other_type = ctx.workflow.type_of_id(other)
        spec = other_type.follows if other_type is not None else None
        if spec is None or LINK_INVERSE.get(relation) != spec.link:
            continue
        try:
            pending = transaction.load_for_change(ctx, other, transaction.Began(None, {}))
        except NotFound:
            continue  # a link to a ticket that is gone: nothing follows
        if f"{spec.link} {leader.id}" in (pending.ticket.meta.get("links") or []):
            found.append(pending)
    return found


def carry(
    ctx: Context, leader: Ticket, *, moved: bool, head: str, note: str = ""
) -> list[transaction.Pending]:
    """Apply ``leader``'s change to its followers in memory: a state ``moved`` into that a follower
    maps, and a ``note`` (its Notes ``head`` as in the leader) for those that take notes. Returns
    the followers changed, to be written in the leader's commit."""
    changed = []
    for pending in followers(ctx, leader):
        ticket, spec = pending.ticket, pending.type.follows
        assert spec is not None
        touched = False
        target = spec.states.get(leader.state) if moved else None
        if target is not None and target != ticket.state:
            _move(ctx, pending, target, leader)
            touched = True
        if spec.notes and note.strip():
            ticket.add_entry("Notes", model.entry(ctx.now, f"{head} (note of {leader.id})", note))
            touched = True
        if touched:
            changed.append(pending)
    return changed


def _move(ctx: Context, pending: transaction.Pending, target: str, leader: Ticket) -> None:
    ticket = pending.ticket
    state = pending.type.states[target]
    head = f"follows {leader.id}: {ticket.state} → {target} ({leader.id} is {leader.state})"
    ticket.meta["state"] = target
    ticket.meta["state_entered"] = model.timestamp(ctx.now)
    if state.terminal:
        ticket.meta.setdefault("resolved", model.timestamp(ctx.now))
    else:
        ticket.meta.pop("resolved", None)
    ticket.add_entry("Notes", model.entry(ctx.now, head))
