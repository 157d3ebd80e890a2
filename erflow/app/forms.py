"""Form submissions for ``erflow new --from``: a JSON or YAML mapping from a file or stdin.

A form is hostile input: it is read bounded (size first, then nesting, before any parser sees it),
JSON is held to what strict YAML allows (no duplicate keys, no control characters), and every
problem is one InvalidData naming the form and, where known, the line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

from erflow.core import yamlio
from erflow.core.errors import InvalidData, NotFound, UsageError

MAX_FORM_BYTES = 1024 * 1024
# What YAML's reader accepts: tab, line breaks and printable Unicode; a JSON form may hold no more.
_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read(source: str, stdin: IO[str]) -> dict[str, Any]:
    """Read a form: ``-`` is stdin; JSON when it parses as JSON, else strict YAML."""
    name = "<stdin>" if source == "-" else source
    text = _decode(_read_bytes(source, stdin), name)
    form: Any
    if text.lstrip().startswith(("{", "[")):
        form = _load_json(text, name)
    else:
        try:
            form = yamlio.load(text)
        except yamlio.YamlError as exc:
            where = f"{name}:{exc.line}" if exc.line else name
            raise InvalidData(f"{where}: {exc.message}") from None
    if not isinstance(form, dict):
        raise InvalidData(f"{name}: a form must be a mapping of field: value")
    for key, value in form.items():
        _check_printable(name, str(key), key)
        _check_printable(name, str(key), value)
    return dict(form)


def _read_bytes(source: str, stdin: IO[str]) -> bytes | str:
    """At most one byte more than the limit, so that an endless or huge source is never read whole."""
    if source == "-":
        buffer = getattr(stdin, "buffer", None)
        if buffer is None:  # a text-only stream: its decoding is its own
            return stdin.read(MAX_FORM_BYTES + 1)
        data: bytes = buffer.read(MAX_FORM_BYTES + 1)
        return data
    try:
        with Path(source).open("rb") as handle:
            return handle.read(MAX_FORM_BYTES + 1)
    except FileNotFoundError:
        raise NotFound(f"--from {source}: no such file") from None
    except IsADirectoryError:
        raise NotFound(f"--from {source}: is a folder, not a file") from None
    except OSError as exc:
        raise UsageError(f"--from {source}: cannot read it ({exc.strerror or type(exc).__name__})") from None


def _decode(data: bytes | str, name: str) -> str:
    if len(data) > MAX_FORM_BYTES:
        raise InvalidData(f"{name}: larger than {MAX_FORM_BYTES} bytes")
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidData(f"{name}:{line}: not valid UTF-8 (byte {exc.start})") from None


def _load_json(text: str, name: str) -> Any:
    _check_json_depth(text, name)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InvalidData(f"{name}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise InvalidData(f"{name}: duplicate key {exc.key!r}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long to convert
        raise InvalidData(f"{name}: malformed JSON: {exc}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _check_json_depth(text: str, name: str) -> None:
    """Refuse JSON nested deeper than YAML may be, before the (recursive) JSON decoder sees it."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > yamlio.MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                raise InvalidData(f"{name}:{line}: nesting deeper than {yamlio.MAX_DEPTH} levels")
        elif token in ("]", "}"):
            depth -= 1


def _check_printable(name: str, key: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _check_printable(name, key, item)
    elif isinstance(value, str):
        bad = _UNPRINTABLE.search(value)
        if bad:
            code = ord(bad.group())
            raise InvalidData(f"{name}: field {key!r} contains the control character U+{code:04X}")
