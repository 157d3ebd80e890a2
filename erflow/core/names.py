"""Names a person types (states, types, fields, transitions, people, reports) checked against the
workflow's own: a miss is refused with the closest name offered ("did you mean ...?"), and ``me``
stands for the actor wherever a person is named."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from erflow.core.errors import NotFound, UsageError

if TYPE_CHECKING:
    from erflow.core.workflow import TicketType, Workflow

ME = "me"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` nearest to ``word`` (as typed, then ignoring case), or None."""
    names = list(dict.fromkeys(choices))
    close = difflib.get_close_matches(word, names, n=1)
    if not close:
        close = difflib.get_close_matches(word.lower(), [n.lower() for n in names], n=1)
        close = [n for n in names if n.lower() in close][:1]
    return close[0] if close else None


def hint(word: str, choices: Iterable[str], what: str = "") -> str | None:
    """ "did you mean X?" for the closest of ``choices``; else the choices themselves (named
    ``what``) when they are few; else None."""
    names = list(dict.fromkeys(choices))
    close = closest(word, names)
    if close:
        return f"did you mean {close}?"
    if what and names and len(names) <= 12:
        return f"{what}: {', '.join(names)}"
    return None


def states_of(types: Iterable[TicketType]) -> list[str]:
    """Every state of the types, in their order, once."""
    return list(dict.fromkeys(s for t in types for s in t.states))


def fields_of(types: Iterable[TicketType]) -> list[str]:
    """Every field of the types (the common ones first), once."""
    return list(dict.fromkeys(f.name for t in types for f in t.all_fields()))


def state(types: Iterable[TicketType], name: str, what: str = "--state") -> str:
    """``name`` when one of the types has that state; else a UsageError."""
    chosen = list(types)
    return _known(chosen, name, states_of(chosen), "state", what)


def field(types: Iterable[TicketType], name: str, what: str = "--where") -> str:
    """``name`` when one of the types has that field; else a UsageError."""
    chosen = list(types)
    return _known(chosen, name, fields_of(chosen), "field", what)


def _known(chosen: list[TicketType], name: str, known: list[str], kind: str, what: str) -> str:
    if name not in known:
        where = ", ".join(t.name for t in chosen) if len(chosen) <= 2 else "any type"
        raise UsageError(f"{what} {name}: no {kind} {name!r} in {where}", hint=hint(name, known))
    return name


def person(wf: Workflow, actor: str, who: str, *, roles: bool = True, what: str = "") -> str:
    """The person named (lower-cased), ``me`` being the actor; with ``roles`` a role name (a
    queue) too. NotFound, with the closest name, for anyone else."""
    target = who.strip().lower()
    if target == ME:
        if not actor:
            raise UsageError(f"{what or 'me'}: who is 'me'?", hint="set ERFLOW_USER or git config user.email")
        target = actor.strip().lower()
    if target in wf.people or (roles and target in wf.roles):
        return target
    known = [*wf.people, *(wf.roles if roles else ())]
    kind = "neither a person under people nor a role" if roles else "not a person under people"
    prefix = f"{what} " if what else ""
    said = hint(target, known)
    if said is None:  # "destyn" for destyn@example.com
        local = {email.split("@", 1)[0]: email for email in wf.people}
        close = difflib.get_close_matches(target.split("@", 1)[0], list(local), n=1)
        said = f"did you mean {local[close[0]]}?" if close else "see people: in workflow.yaml"
    raise NotFound(f"{prefix}{who.strip()!r} is {kind} in workflow.yaml", hint=said)
