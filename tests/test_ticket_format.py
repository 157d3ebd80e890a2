"""Tests of the ticket file format (erflow.store.ticketfile: parse / serialize), ids, atomic writes and
Store.read_path's refusals, with the file and line each refusal names."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from erflow.core import model
from erflow.core.errors import ErflowError, InvalidData, NotFound
from erflow.core.model import Ticket
from erflow.store import files, ticketfile
from erflow.store.files import write_atomic
from erflow.store.ticketfile import parse, serialize
from erflow.store.tickets import Store, normalize_id

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)
TICKET_ID = "ER-AB12CD"
REL_PATH = Path("tickets/ER/AB/ER-AB12CD.md")
TYPE_FIELDS = ["problem", "scope", "billable", "estimate_hours", "change_affects"]

SAMPLE = Ticket(
    {
        "id": TICKET_ID,
        "type": "enhancement",
        "title": "Export invoices",
        "state": "intake",
        "owner": "support@example.com",
        "labels": ["billable"],
        "links": [],
        "created": "2026-11-02T09:00:00+00:00",
        "updated": "2026-11-02T09:00:00+00:00",
        "problem": "Invoices\nonly on screen",
        "customer_email": "jane@acme.example",
    },
    "Please add a CSV export.\n\nThanks",
    {
        "Notes": [
            model.entry(NOW, "support@example.com: created in intake"),
            model.entry(NOW, "destyn@example.com: note", "line one\n\n- not an entry\n## Notes"),
        ],
        "Communications": [],
    },
)

SAMPLE_TEXT = """\
---
id: ER-AB12CD
type: enhancement
title: Export invoices
state: intake
owner: support@example.com
customer_email: jane@acme.example
labels:
- billable
links: []
created: '2026-11-02T09:00:00+00:00'
updated: '2026-11-02T09:00:00+00:00'
problem: 'Invoices

  only on screen'
---
Please add a CSV export.

Thanks

## Notes

- **2026-11-02T09:00:00+00:00** support@example.com: created in intake
- **2026-11-02T09:00:00+00:00** destyn@example.com: note
  line one
  \n  - not an entry
  ## Notes

## Communications

