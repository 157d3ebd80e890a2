"""A pure three-way merge of one ticket file, for git's merge driver (base %O, ours %A, theirs %B).

Two clones that changed the same ticket offline merge without conflict markers: front-matter key
by key, the request text as a whole, and the log sections entry by entry. A true conflict is
resolved by a fixed rule, reported as a MergeConflict and recorded as a Notes entry.

No git, no files, no clock: the result depends only on the three texts, and swapping ours and
theirs gives the same result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow.core import model
from erflow.core.errors import Conflict
from erflow.core.model import SECTIONS, Ticket
from erflow.store import ticketfile

# Front-matter lists merged as sets: an item stays unless a side removed it; never a conflict.
LIST_FIELDS = frozenset({"labels", "links", "timers_fired"})
# Keys written together by a change of state: a conflicting state change takes all of them from one side.
STATE_GROUP = ("state", "owner", "state_entered", "responded", "resolved", "sla_paused_minutes")
# The keys whose conflicting change is a conflicting state change.
STATE_KEYS = ("state", "state_entered")
DESCRIPTION = "description"
ABSENT_TEXT = "(absent)"
NOTES = "Notes"

_ENTRY_TIME = re.compile(r"^- \*\*(?P<time>[^*]+)\*\*")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MICROSECOND = dt.timedelta(microseconds=1)


class IdCollision(Conflict):
    """Two different tickets were created with the same id in two clones."""


@dataclass(frozen=True)
class MergeConflict:
    """A key (or the request text) changed differently on both sides, and the value a rule kept."""

    ticket: str  # ticket id
    field: str  # a front-matter key, or "description"
    kept: str  # the value kept, as short text (model.brief)
    dropped: str  # the value not kept, as short text
    rule: str  # why this value was kept

    def describe(self) -> str:
        """One line for the user."""
        return f"{self.ticket}: {self.field}: kept '{self.kept}' over '{self.dropped}' ({self.rule})"

    def note_head(self) -> str:
        """The head of the Notes entry that records this conflict in the merged ticket."""
        return f"erflow merge: conflict on {self.field}: kept {self.kept} over {self.dropped} ({self.rule})"


@dataclass(frozen=True)
class Merged:
    """The merged ticket file and the true conflicts resolved by rule on the way."""

    text: str  # the merged file, exactly as erflow would write it
    conflicts: tuple[MergeConflict, ...]  # true conflicts resolved by rule, in a stable order


class _Absent:
    """The value of a key a ticket does not have."""

    def __repr__(self) -> str:
        return ""  # equal to no value's repr, and sorts before all of them


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class _Side:
    """One side of the merge: its parsed ticket, and its text (the last tie-break)."""

    ticket: Ticket
    text: str

    def get(self, key: str) -> Any:
        return self.ticket.meta.get(key, ABSENT)


@dataclass(frozen=True)
class _Choice:
    """A conflict resolved: the field, the kept and dropped values, and the rule that chose."""

    field: str
    kept: Any
    dropped: Any
    rule: str


def merge_ticket(
    base: str | None, ours: str, theirs: str, *, path: str, type_fields: Sequence[str] = ()
) -> Merged:
    """Merge two versions of one ticket file that share the version ``base`` (None or "" when the
    file was added on both sides). Raise the InvalidData of ticketfile.parse for a side that does not
    parse, and IdCollision for two different tickets added with the same id."""
    where = Path(path)
    ours_ticket = ticketfile.parse(ours, where).ticket
    theirs_ticket = ticketfile.parse(theirs, where).ticket
    if ours == theirs or base == theirs:
        return Merged(ours, ())
    if base == ours:
        return Merged(theirs, ())
    if base:
        base_ticket = ticketfile.parse(base, where).ticket
    else:
        _check_same_ticket(ours_ticket, theirs_ticket)
        base_ticket = Ticket({}, "", {})
    return _merge(base_ticket, _Side(ours_ticket, ours), _Side(theirs_ticket, theirs), list(type_fields))


def _check_same_ticket(ours: Ticket, theirs: Ticket) -> None:
    """Added on both sides: one ticket if id, type and created agree, else an IdCollision."""
    if all(_same(ours.meta.get(k, ABSENT), theirs.meta.get(k, ABSENT)) for k in ("id", "type", "created")):
        return
    ticket_id = ours.id if ours.id == theirs.id else f"{ours.id} / {theirs.id}"
    raise IdCollision(
        f"{ticket_id}: two different tickets were created with this id in two clones: "
        f"'{_brief(ours.meta.get('title', ABSENT))}' here and '{_brief(theirs.meta.get('title', ABSENT))}'"
        " in the other clone",
        hint="sync undid the merge, nothing changed; give one of the two tickets a new id, then sync again",
    )


def _merge(base: Ticket, ours: _Side, theirs: _Side, type_fields: list[str]) -> Merged:
    keys = _keys(base.meta, ours, theirs)
    meta, choices, prefer = _merge_meta(keys, base.meta, ours, theirs)
    description, choice = _merge_description(base.description, ours, theirs, prefer)
    choices.extend([choice] if choice else [])
    order = list(model.ordered(dict.fromkeys([*keys, "state"]), type_fields))
    choices.sort(key=lambda c: order.index(c.field) if c.field in order else len(order))
    ticket_id = str(meta.get("id", ""))
    conflicts = tuple(
        MergeConflict(ticket_id, c.field, _brief(c.kept), _brief(c.dropped), c.rule) for c in choices
    )
    sections = {
        name: _merge_entries(
            base.sections.get(name, []),
            ours.ticket.sections.get(name, []),
            theirs.ticket.sections.get(name, []),
        )
        for name in SECTIONS
    }
    when = _note_time(meta)
    sections[NOTES].extend(model.entry(when, conflict.note_head()) for conflict in conflicts)
    return Merged(ticketfile.serialize(Ticket(meta, description, sections), type_fields), conflicts)


# Front-matter.


def _keys(base: dict[str, Any], ours: _Side, theirs: _Side) -> list[str]:
    """Every front-matter key of the three: base's in base order, then the new ones sorted."""
    return [*base, *sorted((set(ours.ticket.meta) | set(theirs.ticket.meta)) - set(base))]


