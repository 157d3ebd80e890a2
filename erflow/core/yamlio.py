"""YAML in and out: the only place erflow parses or writes YAML.

Loading is strict and bounded: a size and nesting limit checked before the parser sees the text
(libyaml crashes the process on very deep nesting), no byte-order mark, no aliases (an anchor alone
is harmless), no duplicate keys, no custom tags, and only ``true``/``false`` are booleans (``yes``,
``no``, ``on``, ``off`` stay strings).
Unquoted dates stay strings too. Every mapping remembers the line of each of its keys so that
problems can be reported as ``file:line``.

A flat mapping as ``dump`` writes one (every ticket's front-matter) is read without PyYAML by
``load_flat``, to exactly the value PyYAML gives; any other document, and every refusal, goes
through PyYAML (``load_full``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - libyaml missing: the pure-Python reader and composer
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_EventLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64


class YamlError(ValueError):
    """A document that is not acceptable YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line of each key."""

    lines: dict[str, int]
    line: int

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _Resolver(yaml.resolver.BaseResolver):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # Most plain scalars (keys, names, text) start with a character no resolver below looks
        # at: they are strings, as the base class would find after a longer walk.
        if kind is yaml.ScalarNode and implicit[0] and value and value[0] not in _FIRST_CHARACTERS:
            return self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    # As PyYAML's own pattern (the exponent's sign is required), so that what the dumper writes
    # unquoted reads back as the same type.
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


assert None not in _Resolver.yaml_implicit_resolvers and not _Resolver.yaml_path_resolvers
_FIRST_CHARACTERS = frozenset(_Resolver.yaml_implicit_resolvers)


class _AliasFound(Exception):
    """A node reached twice: the document uses an alias."""


class _Constructor(yaml.constructor.SafeConstructor):
    def __init__(self) -> None:
        super().__init__()
        self._seen: set[int] = set()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if id(node) in self._seen and node in self.constructed_objects:
            raise _AliasFound()
        self._seen.add(id(node))
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:
            # What a ticket is mostly made of, built as PyYAML's own constructor would (its text),
            # in a fraction of the time.
            self.constructed_objects[node] = node.value
            return node.value
        if tag not in _ALLOWED_TAGS:
            raise YamlError(f"tag {tag!r} is not allowed", node.start_mark.line + 1)
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        result = LineDict()
        result.lines = {}
        result.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not allowed", key_node.start_mark.line + 1)
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            result[key] = self.construct_object(value_node, deep=True)
            result.lines[key] = key_node.start_mark.line + 1
        return result


_STR = "tag:yaml.org,2002:str"
_ALLOWED_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_mapping)  # type: ignore[type-var]


class _StrictLoader(_Parser, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def _check_bounds(text: str) -> None:
    """Refuse oversize or too deeply nested documents before the composer (recursive, in C) sees them.

    A cheap per-line upper bound on the nesting depth clears ordinary documents; only a document
    that might be deep is walked through the parser's event stream, which nests without recursion.
    """
    if len(text) > MAX_BYTES:
        raise YamlError(f"document is {len(text)} characters, more than the limit of {MAX_BYTES}")
    flow = "[" in text or "{" in text
    carried = 0  # flow collections that may still be open: see _closes_itself
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        bound = 2 * (len(line) - len(stripped)) + 2 + carried
        bound += stripped.count("- ") + stripped.count(": ") + stripped.count("? ")
        if flow:
            opens = line.count("[") + line.count("{")
            bound += opens
            if opens and not _closes_itself(line):
                carried += opens
        if bound > MAX_DEPTH:
            _check_depth_exactly(text)
            return


_BRACKETS_ONLY = re.compile(r"[^\[\]{}]+")


def _closes_itself(line: str) -> bool:
    """Whether every flow collection a line opens surely closes on the line.

    True only for a line whose code (what comes before a comment) holds no quote or tag (where a
    bracket may be text) and whose brackets, in order, pair up. A bracket in the other place it may
    be text, a plain scalar in block context, stands where no flow collection is open: it cannot
    hide an open one that the line leaves open, since after that opening bracket every bracket on
    the line is real. A line inside a multi-line scalar changes no depth, whatever it holds.
    """
    code = "" if line.lstrip(" ").startswith("#") else line.split(" #", 1)[0]
    if "'" in code or '"' in code or "#" in code or "!" in code:
        return False
    brackets = _BRACKETS_ONLY.sub("", code)
    while brackets:
        paired = brackets.replace("[]", "").replace("{}", "")
        if paired == brackets:
            return False
        brackets = paired
    return True


def _check_depth_exactly(text: str) -> None:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else None
                    raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # malformed: the real parse reports it with its line


def _alias_line(text: str) -> int | None:
    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            if isinstance(event, yaml.AliasEvent) and event.start_mark:
                return int(event.start_mark.line) + 1
    except yaml.YAMLError:
        pass
    return None


def load(text: str) -> Any:
    """Parse one YAML document strictly; raise YamlError with a line number.

    A flat document as ``dump`` writes it (a ticket's front-matter) is read by ``load_flat``;
    anything else, and every refusal, goes through PyYAML."""
    if len(text) <= MAX_BYTES and not text.startswith("\ufeff"):
        flat = load_flat(text)
        if flat is not None:
            return flat
    return load_full(text)


def load_full(text: str) -> Any:
    """``load`` without the fast path: every document through PyYAML and the checks around it."""
    if text.startswith("\ufeff"):
        raise YamlError("starts with a byte-order mark; save it as UTF-8 without BOM", 1)
    _check_bounds(text)
    loader = None
    try:
        loader = _StrictLoader(text)
        return loader.get_single_data()
    except _AliasFound:
        raise YamlError("aliases (*name) are not allowed", _alias_line(text)) from None
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(str(exc.problem or exc.context or "malformed YAML"), line) from None
    except yaml.reader.ReaderError as exc:
        # libyaml's position counts UTF-8 bytes, not characters: find the character itself.
        at = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        line = text.count("\n", 0, at) + 1 if at >= 0 else None
        raise YamlError(f"unacceptable character #x{exc.character:04x}", line) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise YamlError(f"malformed YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def dump(data: Any) -> str:
    """Serialize plain data as block-style YAML, keys in the given order, Unicode kept."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text


# --- the fast path ---------------------------------------------------------------------------------

# Characters the fast path leaves to PyYAML: all but the line feed, the printable ASCII and the
# printable non-ASCII that YAML reads as ordinary text (tabs, CR, other line breaks, controls,
# surrogates and the byte-order mark among them).
_ODD_CHARACTER = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# A plain scalar starting with one of these is something else to YAML (or is refused by it).
_INDICATORS = frozenset("?:,[]{}#&*!|>'\"%@`")
_NO_VALUE = object()


def _plain(text: str) -> Any:
    """The value of a plain scalar by the rules of ``_Resolver``, or ``_NO_VALUE`` for a text that
    YAML would not read as one plain scalar on one line."""
    if not text:
        return None
    first = text[0]
    if (
        first in _INDICATORS
        or first == " "
        or (first == "-" and (len(text) == 1 or text[1] == " " or text.startswith("---")))
        or text.startswith("...")
        or text[-1] == " "
        or text[-1] == ":"
        or ": " in text
        or " #" in text
    ):
        return _NO_VALUE
    if first not in _FIRST_CHARACTERS:
        return text
    for tag, regexp in _Resolver.yaml_implicit_resolvers[first]:
        if regexp.match(text):
            if tag == _BOOL:
                return text[0] in "tT"
            try:
                if tag == _INT:
                    return int(text.replace("_", ""))
                if tag == _FLOAT:
                    return float(text.replace("_", ""))
            except ValueError:  # more digits than Python converts: the full loader's error
                return _NO_VALUE
            return None
    return text


def _scalar(text: str) -> Any:
    """The value of a one-line single-quoted or plain scalar, or ``_NO_VALUE``."""
    if text[:1] == "'":
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
            return _NO_VALUE
        return inner.replace("''", "'")
    return _plain(text)


# What one line of a flat document says: an item of a sequence, a key with a scalar, a key with
# nothing after it (null, or a sequence follows), a key with ``[]``, a key with ``{}``.
_ITEM, _KEY_SCALAR, _KEY_OPEN, _KEY_LIST, _KEY_MAP = range(5)
_Line = tuple[int, str, Any]
# Lines already read, most of them repeated from file to file ("labels: []", "state: ..."): the
# reading of a line depends on the line alone and holds only immutable values. Emptied when full.
_READ: dict[str, _Line] = {}
_READ_MAX = 20_000


def _read_line(line: str) -> _Line | None:
    """What a line of a flat document says, or None for a line outside the fast path's subset."""
    if line[:2] == "- ":
        value = _scalar(line[2:])
        return None if value is _NO_VALUE or line == "- " else (_ITEM, "", value)
    key, colon, rest = line.partition(":")
    if not colon or not 0 < len(key) <= 128 or not key.isascii() or key[0] == "-":
        return None
    if not key.replace("-", "_").isidentifier():
        return None
    if key[0] in _FIRST_CHARACTERS and _plain(key) != key:
        return None
    if not rest:
        return (_KEY_OPEN, key, None)
    if rest[0] != " " or rest == " ":
        return None
    if rest == " []":
        return (_KEY_LIST, key, None)
    if rest == " {}":
        return (_KEY_MAP, key, None)
    value = _scalar(rest[1:])
    return None if value is _NO_VALUE else (_KEY_SCALAR, key, value)


def load_flat(text: str) -> LineDict | None:
    """Read a flat mapping as ``dump`` writes one, or return None for any other text.

    What it reads: ``key: value`` lines at the left margin with plain identifier keys, values that
    are plain or one-line single-quoted scalars, ``[]`` or ``{}``, and block sequences of such
    scalars (``key:`` then ``- item`` lines). What it returns is exactly what ``load`` returns for
    the same text (keys, order, values, types, lines); every other text, including everything
    ``load`` refuses, gives None so that the caller falls back on ``load``'s full parse.
    """
    if not text or _ODD_CHARACTER.search(text):
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    result = LineDict()
    result.lines = where = {}
    result.line = 1
    items: list[Any] | None = None  # the sequence being read, under the last ``key:``
    open_key = ""  # the last key if it had no value on its line: a sequence may follow
    number = 0
    known = _READ
    for line in lines:
        number += 1
        read = known.get(line)
        if read is None:
            read = _read_line(line)
            if read is None:
                return None
            if len(known) >= _READ_MAX:
                known.clear()
            known[line] = read
        kind, key, value = read
        if kind == _ITEM:
            if items is None:
                if not open_key:
                    return None
                items = result[open_key] = []
                open_key = ""
            items.append(value)
            continue
        if key in result:
            return None
        items = None
        open_key = key if kind == _KEY_OPEN else ""
        if kind == _KEY_LIST:
            value = []
        elif kind == _KEY_MAP:
            value = LineDict()
            value.lines = {}
            value.line = number
        result[key] = value
        where[key] = number
    return result if result else None


_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