"""


def parse_text(text: str) -> Ticket:
    return parse(text, REL_PATH).ticket


def invalid(text: str) -> str:
    with pytest.raises(InvalidData) as info:
        parse(text, REL_PATH)
    return info.value.message


# --- layout and round-trip -------------------------------------------------------------------------


def test_a_ticket_is_written_as_front_matter_in_contract_order_then_the_body() -> None:
    assert serialize(SAMPLE, TYPE_FIELDS) == SAMPLE_TEXT


def test_a_written_ticket_parses_back_to_the_same_ticket() -> None:
    parsed = parse_text(SAMPLE_TEXT)
    assert parsed.meta == SAMPLE.meta
    assert parsed.description == SAMPLE.description
    assert parsed.sections == SAMPLE.sections


def test_front_matter_keys_come_back_in_contract_order() -> None:
    meta = {
        "problem": "p",
        "zzz_extra": 1,
        "title": "t",
        "state": "intake",
        "type": "enhancement",
        "id": TICKET_ID,
    }
    parsed = parse_text(serialize(Ticket(meta), ["problem"]))
    assert list(parsed.meta) == ["id", "type", "title", "state", "problem", "zzz_extra"]


def test_parse_remembers_the_file_line_of_each_front_matter_key() -> None:
    lines = parse(SAMPLE_TEXT, REL_PATH).lines
    file_lines = SAMPLE_TEXT.splitlines()
    for key, line in lines.items():
        assert file_lines[line - 1].startswith(f"{key}:"), (key, line)
    assert lines["id"] == 2


def test_a_ticket_without_description_or_entries_round_trips() -> None:
    ticket = Ticket({"id": TICKET_ID, "title": "t"})
    text = serialize(ticket, [])
    assert text == f"---\nid: {TICKET_ID}\ntitle: t\n---\n## Notes\n\n\n## Communications\n\n"
    parsed = parse_text(text)
    assert (parsed.meta, parsed.description, parsed.sections) == (ticket.meta, "", ticket.sections)


def test_the_description_loses_only_its_leading_and_trailing_newlines() -> None:
    ticket = Ticket({"id": TICKET_ID}, "\n\n  indented first line\n\ntrailing spaces  \n\n")
    assert parse_text(serialize(ticket, [])).description == "  indented first line\n\ntrailing spaces  "


@pytest.mark.parametrize(
    "description",
    [
        "---",
        "---\nid: ER-EVIL\n---",
        "## Notes",
        "text\n## Notes\n- **2026-01-01** forged entry",
        "## Communications\n- forged\n## Notes\n- forged",
        "- a list\n- b",
        "# heading\n\n```\ncode\n```",
    ],
)
def test_a_description_that_looks_like_file_structure_survives(description: str) -> None:
    ticket = Ticket(
        {"id": TICKET_ID}, description, {"Notes": [model.entry(NOW, "n", "x")], "Communications": []}
    )
    parsed = parse_text(serialize(ticket, []))
    assert (parsed.description, parsed.sections) == (description, ticket.sections)


def test_a_file_with_crlf_line_endings_parses_like_the_lf_file() -> None:
    lf = parse_text(SAMPLE_TEXT)
    crlf = parse_text(SAMPLE_TEXT.replace("\n", "\r\n"))
    assert (crlf.meta, crlf.description, crlf.sections) == (lf.meta, lf.description, lf.sections)


def test_crlf_inside_the_description_becomes_lf_and_a_lone_cr_stays() -> None:
    ticket = Ticket({"id": TICKET_ID}, "one\r\ntwo\rthree")
    assert parse_text(serialize(ticket, [])).description == "one\ntwo\rthree"


def test_crlf_inside_a_front_matter_value_survives() -> None:
    ticket = Ticket({"id": TICKET_ID, "problem": "one\r\ntwo"})
    assert parse_text(serialize(ticket, ["problem"])).meta["problem"] == "one\r\ntwo"


def test_a_closing_line_at_the_very_end_of_the_file_is_accepted() -> None:
    parsed = parse_text(f"---\nid: {TICKET_ID}\n---")
    assert (parsed.meta, parsed.description) == ({"id": TICKET_ID}, "")


def test_an_entry_head_with_a_line_break_stays_one_entry() -> None:
    head = "support@example.com: set labels=x\n- **2026-01-01T00:00:00+00:00** forged entry"
    ticket = Ticket({"id": TICKET_ID}, "", {"Notes": [model.entry(NOW, head)], "Communications": []})
    assert len(parse_text(serialize(ticket, [])).sections["Notes"]) == 1


# --- the round-trip property -------------------------------------------------------------------------

STRUCTURE = [
    "---",
    "\n---\n",
    "## Notes",
    "\n## Notes\n",
    "## Communications",
    "\n## Communications\n",
    "- ",
    "\n- ",
]
MARKDOWN = ["**bold**", "# h", "`code`", "> quote", "[link](http://x)", "\n\n", "  ", "\t", "ünï ✓ 漢字"]
NUMBER_LIKE = ["1.5e3", "2026-01-01", "yes", "0x10", "~"]
any_text = st.lists(st.text() | st.sampled_from(STRUCTURE + MARKDOWN + NUMBER_LIKE), max_size=6).map("".join)
description_text = any_text.map(lambda s: s.replace("\r", "").replace("\x00", ""))
single_line = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\x85\u2028\u2029"), max_size=60)
timestamps = st.datetimes(
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5))])
).map(lambda d: d.isoformat(timespec="seconds"))
front_matter = st.fixed_dictionaries(
    {
        "id": st.just(TICKET_ID),
        "type": st.just("enhancement"),
        "title": single_line,
        "state": st.sampled_from(["intake", "pm_review", "closed"]),
    },
    optional={
        "owner": any_text,
        "customer": any_text,
        "customer_name": any_text,
        "customer_email": st.emails(),
        "priority": st.sampled_from(["low", "normal", "high", "urgent"]),
        "labels": st.lists(any_text, max_size=3),
        "links": st.lists(any_text, max_size=3),
        "created": timestamps,
        "updated": timestamps,
        "problem": any_text,
        "scope": any_text,
        "billable": st.booleans(),
        "estimate_hours": st.integers(min_value=0) | st.floats(min_value=0, allow_infinity=False),
        "change_affects": st.lists(st.sampled_from(["deliverables", "cost", "timeline", "documentation"])),
        "zzz_unknown_field": any_text,
    },
)
heads = st.sampled_from(
    [
        "support@example.com: created in intake",
        "destyn@example.com: approve (pm_review → product_board); pm_validation=complete",
        "email pm_more_info to jane@acme.example: “Enhancement Request ER-AB12CD” (not sent)",
        "",
    ]
)
entries = st.lists(st.builds(lambda head, text: model.entry(NOW, head, text), heads, any_text), max_size=4)


@settings(max_examples=300, deadline=None, database=None)
@given(meta=front_matter, description=description_text, notes=entries, communications=entries)
def test_parse_of_serialize_gives_back_meta_description_and_sections(
    meta: dict[str, object], description: str, notes: list[str], communications: list[str]
) -> None:
    """The expected normalization, and nothing more: front-matter values come back equal (keys in the
    contract's order); the description loses its leading and trailing newlines (it holds no CR here: a
    file's CRLF becomes LF, tested above); entries come back exactly as model.entry made them."""
    ticket = Ticket(meta, description, {"Notes": notes, "Communications": communications})
    text = serialize(ticket, TYPE_FIELDS)
    parsed = parse(text, REL_PATH)
    assert parsed.ticket.meta == meta
    assert list(parsed.ticket.meta) == list(model.ordered(meta, TYPE_FIELDS))
    assert parsed.ticket.description == description.strip("\n")
    assert parsed.ticket.sections == {"Notes": notes, "Communications": communications}
    assert serialize(parsed.ticket, TYPE_FIELDS) == text


# --- refusals, with file and line --------------------------------------------------------------------


def test_a_byte_order_mark_is_refused_on_line_1() -> None:
    assert (
        invalid("\ufeff" + SAMPLE_TEXT)
        == f"{REL_PATH}:1: starts with a byte-order mark; save it as UTF-8 without BOM"
    )


@pytest.mark.parametrize(
    "text", ["", "id: ER-AB12CD\n---\n", "\n---\nid: ER-AB12CD\n---\n", "--- \nid: x\n---\n"]
)
def test_a_file_that_does_not_open_with_three_dashes_is_refused_on_line_1(text: str) -> None:
    assert invalid(text) == f"{REL_PATH}:1: expected '---' to open the front-matter on the first line"


@pytest.mark.parametrize("text", ["---\nid: ER-AB12CD\n", "---\nid: ER-AB12CD\n--- \nbody\n", "---\n"])
def test_a_file_whose_front_matter_never_closes_is_refused(text: str) -> None:
    assert invalid(text) == f"{REL_PATH}: the front-matter has no closing '---' line"


@pytest.mark.parametrize("front", ["- a\n- b\n", "just text\n", "42\n", "", "\n"])
def test_front_matter_that_is_not_a_mapping_is_refused_on_line_2(front: str) -> None:
    assert (
        invalid(f"---\n{front}---\nbody\n")
        == f"{REL_PATH}:2: the front-matter must be a mapping of key: value"
    )


BAD_FRONT_MATTER = [
    ("title: a: b", "mapping values are not allowed"),
    ("owner: a\ntitle: x\nowner: b", "duplicate key 'owner'"),
    ("\ttitle: x", "tab character"),
    ("title: !!python/object:os.system x", "is not allowed"),
    ("title: [a, b", ""),
]


@pytest.mark.parametrize(("bad", "message"), BAD_FRONT_MATTER)
def test_a_yaml_error_in_the_front_matter_names_the_line_of_the_file(bad: str, message: str) -> None:
    text = f"---\nid: {TICKET_ID}\ntype: enhancement\n{bad}\nstate: intake\n---\nbody\n"
    error = invalid(text)
    match = re.match(rf"^{re.escape(str(REL_PATH))}:(\d+): (.*)$", error)
    assert match, error
    bad_line = text.splitlines()[int(match[1]) - 1]
    expected_line = bad.splitlines()[-1] if message != "" else "state: intake"
    assert bad_line == expected_line, error
    assert message in match[2]


# --- ids and paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ER-4K7M2Q", "ER-4K7M2Q"), ("er-4k7m2q", "ER-4K7M2Q"), ("  Bug-1a \n", "BUG-1A"), ("DOC2-Z", "DOC2-Z")],
)
def test_normalize_id_upper_cases_a_well_formed_id(raw: str, expected: str) -> None:
    assert normalize_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "../x",
        "ER-1/../../etc",
        "ER-1/../ER-2",
        "..",
        "/etc/passwd",
        "/ER-1",
        "ER-1\x00",
        "ER-\x001",
        "ER-1\nER-2",
        "ER\\1",
        "ER-1.md",
        "ER-*",
        "ER-",
        "-1",
        "1ER-1",
        "TOOLONGPFX-1",
        "ER-" + "1" * 17,
        "ER_1",
    ],
)
def test_normalize_id_refuses_anything_but_prefix_dash_code(raw: str) -> None:
    with pytest.raises(NotFound):
        normalize_id(raw)