def _merge_meta(
    keys: list[str], base: dict[str, Any], ours: _Side, theirs: _Side
) -> tuple[dict[str, Any], list[_Choice], _Side | None]:
    """The merged front-matter, in the order of ``keys``, the conflicts met on the way, and the side
    whose state change was kept (if the states conflicted): it wins every other conflict too, so a
    transition's fields stay with its state."""
    state = _state_conflict(base, ours, theirs)
    prefer = state[0] if state else None
    choices = [state[1]] if state else []
    meta: dict[str, Any] = {}
    for key in keys:
        if state and key in STATE_GROUP:
            value = state[0].get(key)
        else:
            value, conflict = _merge_key(key, base.get(key, ABSENT), ours, theirs, prefer)
            choices.extend([conflict] if conflict else [])
        if value is not ABSENT:
            meta[key] = value
    return meta, choices, prefer


def _merge_key(
    key: str, base: Any, ours: _Side, theirs: _Side, prefer: _Side | None = None
) -> tuple[Any, _Choice | None]:
    """One key three-way: the same on both sides, or changed on one side only, or by rule."""
    mine, other = ours.get(key), theirs.get(key)
    if _same(mine, other) or _same(other, base):
        return mine, None
    if _same(mine, base):
        return other, None
    if key in LIST_FIELDS and all(v is ABSENT or isinstance(v, list) for v in (base, mine, other)):
        return _merge_list(base, mine, other), None
    if key == "updated":
        return _later(mine, other), None
    return _by_update(key, ours, theirs, mine, other, prefer)


def _state_conflict(base: dict[str, Any], ours: _Side, theirs: _Side) -> tuple[_Side, _Choice] | None:
    """When both sides changed the state (or when they entered it) differently: the side whose
    state change is later, which wins the whole state group, and the conflict; else None."""
    if not any(_both_changed(base.get(k, ABSENT), ours.get(k), theirs.get(k)) for k in STATE_KEYS):
        return None
    if _time_key(ours.get("state_entered")) != _time_key(theirs.get("state_entered")):
        winner = max((ours, theirs), key=lambda side: _time_key(side.get("state_entered")))
        rule = f"the later state change (state_entered {_brief(winner.get('state_entered'))})"
    elif str(ours.get("state")) != str(theirs.get("state")):
        winner = max((ours, theirs), key=lambda side: str(side.get("state")))
        rule = f"the same state_entered {_brief(winner.get('state_entered'))}: the greater state"
    else:
        winner = max((ours, theirs), key=lambda side: side.text)
        rule = "the same state change time and state: the greater file text"
    loser = theirs if winner is ours else ours
    return winner, _Choice("state", winner.get("state"), loser.get("state"), rule)


def _merge_list(base: Any, ours: Any, theirs: Any) -> list[Any]:
    """Items of either side unless a side removed them: base's in base order, then added ones sorted."""
    base_items, our_items, their_items = (_unique([] if v is ABSENT else v) for v in (base, ours, theirs))
    kept = [item for key, item in base_items.items() if key in our_items and key in their_items]
    added = {k: v for k, v in (our_items | their_items).items() if k not in base_items}
    return kept + sorted(added.values(), key=lambda item: (str(item), repr(item)))


