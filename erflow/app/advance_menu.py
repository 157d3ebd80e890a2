"""What the advance menu needs beyond a view: a chosen transition judged with the answers given so
far, the fields it still asks for (with what the workflow says of each), and a private copy of the
ticket for the rehearsal (a dry run) that precedes the change."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING

from erflow.app.context import Context
from erflow.app.reading import TicketFile
from erflow.core.names import closest

if TYPE_CHECKING:
    from erflow.core.engine import Evaluation
    from erflow.core.fields import Field


def judge(ctx: Context, file: TicketFile, transition: str, sets: Mapping[str, str]) -> Evaluation:
    """``transition`` judged for the actor as if ``sets`` (``--set`` text, parsed here; a bad value
    is a UsageError) were given."""
    from erflow.core import engine

    state = str(file.ticket.meta.get("state"))
    found = engine.find_transition(file.type, state, transition)
    typed = engine.parse_sets(file.type, dict(sets))
    return engine.evaluate(ctx.workflow, file.type, file.ticket.meta, found, ctx.actor, typed)


def wanted(ctx: Context, file: TicketFile, judged: Evaluation, sets: Mapping[str, str]) -> list[Field]:
    """The fields to ask for: those the transition misses, then the unset fields that a rule it
    fails reads (a rule on ``config_checked: true`` asks for it). Fields of no declaration, erflow's
    own and those another transition owns are left out."""
    from erflow.core import conditions, engine

    names = list(judged.missing)
    merged = {**file.ticket.meta, **engine.parse_sets(file.type, dict(sets))}
    for rule in judged.transition.rules:
        policies = ctx.workflow.policies
        if rule.when is not None and not conditions.holds(rule.when, merged, policies):
            continue
        if conditions.holds(rule.require, merged, policies):
            continue
        for name in sorted(conditions.fields_of(rule.require)):
            if name not in names and not conditions.is_set(merged.get(name)):
                names.append(name)
    taking = judged.transition.name
    names = [n for n in names if not (owners := file.type.owners_of(n)) or taking in owners]
    found = [file.type.field(name) for name in names]
    return [f for f in found if f is not None and not f.system]


def needs_note(judged: Evaluation) -> bool:
    return judged.transition.note == "required"


def hint(field: Field, raw: str) -> str:
    """A "did you mean" for a value the field refused: the closest of its own values, or ""."""
    if not field.values:
        return ""
    close = closest(raw.strip(), field.values)
    return f" (did you mean {close}?)" if close else ""


def rehearsal_copy(file: TicketFile) -> TicketFile:
    """The file as read, with a ticket of its own: a dry run edits its ticket in place, and the change
    that follows must start from the ticket as read."""
    return TicketFile(file.path, file.rel, file.data, copy.deepcopy(file.ticket), file.type, file.stamp)