def test_path_for_shards_by_prefix_and_the_first_two_characters(tmp_path: Path) -> None:
    assert Store(tmp_path).path_for("ER-4K7M2Q") == tmp_path / "tickets" / "ER" / "4K" / "ER-4K7M2Q.md"


def test_find_refuses_a_traversal_without_touching_the_disk(tmp_path: Path) -> None:
    secret = tmp_path / "etc.md"
    secret.write_text("---\nid: x\n---\n")
    with pytest.raises(NotFound, match="is not a ticket id"):
        Store(tmp_path / "store").find("../../etc")


def test_find_looks_in_other_folders_when_the_ticket_is_not_where_path_for_puts_it(tmp_path: Path) -> None:
    moved = tmp_path / "tickets" / "archive" / "ER-4K7M2Q.md"
    moved.parent.mkdir(parents=True)
    moved.write_text("x")
    assert Store(tmp_path).find("er-4k7m2q") == moved


def test_find_of_a_missing_ticket_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no ticket ER-4K7M2Q"):
        Store(tmp_path).find("ER-4K7M2Q")


# --- Store.read_path ---------------------------------------------------------------------------------


def store_with(tmp_path: Path, data: bytes, ticket_id: str = TICKET_ID) -> tuple[Store, Path]:
    target = Store(tmp_path)
    path = target.path_for(ticket_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return target, path


def read_error(tmp_path: Path, data: bytes) -> str:
    target, path = store_with(tmp_path, data)
    with pytest.raises(InvalidData) as info:
        target.read_path(path)
    return info.value.message


def test_read_path_reads_a_well_formed_ticket(tmp_path: Path) -> None:
    target, path = store_with(tmp_path, SAMPLE_TEXT.encode())
    parsed = target.read_path(path)
    assert parsed.ticket.meta == SAMPLE.meta
    assert target.read("er-ab12cd").meta == SAMPLE.meta


def test_read_path_refuses_a_nul_byte(tmp_path: Path) -> None:
    data = SAMPLE_TEXT.replace("Thanks", "Tha\x00nks").encode()
    assert read_error(tmp_path, data) == f"{REL_PATH}: contains a NUL byte"


def test_read_path_refuses_non_utf8_naming_the_line(tmp_path: Path) -> None:
    data = SAMPLE_TEXT.encode().replace(b"title: Export invoices", b"title: Export \xff\xfe invoices")
    assert read_error(tmp_path, data) == f"{REL_PATH}:4: not valid UTF-8"


def test_read_path_refuses_latin1_in_the_body_naming_the_line(tmp_path: Path) -> None:
    data = SAMPLE_TEXT.encode() + "caf\xe9\n".encode("latin-1")
    line = SAMPLE_TEXT.count("\n") + 1
    assert read_error(tmp_path, data) == f"{REL_PATH}:{line}: not valid UTF-8"


def test_read_path_refuses_a_bom_naming_the_file(tmp_path: Path) -> None:
    message = read_error(tmp_path, b"\xef\xbb\xbf" + SAMPLE_TEXT.encode())
    assert message.startswith(f"{REL_PATH}:1: starts with a byte-order mark")


def test_read_path_refuses_an_id_that_does_not_match_the_file_name(tmp_path: Path) -> None:
    text = SAMPLE_TEXT.replace(f"id: {TICKET_ID}", "id: ER-OTHER1")
    assert read_error(tmp_path, text.encode()) == (
        f"{REL_PATH}:2: id 'ER-OTHER1' does not match the file name 'ER-AB12CD'"
    )


def test_read_path_points_at_the_id_line_wherever_it_is(tmp_path: Path) -> None:
    text = "---\ntitle: t\n\nid: ER-ZZ\n---\n"
    assert read_error(tmp_path, text.encode()).startswith(f"{REL_PATH}:4: id 'ER-ZZ'")


def test_read_path_refuses_a_file_over_the_size_limit(tmp_path: Path) -> None:
    data = SAMPLE_TEXT.encode() + b"x" * ticketfile.MAX_TICKET_BYTES
    assert read_error(tmp_path, data).startswith(f"{REL_PATH}: {len(data)} bytes, over the")


def test_read_path_of_a_missing_file_is_not_found(tmp_path: Path) -> None:
    target = Store(tmp_path)
    with pytest.raises(NotFound, match="no such ticket file"):
        target.read_path(target.path_for(TICKET_ID))


# --- write_atomic ---------------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith("."))


def test_write_atomic_creates_folders_and_writes_exact_bytes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "t.md"
    write_atomic(target, "one\ntwo\r\nünï\n")
    assert target.read_bytes() == "one\ntwo\r\nünï\n".encode()
    assert leftovers(target.parent) == []


def test_write_atomic_gives_mode_0644_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "t.md"
    old = os.umask(0o077)
    try:
        write_atomic(target, "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_write_atomic_replaces_old_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "t.md"
    for round_ in range(5):
        write_atomic(target, f"version {round_}\n")
        assert target.read_text() == f"version {round_}\n"
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["t.md"]


def test_write_atomic_that_fails_while_writing_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "t.md"
    write_atomic(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "new \ud800 text")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_write_atomic_that_fails_to_rename_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.md"
    write_atomic(target, "old\n")

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_store_write_puts_the_ticket_where_path_for_says(tmp_path: Path) -> None:
    target = Store(tmp_path)
    written = target.write(SAMPLE, TYPE_FIELDS)
    assert written == target.path_for(TICKET_ID)
    assert written.read_text() == SAMPLE_TEXT
    assert target.read_path(written).ticket.sections == SAMPLE.sections


# --- fuzz ----------------------------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def read_or_erflow_error(tmp_path: Path, data: bytes) -> None:
    target, path = store_with(tmp_path, data)
    try:
        target.read_path(path)
    except ErflowError:
        pass


def ticket_like(text: str) -> str:
    return f"---\nid: {TICKET_ID}\n{text}\n---\n{text}"


@FUZZ_SETTINGS
@given(
    st.binary()
    | st.text().map(ticket_like).map(str.encode)
    | st.tuples(st.text(), st.binary(max_size=4)).map(lambda pair: ticket_like(pair[0]).encode() + pair[1])
)
@example(b"---\nid: ER-AB12CD\ntitle: \x01\n---\n")
@example(b"---\nid: ER-AB12CD\ntitle: " + b"9" * 5000 + b"\n---\n")
@example(b"---\n" + b"- " * 30_000 + b"\n---\n")
def test_read_path_of_arbitrary_bytes_raises_only_erflow_errors(tmp_path: Path, data: bytes) -> None:
    read_or_erflow_error(tmp_path, data)


def test_a_control_character_in_the_front_matter_is_invalid_data_with_its_line(tmp_path: Path) -> None:
    text = SAMPLE_TEXT.replace("title: Export invoices", "title: Export\x1b invoices")
    assert read_error(tmp_path, text.encode()).startswith(f"{REL_PATH}:4: ")