def _unique(items: list[Any]) -> dict[str, Any]:
    """Items by their repr, first occurrence kept, in order."""
    result: dict[str, Any] = {}
    for item in items:
        result.setdefault(repr(item), item)
    return result


def _merge_description(
    base: str, ours: _Side, theirs: _Side, prefer: _Side | None = None
) -> tuple[str, _Choice | None]:
    mine, other = ours.ticket.description, theirs.ticket.description
    if mine == other or other == base:
        return mine, None
    if mine == base:
        return other, None
    return _by_update(DESCRIPTION, ours, theirs, mine, other, prefer)


def _by_update(
    field: str, ours: _Side, theirs: _Side, mine: Any, other: Any, prefer: _Side | None = None
) -> tuple[Any, _Choice]:
    """A value changed differently on both sides: the side of the kept state change wins (if the
    states conflicted), else the side updated later; tie: the greater value."""
    if prefer is not None:
        winner = prefer
        rule = f"the side of the kept state change to {_brief(prefer.get('state'))}"
    elif _time_key(ours.get("updated")) != _time_key(theirs.get("updated")):
        winner = max((ours, theirs), key=lambda side: _time_key(side.get("updated")))
        rule = f"the later update (updated {_brief(winner.get('updated'))})"
    else:
        winner = ours if repr(mine) > repr(other) else theirs
        when = _later(ours.get("updated"), theirs.get("updated"))
        rule = f"the same updated {_brief(when)}: the greater value"
    kept, dropped = (mine, other) if winner is ours else (other, mine)
    return kept, _Choice(field, kept, dropped, rule)


def _both_changed(base: Any, ours: Any, theirs: Any) -> bool:
    return not _same(ours, base) and not _same(theirs, base) and not _same(ours, theirs)


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: by repr, so that 1, 1.0 and true are three different values."""
    return a is b or repr(a) == repr(b)


def _brief(value: Any) -> str:
    return ABSENT_TEXT if value is ABSENT else model.brief(value)


# Times.


def _parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time (a trailing Z read as UTC), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _time_key(value: Any) -> tuple[int, int, str]:
    """Order of times: absent or empty, then text that is no time (by text), then times (a time
    without offset read as UTC). Equal keys are the same instant."""
    parsed = _parse_time(value)
    if parsed is None:
        return (0, 0, "") if value is ABSENT or value is None or value == "" else (1, 0, str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return 2, (parsed - _EPOCH) // _MICROSECOND, ""


def _later(a: Any, b: Any) -> Any:
    """The later of two times; the same instant written two ways: the greater text."""
    key_a, key_b = _time_key(a), _time_key(b)
    if key_a != key_b:
        return a if key_a > key_b else b
    return a if repr(a) > repr(b) else b


def _note_time(meta: dict[str, Any]) -> dt.datetime:
    """When the conflict notes are written: the merged ``updated`` (else ``created``)."""
    for key in ("updated", "created"):
        parsed = _parse_time(meta.get(key))
        if parsed is not None:
            return parsed
    return _EPOCH


# Log sections.


def _merge_entries(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    """Base's entries, then both sides' new entries interleaved by time, each side's order kept.
    A side that does not start with base's entries: all entries of both sides ordered by time."""
    start = len(base)
    if ours[:start] == base and theirs[:start] == base:
        mine, other = ours[start:], theirs[start:]
        return base + _at_most_as_often(_interleave(mine, other), mine, other)
    return _at_most_as_often(sorted(ours + theirs, key=_entry_key), ours, theirs)


def _interleave(ours: list[str], theirs: list[str]) -> list[str]:
    """Repeatedly the earlier head (by time, then text); a head on both sides taken once."""
    result: list[str] = []
    i = j = 0
    while i < len(ours) and j < len(theirs):
        if ours[i] == theirs[j]:
            result.append(ours[i])
            i, j = i + 1, j + 1
        elif _entry_key(ours[i]) < _entry_key(theirs[j]):
            result.append(ours[i])
            i += 1
        else:
            result.append(theirs[j])
            j += 1
    return result + ours[i:] + theirs[j:]


def _at_most_as_often(entries: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    """Drop the later repeats of an entry beyond the number of times either side has it."""
    limit = Counter(ours) | Counter(theirs)
    seen: Counter[str] = Counter()
    result: list[str] = []
    for item in entries:
        seen[item] += 1
        if seen[item] <= limit[item]:
            result.append(item)
    return result


def _entry_key(entry: str) -> tuple[tuple[int, int, str], str]:
    match = _ENTRY_TIME.match(entry)
    return _time_key(match.group("time") if match else ABSENT), entry
