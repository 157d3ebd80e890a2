"""The index reads front-matter alone (``front_matter_bytes``): the same dict, and for a bad file the
same one-line error, as the full parse (``parse_bytes``) gives, body split and all."""

from __future__ import annotations

import pytest

from erflow.core.errors import InvalidData
from erflow.store.ticketfile import MAX_TICKET_BYTES, front_matter_bytes, parse_bytes

REL = "tickets/ER/4K/ER-4K7M2Q.md"
GOOD = (
    "---\nid: ER-4K7M2Q\ntype: enhancement\ntitle: Export to PDF\nstate: intake\nlabels:\n- a\n- b\n"
    "links: []\ncount: 3\nflag: true\n---\nBody text.\n\n## Notes\n\n- one\n"
)

CASES = {
    "good": GOOD,
    "crlf": GOOD.replace("\n", "\r\n"),
    "closing at the end": "---\nid: ER-4K7M2Q\ntitle: x\n---",
    "no body": "---\nid: ER-4K7M2Q\n---\n",
    "full loader needed": "---\nid: ER-4K7M2Q\ntitle: |\n  two\n  lines\n---\nbody\n",
    "bom": "\ufeff" + GOOD,
    "no opening": "id: ER-4K7M2Q\n",
    "no closing": "---\nid: ER-4K7M2Q\n",
    "bad yaml": "---\nid: ER-4K7M2Q\ntitle: [unclosed\n---\n",
    "a tag": "---\nid: ER-4K7M2Q\ntitle: !!python/object x\n---\n",
    "an alias": "---\nid: ER-4K7M2Q\na: &x 1\nb: *x\n---\n",
    "duplicate key": "---\nid: ER-4K7M2Q\nid: ER-4K7M2Q\n---\n",
    "not a mapping": "---\n- a\n- b\n---\n",
    "wrong id": GOOD.replace("id: ER-4K7M2Q", "id: ER-AAAAAA"),
    "wrong id on line 3": "---\ntitle: x\nid: ER-AAAAAA\n---\n",
    "no id": "---\ntitle: x\n---\n",
}


def outcome(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except InvalidData as exc:
        return ("error", exc.message)


@pytest.mark.parametrize("name", sorted(CASES))
def test_front_matter_alone_is_the_full_parse_front_matter(name: str) -> None:
    data = CASES[name].encode("utf-8")
    full = outcome(lambda: parse_bytes(data, REL).ticket.meta)
    alone = outcome(lambda: front_matter_bytes(data, REL))
    assert alone == full
    if name.startswith("good") or name == "crlf":
        assert isinstance(alone, dict) and alone["labels"] == ["a", "b"]


@pytest.mark.parametrize(
    "data",
    [
        b"---\nid: ER-4K7M2Q\x00\n---\n",
        b"---\nid: ER-4K7M2Q\ntitle: \xff\n---\n",
        b"x" * (MAX_TICKET_BYTES + 1),
    ],
)
def test_byte_level_refusals_are_the_same(data: bytes) -> None:
    full = outcome(lambda: parse_bytes(data, REL))
    alone = outcome(lambda: front_matter_bytes(data, REL))
    assert isinstance(full, tuple) and alone == full
