"""Tests of erflow.yamlio: strict, bounded loading with line numbers, and dump -> load round-trips."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from erflow.core import yamlio
from erflow.core.yamlio import LineDict, YamlError


def load_error(text: str) -> YamlError:
    with pytest.raises(YamlError) as info:
        yamlio.load(text)
    return info.value


# --- scalars -------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO", "On", "OFF", "y", "n"])
def test_yaml_1_1_boolean_words_stay_strings(word: str) -> None:
    assert yamlio.load(f"key: {word}") == {"key": word}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("TRUE", True)])
def test_only_true_and_false_are_booleans(text: str, value: bool) -> None:
    assert yamlio.load(f"key: {text}") == {"key": value}


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01 10:00:00", "2026-01-01T10:00:00+02:00"])
def test_unquoted_dates_and_times_stay_strings(text: str) -> None:
    assert yamlio.load(f"when: {text}") == {"when": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("-3", -3), ("1_000", 1000), ("1.5", 1.5), ("~", None), ("null", None), ("", None)],
)
def test_decimal_numbers_and_null_are_typed(text: str, value: object) -> None:
    assert yamlio.load(f"key: {text}") == {"key": value}


@pytest.mark.parametrize("text", ["0x10", "0o17", "010", "1e3", ".inf", ".nan", "12:30", "0b101"])
def test_other_yaml_1_1_number_forms_stay_strings(text: str) -> None:
    assert yamlio.load(f"key: {text}") == {"key": text}


def test_an_empty_document_is_none() -> None:
    assert yamlio.load("") is None
    assert yamlio.load("# only a comment\n") is None


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: &x [1, 2]\nb: *x\n",
        "a: &x {k: v}\nb: *x\n",
        "&k name: 1\n*k : 2\n",
    ],
)
def test_aliases_are_refused(text: str) -> None:
    assert "aliases" in load_error(text).message


def test_a_recursive_alias_is_refused() -> None:
    load_error("a: &x [*x]\n")


def test_an_alias_error_names_the_line_of_the_alias() -> None:
    error = load_error("a: &x 1\nb: 2\nc: *x\n")
    assert error.line == 3


def test_a_duplicate_key_is_refused_with_its_line() -> None:
    error = load_error("a: 1\nb: 2\nc:\n  d: 1\n  d: 2\n")
    assert error.message == "duplicate key 'd'"
    assert error.line == 5


def test_keys_that_differ_only_in_quoting_are_duplicates() -> None:
    error = load_error("1: x\n'1': y\n")
    assert error.line == 2


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!python/name:os.system\n",
        "a: !!python/tuple [1, 2]\n",
        "a: !custom x\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!timestamp 2026-01-01\n",
        "a: !!set {x}\n",
        "a: !!omap [{x: 1}]\n",
        "ok: 1\nbad: !<tag:example.com,2026:thing> x\n",
    ],
)
def test_python_and_unknown_tags_are_refused_with_their_line(text: str) -> None:
    error = load_error(text)
    assert "is not allowed" in error.message
    assert error.line == text.count("\n")


def test_standard_string_tags_are_accepted() -> None:
    assert yamlio.load("a: !!str 1\nb: !!int '2'\n") == {"a": "1", "b": 2}


def test_a_second_document_is_refused() -> None:
    error = load_error("a: 1\n---\nb: 2\n")
    assert error.line == 2


def test_malformed_yaml_is_refused_with_its_line() -> None:
    error = load_error("a: 1\nb: [x, y\nc: 3\n")
    assert error.line == 3


@pytest.mark.parametrize("opener", ["[", "{"])
def test_flow_nesting_deeper_than_the_limit_is_refused(opener: str) -> None:
    error = load_error("a: " + opener * (yamlio.MAX_DEPTH + 1))
    assert error.message == f"nesting deeper than {yamlio.MAX_DEPTH} levels"
    assert error.line == 1


def test_flow_nesting_at_the_limit_is_accepted() -> None:
    depth = yamlio.MAX_DEPTH
    data = yamlio.load("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        (data,) = data
    assert data == []


def test_the_nesting_error_names_the_line_where_the_limit_is_crossed() -> None:
    text = "a: 1\nb:\n" + "".join(f"  {'[' * 10}\n" for _ in range(10))
    assert load_error(text).line == 9


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("- " * (yamlio.MAX_DEPTH + 36) + "x\n", 1),
        (
            "".join(" " * i + "k:\n" for i in range(yamlio.MAX_DEPTH + 36)) + " " * 100 + "v\n",
            yamlio.MAX_DEPTH + 1,
        ),
        ("".join("  " * i + "- k:\n" for i in range(yamlio.MAX_DEPTH)) + "  " * 70 + "v\n", 33),
        ("? " * (yamlio.MAX_DEPTH + 1) + "x\n", 1),
    ],
    ids=["dash-sequences", "one-space-indents", "list-of-mappings", "complex-keys"],
)
def test_block_nesting_deeper_than_the_limit_is_refused_on_the_line_where_it_crosses(
    text: str, line: int
) -> None:
    error = load_error(text)
    assert error.message == f"nesting deeper than {yamlio.MAX_DEPTH} levels"
    assert error.line == line


def test_brackets_inside_quoted_strings_do_not_count_as_nesting() -> None:
    text = f"a: '{'[' * 100}'\nb: \"{'{' * 100}\"\n"
    assert yamlio.load(text) == {"a": "[" * 100, "b": "{" * 100}


def test_a_long_document_of_shallow_flow_mappings_is_accepted() -> None:
    text = "".join(f"k{i}: {{a: [1, 2], b: {{c: d}}}}\n" for i in range(200))
    assert len(yamlio.load(text)) == 200


@pytest.mark.parametrize(
    "expression",
    [
        '"[" * 30_000',
        '"{" * 30_000',
        '"[" * 30_000 + "]" * 30_000',
        '"- " * 30_000 + "x"',
        '"? " * 30_000 + "x"',
    ],
)
def test_a_30000_level_document_raises_yaml_error_and_the_interpreter_survives(expression: str) -> None:
    program = textwrap.dedent(
        f"""
        from erflow.core import yamlio
        try:
            yamlio.load({expression})
        except yamlio.YamlError as exc:
            print("YamlError:", exc.message)
        else:
            print("loaded")
        """
    )
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("YamlError:"), proc.stdout + proc.stderr


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    error = load_error("a: " + "x" * yamlio.MAX_BYTES)
    assert str(yamlio.MAX_BYTES) in error.message


def test_a_document_at_the_size_limit_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_BYTES", 20)
    assert yamlio.load("a: " + "x" * 17) == {"a": "x" * 17}
    with pytest.raises(YamlError):
        yamlio.load("a: " + "x" * 18)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x9b", "\ufffe"])
def test_a_character_yaml_cannot_hold_raises_yaml_error_with_its_line(char: str) -> None:
    assert load_error(f"a: 1\nb: x{char}y\n").line == 2


def test_an_integer_too_long_to_convert_raises_yaml_error() -> None:
    load_error("a: " + "1" * 5000 + "\n")


# --- line numbers -----------------------------------------------------------------------------------

NESTED = """\
# a comment
top: 1

