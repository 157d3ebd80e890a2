"""Tests of yamlio's fast path: ``load_flat`` reads exactly what the full loader reads, or nothing."""

from __future__ import annotations

import math
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erflow.core import yamlio
from erflow.core.fields import COMMON_NAMES
from erflow.core.yamlio import LineDict, YamlError
from erflow.store import ticketfile

FIELD_NAMES = [
    *COMMON_NAMES,
    "problem",
    "scope",
    "desired_outcome",
    "business_value",
    "board_status",
    "pm_validation",
    "estimate_hours",
    "billable",
    "change_affects",
    "review_date",
]
SIGNIFICANT = [
    "true", "True", "FALSE", "yes", "No", "on", "off", "y", "1e3", "1.0e+3", "1.5", "-2.", "0x1F",
    "0o17", "010", "0", "-0", "+7", "1_000", "1_0.5_", "-0.0", ".inf", ".nan", "~", "null", "Null",
    "NULL", "nUll", "", " ", "- x", "-x", "-", "--", "---", "...", "a: b", "a:b", "a:", "a #b", "a#b",
    "#x", "? x", "?x", ":x", ": x", "[a]", "a[b]", "{a: 1}", "{}", "[]", "a, b", "!tag", "&a", "*a",
    "|", ">", "%x", "@x", "`x", "' lead", " lead", "trail ", "it's", "''", "'", '"', 'say "hi"',
    "back\\slash", "\\n", "2026-01-01", "2026-01-01T10:00:00+00:00", "12:30", "<<", "=", "ünï ✓ 漢字",
    "a\nb", "a\n\nb", "\n", "tab\there", "cr\rhere", "nel\x85x", "ls\u2028x", "bom\ufeffx", "x" * 120,
    "word " * 30, "é: é", "ü", "\xa0", "a\xa0", "\x7f", "\x1c",
]  # fmt: skip

