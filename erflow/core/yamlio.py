"""YAML in and out: the only place erflow parses or writes YAML.

Loading is strict and bounded: a size and nesting limit checked before the parser sees the text
(libyaml crashes the process on very deep nesting), no byte-order mark, no aliases (an anchor alone
is harmless), no duplicate keys, no custom tags, and only ``true``/``false`` are booleans (``yes``,
``no``, ``on``, ``off`` stay strings).
Unquoted dates stay strings too. Every mapping remembers the line of each of its keys so that
problems can be reported as ``file:line``.
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
    brackets = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        brackets += line.count("[") + line.count("{")
        bound = 2 * (len(line) - len(stripped)) + 2 + brackets
        bound += stripped.count("- ") + stripped.count(": ") + stripped.count("? ")
        if bound > MAX_DEPTH:
            _check_depth_exactly(text)
            return


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
    """Parse one YAML document strictly; raise YamlError with a line number."""
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