section:
  first: a
  second: {x: 1,
    y: 2}
items:
  - name: one
    value: 1
  - name: two
"""


def test_line_of_gives_the_line_of_each_key() -> None:
    data = yamlio.load(NESTED)
    assert isinstance(data, LineDict)
    assert {key: data.line_of(key) for key in data} == {"top": 2, "section": 4, "items": 8}
    assert data["section"].line_of("first") == 5
    assert data["section"].line_of("second") == 6
    assert data["section"]["second"].line_of("x") == 6
    assert data["section"]["second"].line_of("y") == 7
    assert [item.line_of("name") for item in data["items"]] == [9, 11]
    assert data["items"][0].line_of("value") == 10


def test_line_of_a_missing_key_is_the_line_where_the_mapping_starts() -> None:
    data = yamlio.load(NESTED)
    assert data.line_of("missing") == 2
    assert data["section"].line_of("missing") == 5
    assert data["items"][1].line_of("missing") == 11


def test_every_mapping_is_a_line_dict_and_keys_are_strings() -> None:
    data = yamlio.load("1: a\ntrue: b\nnull: c\nnested: [{2: x}]\n")
    assert list(data) == ["1", "True", "None", "nested"]
    assert isinstance(data["nested"][0], LineDict)
    assert data["nested"][0] == {"2": "x"}


# --- fuzz --------------------------------------------------------------------------------------------


def load_or_yaml_error(text: str) -> None:
    try:
        yamlio.load(text)
    except YamlError:
        pass


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
@example("a: \x01")
@example("a: " + "9" * 5000)
def test_load_of_arbitrary_text_raises_only_yaml_error(text: str) -> None:
    load_or_yaml_error(text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary())
@example(b"key: \x00")
def test_load_of_arbitrary_bytes_decoded_with_replacement_raises_only_yaml_error(data: bytes) -> None:
    load_or_yaml_error(data.decode("utf-8", errors="replace"))


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(
            ["a:", " b:", "- ", "[", "]", "{", "}", ",", "&x", "*x", "!!str", "'", '"', "\n", "? ", "#"]
        )
    )
)
def test_load_of_yaml_punctuation_soup_raises_only_yaml_error(parts: list[str]) -> None:
    load_or_yaml_error(" ".join(parts))


# --- dump -> load ----------------------------------------------------------------------------------

TRICKY_STRINGS = [
    "yes",
    "no",
    "on",
    "off",
    "true",
    "null",
    "~",
    "",
    "2026-01-01",
    "2026-01-01T10:00:00+00:00",
    "12",
    "1.5",
    "0x10",
    "a: b",
    "- x",
    "#",
    "# not a comment",
    "a #b",
    "---",
    "...",
    "[x]",
    "{x: 1}",
    "*alias",
    "&anchor",
    "!tag",
    "%directive",
    "@at",
    "`tick",
    "'single'",
    '"double"',
    "  leading spaces",
    "trailing spaces  ",
    "\ttab",
    "two\nlines",
    "trailing newline\n",
    "\n",
    "crlf\r\nline",
    "ünïcödé ✓ 漢字 🎉",
    "\u2028line separator",
    "\x85next line",
    "\ufeffbom",
    "NUL \x00 inside",
    "x" * 300,
    "word " * 40,
]


@pytest.mark.parametrize("value", TRICKY_STRINGS)
def test_a_tricky_string_survives_dump_and_load(value: str) -> None:
    data = {"value": value, "list": [value, value], value: "as a key"}
    assert yamlio.load(yamlio.dump(data)) == data


@pytest.mark.parametrize("value", ["1.5e3", "1.e3", "2.0E10", "0.5e0"])
def test_a_string_shaped_like_an_unsigned_exponent_float_survives_dump_and_load(value: str) -> None:
    assert yamlio.load(yamlio.dump({"value": value})) == {"value": value}


def test_dump_keeps_key_order_and_unicode() -> None:
    text = yamlio.dump({"zeta": "ä", "alpha": ["b", "a"]})
    assert text == "zeta: ä\nalpha:\n- b\n- a\n"


plain_text = st.text()
plain_values = st.one_of(
    plain_text,
    st.integers(min_value=-(10**100), max_value=10**100),
    st.booleans(),
    st.none(),
    st.lists(plain_text, max_size=5),
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(plain_text, plain_values, max_size=8))
@example({"yes": "no", "on": "2026-01-01", "a: b": "- x", "#": " lead", "trail ": "ünï"})
def test_plain_data_survives_dump_and_load(data: dict[str, object]) -> None:
    assert yamlio.load(yamlio.dump(data)) == data