significant = st.sampled_from(SIGNIFICANT)
texts = st.text(max_size=40) | significant | st.lists(significant).map("".join)
scalars = (
    texts
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.booleans()
    | st.none()
)
values = scalars | st.lists(scalars, max_size=4) | st.just({}) | st.just([])
keys = st.sampled_from(FIELD_NAMES) | st.sampled_from(SIGNIFICANT) | st.text(max_size=12)


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types, keys in the same order, and the same lines for each mapping."""
    if type(a) is not type(b):
        return False
    if isinstance(a, LineDict):
        return (
            list(a) == list(b)
            and a.lines == b.lines
            and a.line == b.line
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def check(text: str) -> LineDict | None:
    """``load_flat`` of ``text``, asserted to be None or the full loader's value; the full loader's
    refusals are asserted to come out of ``load`` unchanged."""
    flat = yamlio.load_flat(text)
    try:
        full = yamlio.load_full(text)
    except YamlError as exc:
        assert flat is None, text
        with pytest.raises(YamlError) as info:
            yamlio.load(text)
        assert (info.value.message, info.value.line) == (exc.message, exc.line)
        return None
    if flat is not None:
        assert same(flat, full), (text, flat, full)
    assert same(yamlio.load(text), full), text
    return flat


# --- (1) what dump writes --------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, database=None)
@given(st.dictionaries(keys, values, max_size=8))
def test_the_fast_path_reads_a_dumped_mapping_as_the_full_loader_or_not_at_all(data: dict[str, Any]) -> None:
    check(yamlio.dump(data))


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(SIGNIFICANT), min_size=1, max_size=6).map("".join))
def test_significant_text_in_a_value_or_an_item_reads_the_same(text: str) -> None:
    check(f"key: {text}\n")
    check(f"key:\n- {text}\n")
    check(yamlio.dump({"key": text, "list": [text]}))


def realistic(rng: random.Random) -> dict[str, Any]:
    """A front-matter as erflow writes it: its field names, words, addresses, times, numbers."""
    words = ["Exports", "time", "out", "on", "large", "accounts,", "ünï", "(draft)", "50%", "a/b", "x-y"]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))

    meta: dict[str, Any] = {
        "id": f"ER-{rng.randrange(16**6):06X}",
        "type": "enhancement",
        "title": text(),
        "state": rng.choice(["intake", "pm_review", "closed"]),
        "owner": rng.choice(["board", "destyn@example.com", None]),
        "customer_email": "yuki@nakatomi.example",
        "labels": [text() for _ in range(rng.randint(0, 3))],
        "links": [],
        "created": "2025-08-06T16:16:08+00:00",
    }
    for name in FIELD_NAMES[:: rng.randint(1, 4)]:
        meta.setdefault(
            name, rng.choice([text(), rng.randint(-5, 10**6), rng.random() * 100, True, False, None, "yes"])
        )
    return meta


def test_the_fast_path_takes_nearly_every_front_matter_erflow_writes() -> None:
    rng = random.Random(16)
    taken = 0
    for _ in range(2000):
        flat = check(yamlio.dump(realistic(rng)))
        taken += flat is not None
    assert taken >= 1990


def test_the_fast_path_takes_the_common_forms() -> None:
    text = (
        "id: ER-AB12CD\ntitle: 'yes'\nowner: null\nempty:\nlabels: []\nextra: {}\n"
        "list:\n- a\n- 'b: c'\n- 1\nn: -3\nf: 1.5\nb: false\nquote: 'it''s'\nblank: ''\n"
    )
    flat = check(text)
    assert flat is not None
    assert flat == {
        "id": "ER-AB12CD", "title": "yes", "owner": None, "empty": None, "labels": [], "extra": {},
        "list": ["a", "b: c", 1], "n": -3, "f": 1.5, "b": False, "quote": "it's", "blank": "",
    }  # fmt: skip
    assert flat.lines["list"] == 7 and flat.lines["n"] == 11 and flat["extra"].line == 6


# --- (2) hostile and odd inputs --------------------------------------------------------------------

ODD = [
    "",
    "\n",
    "# a comment\na: 1\n",
    "a: 1 # a comment\n",
    "a: 1\na: 2\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: !custom 1\n",
    "!!map\na: 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    'a: "x\\ty"\n',
    'a: "plain"\n',
    "a: 'x\n  y'\n",
    "a: long\n  continued\n",
    "a:\n  b: 1\n",
    "a:\n  - x\n",
    "a:\n- x\n  - y\n",
    "a:\n- - x\n",
    "a:\n- b: 1\n",
    "a:\n- b:\n",
    "a:\n-\n",
    "a:\n- \n",
    "- x\n",
    "a: 1\n- x\n",
    "a: null\n- x\n",
    "a: []\n- x\n",
    "a: [1, 2]\n",
    "a: {b: 1}\n",
    "a: [\n",
    "a:\tb\n",
    "\ta: b\n",
    " a: b\n",
    "a : b\n",
    "a:b\n",
    "a:  b\n",
    "a: b \n",
    "a: \n",
    "'a': b\n",
    '"a": b\n',
    "? a\n: b\n",
    "a b: c\n",
    "é: 1\n",
    "-a: 1\n",
    "true: 1\n",
    "null: 1\n",
    "1: a\n",
    "<<: {a: 1}\n",
    "---\na: 1\n",
    "a: 1\n---\nb: 2\n",
    "a: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: b: c\n",
    "a: - b\n",
    "a: 'x' y\n",
    "a: 'x''\n",
    "a: '''\n",
    "a: 'unterminated\n",
    "a: x\n\nb: y\n",
    "a: 1\r\nb: 2\r\n",
    "a: x\rb\n",
    "a: x\x85b\n",
    "a: x\u2028b\n",
    "a: \ufeffx\n",
    "\ufeffa: 1\n",
    "a: \x07\n",
    "a: \x7f\n",
    "a: \udc80\n",
    "a: 1" + "0" * 5000 + "\n",
    "a: 1." + "0" * 5000 + "\n",
    "a: 1e3\n",
    "a: 0x1F\n",
    "a: .inf\n",
    "a: 12:30\n",
    "a: 2026-01-01\n",
    "a: yes\n",
    "a: ---\n",
    "a: ...x\n",
    "a: -\n",
    "a: ?\n",
    "a: :x\n",
    "a: %x\n",
    "a: @x\n",
    "a: `x\n",
    "a: x]\n",
    "a: x: y\n",
    "a: x #\n",
    "a: #\n",
    "k" * 200 + ": v\n",
    "a: 1\nb",
    "a: 1",
    "a: [" * 100 + "\n",
    "a:\n" + "- x\n" * 50,
]


@pytest.mark.parametrize("text", ODD)
def test_an_odd_or_hostile_text_gives_none_or_the_full_loaders_value(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    "text",
    ["a: 1\na: 2\n", "a: &x 1\nb: *x\n", "a: !custom 1\n", "a: [" * 100 + "\n", "\ufeffa: 1\n", "a: \x07\n"],
)
def test_refusals_still_come_from_the_full_loader(text: str) -> None:
    assert yamlio.load_flat(text) is None
    with pytest.raises(YamlError):
        yamlio.load(text)


def test_an_oversize_document_is_refused_before_the_fast_path() -> None:
    text = "a: " + "x" * yamlio.MAX_BYTES + "\n"
    with pytest.raises(YamlError, match="limit"):
        yamlio.load(text)


def test_a_value_is_never_shared_between_two_reads() -> None:
    first = yamlio.load_flat("a: []\nb: {}\nc:\n- x\n")
    second = yamlio.load_flat("a: []\nb: {}\nc:\n- x\n")
    assert first is not None and second is not None
    first["a"].append(1)
    first["b"]["k"] = 1
    first["c"].append("y")
    assert second == {"a": [], "b": {}, "c": ["x"]}


# --- (3) every ticket file a store has held ---------------------------------------------------------


def test_every_version_of_every_ticket_file_in_a_demo_store_reads_the_same(run: Any, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    run.ok("demo", str(root))
    listing = subprocess.run(
        ["git", "-C", str(root), "rev-list", "--all", "--objects"], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    blobs = sorted({line.split(" ")[0] for line in listing if " tickets/" in line and line.endswith(".md")})
    assert len(blobs) >= 10
    taken = 0
    for blob in blobs:
        data = subprocess.run(
            ["git", "-C", str(root), "cat-file", "blob", blob], capture_output=True, check=True
        ).stdout.decode("utf-8")
        end = data.find("\n---\n", 3)
        front = data[4 : end + 1]
        taken += check(front) is not None
        parsed = ticketfile.parse(data, Path("x.md"))
        assert parsed.ticket.meta == yamlio.load_full(front)
    assert taken == len(blobs)


# --- the bounds check: cheap for ordinary documents, never fooled by brackets that are text -------

DEPTH = yamlio.MAX_DEPTH + 6
DEEP_WITH_FAKE_CLOSES = {
    "quoted": "k: [\n" + "  [ ']',\n" * DEPTH + "  y" + "]" * (DEPTH + 1) + "\n",
    "double-quoted": "k: [\n" + '  [ "\\"]",\n' * DEPTH + "  y" + "]" * (DEPTH + 1) + "\n",
    "comments": "k: [ # ]\n" + "  [ # ]\n" * DEPTH + "  y" + "]" * (DEPTH + 1) + "\n",
    "tags": "k: [\n" + "  [ !<tag:x]> a,\n" * DEPTH + "  y" + "]" * (DEPTH + 1) + "\n",
    "closed-then-open": "k: [\n" + "  [], [\n" * DEPTH + "  y" + "]" * (DEPTH + 1) + "\n",
    "plain-key": "a]]]: [[\n" + "  [\n" * DEPTH + "  y" + "]" * (DEPTH + 2) + "\n",
}


@pytest.mark.parametrize("text", DEEP_WITH_FAKE_CLOSES.values(), ids=DEEP_WITH_FAKE_CLOSES)
def test_deep_nesting_behind_brackets_that_are_text_is_still_refused(text: str) -> None:
    with pytest.raises(YamlError, match="nesting deeper"):
        yamlio.load(text)


def test_an_ordinary_document_of_flow_collections_is_cleared_without_the_event_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walks: list[str] = []
    monkeypatch.setattr(yamlio, "_check_depth_exactly", walks.append)
    text = "team:\n" + "".join(
        f"  u{i}@example.com: {{name: U {i}, roles: [pm, board]}}  # {'[' * 3}\n" for i in range(300)
    )
    yamlio.load(text)
    assert walks == []
    yamlio.load(text.replace("{name: U ", "{name: 'U', n: "))
    assert len(walks) == 1
