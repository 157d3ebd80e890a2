"""Tests of erflow.merge: the pure three-way merge of one ticket file that git's merge driver runs.

No git here: every version of a ticket is built as text with ticketfile.serialize, as erflow writes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erflow.core import model
from erflow.core.errors import InvalidData
from erflow.store import ticketfile
from erflow.trust import merge

TICKET_ID = "ER-AB12CD"
PATH = "tickets/ER/AB/ER-AB12CD.md"
TYPE_FIELDS = ["product", "problem"]
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
SUPPORT = "support@example.com"
PM = "destyn@example.com"


def at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def stamp(minutes: int) -> str:
    return model.timestamp(at(minutes))


def note(minutes: int, head: str, text: str = "") -> str:
    return model.entry(at(minutes), head, text)


def base_ticket() -> model.Ticket:
    return model.Ticket(
        {
            "id": TICKET_ID,
            "type": "enhancement",
            "title": "Export invoices",
            "state": "intake",
            "owner": SUPPORT,
            "priority": "normal",
            "labels": ["billable", "urgent"],
            "links": [],
            "created": stamp(0),
            "updated": stamp(0),
            "state_entered": stamp(0),
            "product": "Billing Portal",
            "problem": "Invoices only on screen",
        },
        "Please add a CSV export.",
        {"Notes": [note(0, f"{SUPPORT}: created in intake")], "Communications": []},
    )


def text(ticket: model.Ticket) -> str:
    return ticketfile.serialize(ticket, TYPE_FIELDS)


def edited(minutes: int, change: Callable[[model.Ticket], None] = lambda t: None, **meta: Any) -> str:
    """The base ticket changed at ``minutes`` past the start: ``meta`` set (None removes a key)."""
    ticket = base_ticket()
    for key, value in meta.items():
        if value is None:
            ticket.meta.pop(key, None)
        else:
            ticket.meta[key] = value
    ticket.meta["updated"] = stamp(minutes)
    change(ticket)
    return text(ticket)


def run(base: str | None, ours: str, theirs: str) -> merge.Merged:
    return merge.merge_ticket(base, ours, theirs, path=PATH, type_fields=TYPE_FIELDS)


def parsed(merged_text: str) -> model.Ticket:
    ticket = ticketfile.parse(merged_text, Path(PATH)).ticket
    assert text(ticket) == merged_text  # byte-identical to what erflow writes
    return ticket


def both_ways(base: str | None, ours: str, theirs: str) -> merge.Merged:
    """Merge, checking that swapping the sides gives the same result."""
    result = run(base, ours, theirs)
    assert run(base, theirs, ours) == result
    return result


BASE = text(base_ticket())


def test_a_change_on_one_side_only_gives_that_side_text_unchanged() -> None:
    ours = edited(10, title="Export invoices as CSV")
    assert both_ways(BASE, ours, BASE) == merge.Merged(ours, ())
    assert both_ways(BASE, ours, ours) == merge.Merged(ours, ())


def test_changes_to_different_fields_on_both_sides_are_both_kept() -> None:
    ours = edited(10, title="Export invoices as CSV")
    theirs = edited(20, priority="high", problem=None)
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    assert result.conflicts == ()
    assert ticket.meta["title"] == "Export invoices as CSV"
    assert ticket.meta["priority"] == "high"
    assert "problem" not in ticket.meta
    assert ticket.meta["updated"] == stamp(20)


def test_notes_added_on_both_sides_are_both_kept_in_time_order() -> None:
    first, second, third = note(10, f"{PM}: ten"), note(20, f"{SUPPORT}: twenty"), note(30, f"{PM}: thirty")
    shared = note(40, f"{PM}: on both sides")
    ours = edited(40, lambda t: t.sections["Notes"].extend([first, third, shared]))
    theirs = edited(40, lambda t: t.sections["Notes"].extend([second, shared]))
    ticket = parsed(both_ways(BASE, ours, theirs).text)
    assert ticket.sections["Notes"] == [*base_ticket().sections["Notes"], first, second, third, shared]


def test_time_entries_logged_on_both_sides_are_both_kept() -> None:
    mine = model.time_entry(at(10), SUPPORT, 1.5, True)
    yours = model.time_entry(at(5), PM, 0.5, False)
    ours = edited(10, lambda t: t.sections.setdefault("Time", []).append(mine))
    theirs = edited(5, lambda t: t.sections.setdefault("Time", []).append(yours))
    ticket = parsed(both_ways(BASE, ours, theirs).text)
    assert ticket.sections["Time"] == [yours, mine]
    assert model.time_totals(ticket) == (2.0, 1.5)


def test_a_hand_edited_history_falls_back_to_every_entry_of_both_sides_in_time_order() -> None:
    late, early = note(30, f"{PM}: late"), note(20, f"{SUPPORT}: early")
    ours = edited(30, lambda t: t.sections.update(Notes=[late]))  # the created note deleted by hand
    theirs = edited(20, lambda t: t.sections["Notes"].append(early))
    ticket = parsed(both_ways(BASE, ours, theirs).text)
    assert ticket.sections["Notes"] == [*base_ticket().sections["Notes"], early, late]


def test_labels_added_on_both_sides_are_all_kept_and_a_removed_label_stays_removed() -> None:
    ours = edited(10, labels=["billable", "zeta"])
    theirs = edited(20, labels=["billable", "urgent", "alpha"], links=["relates:ER-ZZ99ZZ"])
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    assert result.conflicts == ()
    assert ticket.meta["labels"] == ["billable", "alpha", "zeta"]
    assert ticket.meta["links"] == ["relates:ER-ZZ99ZZ"]


def test_a_state_conflict_keeps_the_later_state_change_whole_with_a_conflict_and_a_note() -> None:
    ours = edited(30, state="needs_info", state_entered=stamp(30), responded=stamp(30))
    theirs = edited(20, state="product_board", owner=PM, state_entered=stamp(20), sla_paused_minutes=5)
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    rule = f"the later state change (state_entered {stamp(30)})"
    assert result.conflicts == (merge.MergeConflict(TICKET_ID, "state", "needs_info", "product_board", rule),)
    assert (
        result.conflicts[0].describe()
        == f"{TICKET_ID}: state: kept 'needs_info' over 'product_board' ({rule})"
    )
    # The whole group from the winner: its owner, and no sla_paused_minutes, which it never had.
    assert {k: ticket.meta.get(k) for k in merge.STATE_GROUP} == {
        "state": "needs_info",
        "owner": SUPPORT,
        "state_entered": stamp(30),
        "responded": stamp(30),
        "resolved": None,
        "sla_paused_minutes": None,
    }
    head = f"erflow merge: conflict on state: kept needs_info over product_board ({rule})"
    assert ticket.sections["Notes"][-1] == model.entry(at(30), head)


def test_a_state_conflict_at_the_same_time_keeps_the_greater_state() -> None:
    ours = edited(30, state="needs_info", state_entered=stamp(30))
    theirs = edited(30, state="product_board", state_entered=stamp(30), owner=PM)
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    assert (ticket.meta["state"], ticket.meta["owner"]) == ("product_board", PM)
    assert result.conflicts[0].rule == f"the same state_entered {stamp(30)}: the greater state"


def test_the_same_state_change_written_in_two_time_zones_is_decided_by_the_file_text() -> None:
    ours = edited(30, state="needs_info", state_entered="2026-11-02T09:30:00+00:00", owner=PM)
    theirs = edited(30, state="needs_info", state_entered="2026-11-02T10:30:00+01:00")
    result = both_ways(BASE, ours, theirs)
    assert result.conflicts[0].rule == "the same state change time and state: the greater file text"
    assert parsed(result.text).meta["owner"] == (PM if ours > theirs else SUPPORT)


def test_a_state_change_on_one_side_and_an_owner_change_on_the_other_merge_key_by_key() -> None:
    ours = edited(30, state="needs_info", state_entered=stamp(30))
    theirs = edited(20, owner=PM)
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    assert result.conflicts == ()
    assert (ticket.meta["state"], ticket.meta["owner"]) == ("needs_info", PM)


def test_a_field_changed_differently_on_both_sides_keeps_the_later_update() -> None:
    ours = edited(20, priority="high")
    theirs = edited(10, priority="low", title="Invoices to CSV")
    result = both_ways(BASE, ours, theirs)
    ticket = parsed(result.text)
    rule = f"the later update (updated {stamp(20)})"
    assert result.conflicts == (merge.MergeConflict(TICKET_ID, "priority", "high", "low", rule),)
    assert (ticket.meta["priority"], ticket.meta["title"]) == ("high", "Invoices to CSV")
    assert ticket.sections["Notes"][-1] == model.entry(
        at(20), f"erflow merge: conflict on priority: kept high over low ({rule})"
    )


def test_a_field_conflict_at_the_same_update_time_keeps_the_greater_value() -> None:
    result = both_ways(BASE, edited(20, priority="high"), edited(20, priority="low"))
    assert parsed(result.text).meta["priority"] == "low"
    assert result.conflicts[0].rule == f"the same updated {stamp(20)}: the greater value"


def test_a_field_removed_on_one_side_and_changed_on_the_other_is_a_conflict() -> None:
    result = both_ways(BASE, edited(20, product=None), edited(10, product="Reports"))
    assert "product" not in parsed(result.text).meta
    assert [(c.field, c.kept, c.dropped) for c in result.conflicts] == [("product", "(absent)", "Reports")]


def test_a_description_changed_differently_on_both_sides_keeps_the_later_update() -> None:
    ours = edited(10, lambda t: setattr(t, "description", "Please add a CSV export.\n\nOr Excel."))
    theirs = edited(20, lambda t: setattr(t, "description", "Please add an XML export."))
    result = both_ways(BASE, ours, theirs)
    assert parsed(result.text).description == "Please add an XML export."
    assert [(c.field, c.kept, c.dropped) for c in result.conflicts] == [
        ("description", "Please add an XML export.", "Please add a CSV export. Or Excel.")
    ]


def test_conflict_notes_follow_the_merged_entries_in_front_matter_order_then_description() -> None:
    def ours_change(ticket: model.Ticket) -> None:
        ticket.description = "Ours."
        ticket.add_entry("Notes", note(50, f"{SUPPORT}: ours"))

    ours = edited(50, ours_change, state="needs_info", state_entered=stamp(50), priority="high")
    theirs = edited(
        40, lambda t: setattr(t, "description", "Theirs."), state="closed", priority="low", zeta=1
    )
    result = both_ways(BASE, ours, theirs)
    assert [c.field for c in result.conflicts] == ["state", "priority", "description"]
    ticket = parsed(result.text)
    assert ticket.meta["zeta"] == 1
    assert ticket.sections["Notes"][-4:] == [
        note(50, f"{SUPPORT}: ours"),
        *(model.entry(at(50), c.note_head()) for c in result.conflicts),
    ]


def test_a_ticket_added_on_both_sides_with_the_same_id_type_and_created_merges_as_one() -> None:
    ours = edited(10, lambda t: t.add_entry("Notes", note(10, f"{SUPPORT}: more")), labels=["billable"])
    theirs = edited(20, priority="high", labels=["urgent"])
    for base in (None, ""):
        result = both_ways(base, ours, theirs)
        ticket = parsed(result.text)
        assert [(c.field, c.kept) for c in result.conflicts] == [("priority", "high")]
        assert ticket.meta["labels"] == ["billable", "urgent"]
        assert ticket.sections["Notes"][:2] == [
            *base_ticket().sections["Notes"],
            note(10, f"{SUPPORT}: more"),
        ]


def test_two_different_tickets_added_with_the_same_id_raise_an_id_collision() -> None:
    ours = edited(10, title="Export invoices")
    theirs = edited(20, title="Printer is on fire", created=stamp(20), type="support")
    with pytest.raises(merge.IdCollision) as caught:
        run(None, ours, theirs)
    assert caught.value.exit_code == 7
    assert TICKET_ID in caught.value.message
    assert "Export invoices" in caught.value.message and "Printer is on fire" in caught.value.message
    assert caught.value.hint == (
        "sync undid the merge, nothing changed; give one of the two tickets a new id, then sync again"
    )


def test_a_side_that_does_not_parse_raises_invalid_data_naming_the_file() -> None:
    with pytest.raises(InvalidData, match=PATH):
        run(BASE, BASE, "no front-matter here\n")


# Property tests over generated edits of the base ticket.

TIMES = st.integers(min_value=1, max_value=30)
STATES = st.sampled_from(["intake", "triage", "needs_info", "product_board", "closed"])
OPS = st.one_of(
    st.tuples(
        st.just("set"),
        st.sampled_from(["title", "priority", "product", "customer"]),
        st.sampled_from(["a", "b", "c", None]),
    ),
    st.tuples(st.just("note"), TIMES, st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("label"), st.sampled_from(["billable", "urgent", "alpha", "zeta"]), st.booleans()),
    st.tuples(st.just("state"), STATES, TIMES),
    st.tuples(st.just("owner"), st.sampled_from([SUPPORT, PM]), TIMES),
    st.tuples(st.just("describe"), st.sampled_from(["One.", "Two.\n\nLines."]), TIMES),
    st.tuples(st.just("forget"), st.just(0), TIMES),  # history edited by hand
)


def apply(ops: list[tuple[str, Any, Any]], updated: int) -> str:
    """The base ticket with the generated edits applied, last updated ``updated`` minutes in."""
    ticket = base_ticket()
    meta = ticket.meta
    for kind, what, how in ops:
        if kind == "set" and how is None:
            meta.pop(what, None)
        elif kind == "set":
            meta[what] = how
        elif kind == "note":
            ticket.add_entry("Notes", note(what, f"{SUPPORT}: {how}"))
        elif kind == "label":
            labels = [label for label in meta["labels"] if label != what]
            meta["labels"] = [*labels, what] if how else labels
        elif kind == "state":
            meta.update(state=what, state_entered=stamp(how))
        elif kind == "owner":
            meta["owner"] = what
        elif kind == "describe":
            ticket.description = what
        else:
            ticket.sections["Notes"] = ticket.sections["Notes"][1:]
    meta["updated"] = stamp(updated)
    return text(ticket)


SIDES = st.builds(apply, st.lists(OPS, max_size=6), TIMES)


@settings(max_examples=200, deadline=None)
@given(ours=SIDES, theirs=SIDES, added_on_both_sides=st.booleans())
def test_merging_is_symmetric_and_gives_a_file_as_erflow_writes_it(
    ours: str, theirs: str, added_on_both_sides: bool
) -> None:
    base = None if added_on_both_sides else BASE
    result = run(base, ours, theirs)
    assert run(base, theirs, ours) == result
    parsed(result.text)


@settings(max_examples=100, deadline=None)
@given(side=SIDES)
def test_merging_a_side_with_itself_or_with_the_base_gives_that_side(side: str) -> None:
    assert run(BASE, side, side).text == side
    assert run(BASE, side, BASE).text == side
    assert run(BASE, BASE, side).text == side


@settings(max_examples=200, deadline=None)
@given(ours=SIDES, theirs=SIDES)
def test_every_note_of_either_side_survives_the_merge(ours: str, theirs: str) -> None:
    result = run(BASE, ours, theirs)
    notes = parsed(result.text).sections["Notes"]
    for side in (ours, theirs):
        for entry in parsed(side).sections["Notes"]:
            assert entry in notes
    assert len([n for n in notes if "erflow merge: conflict on" in n]) == len(result.conflicts)
