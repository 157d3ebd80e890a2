"""The ticket file: its format (front-matter and body) parsed and written, its bytes checked, and
what the index keeps of it.

Pure text in and out: reading the file from disk is the caller's (``Store``, the index).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from erflow.core import model
from erflow.core.errors import InvalidData, located
from erflow.core.model import OPTIONAL_SECTIONS, SECTIONS, Ticket

if TYPE_CHECKING:
    from erflow.core import yamlio

TICKETS = "tickets"  # the folder of the ticket files, under the store's root
MAX_TICKET_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Parsed:
    ticket: Ticket
    lines: Mapping[str, int]  # front-matter key -> line in the file


def parse(text: str, path: Path | str, meta: dict[str, Any] | None = None) -> Parsed:
    """Parse a ticket file; raise InvalidData naming the file and line. ``meta``: the front-matter
    as the index holds it for exactly these bytes (see Store.read_file), so PyYAML is not needed;
    the parse then knows no key's line."""
    text, end = _opened(text, path)
    if meta is not None:
        return Parsed(Ticket(dict(meta), *_split_body(text[end + 5 :])), {})
    loaded = _front_matter(text, end, path)
    description, sections = _split_body(text[end + 5 :])
    lines = {k: v + 1 for k, v in loaded.lines.items()}
    return Parsed(Ticket(dict(loaded), description, sections), lines)


def _opened(text: str, path: object) -> tuple[str, int]:
    """The text with CRLF as LF, and where its front-matter's closing line starts (the newline
    before it); raise InvalidData when there is no front-matter."""
    if text.startswith("\ufeff"):
        raise InvalidData(located(path, 1, "starts with a byte-order mark; save it as UTF-8 without BOM"))
    text = text.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise InvalidData(located(path, 1, "expected '---' to open the front-matter on the first line"))
    end = text.find("\n---\n", 3)
    if end < 0:
        if text.endswith("\n---"):
            end = len(text) - 4
        else:
            raise InvalidData(located(path, None, "the front-matter has no closing '---' line"))
    return text, end


def _front_matter(text: str, end: int, path: object) -> yamlio.LineDict:
    """The front-matter of an opened text (lines counted from its first key, 0-based)."""
    from erflow.core import yamlio  # PyYAML: imported only by a command that parses front-matter

    try:
        meta = yamlio.load(text[4 : end + 1])
    except yamlio.YamlError as exc:
        raise InvalidData(located(path, exc.line + 1 if exc.line else None, exc.message)) from None
    if not isinstance(meta, yamlio.LineDict):
        raise InvalidData(located(path, 2, "the front-matter must be a mapping of key: value"))
    return meta


def _split_body(body: str) -> tuple[str, dict[str, list[str]]]:
    """Split a body at its section headings: anchored ones from the end (the request text before
    them may hold anything), optional ones inside the anchored section they follow."""
    sections: dict[str, list[str]] = {name: [] for name in SECTIONS if name not in OPTIONAL_SECTIONS}
    rest = "\n" + body
    following: list[str] = []  # optional sections met since the last anchored one, in file order
    for name in reversed(SECTIONS):
        if name in OPTIONAL_SECTIONS:
            following.insert(0, name)
            continue
        heading = f"\n## {name}\n"
        at = rest.rfind(heading)
        if at < 0:
            following = []
            continue
        tail = "\n" + rest[at + len(heading) :]
        for optional in reversed(following):
            inner = tail.rfind(f"\n## {optional}\n")
            if inner >= 0:
                sections[optional] = _entries(tail[inner + len(optional) + 5 :])
                tail = tail[:inner]
        sections[name] = _entries(tail)
        following = []
        rest = rest[:at]
    return rest[1:].strip("\n"), sections


def _entries(text: str) -> list[str]:
    entries: list[str] = []
    for line in text.strip("\n").splitlines():
        if line.startswith("- ") or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return [e.rstrip() for e in entries if e.strip()]


def serialize(ticket: Ticket, type_fields: list[str]) -> str:
    meta = model.ordered(ticket.meta, type_fields)
    from erflow.core import yamlio

    return "---\n" + yamlio.dump(meta) + "---\n" + ticket.body()


HEAD = ("id", "type", "state", "owner", "created")  # the fields the index keeps in columns


class Indexed:
    """One ticket file as the index knows it: its front-matter, or why it cannot be read.

    ``raw`` is the front-matter as JSON text, exactly ``json.dumps(meta, ensure_ascii=False,
    default=str)``, and ``meta`` is decoded from it on first use: a caller that only copies the text
    out (``list --json``) never builds a dict. ``head`` is the few fields the index keeps in columns
    (id, type, state, owner, created), for a caller that needs no more. ``path`` too is made on
    first use."""

    __slots__ = ("_head", "_meta", "_where", "problem", "raw")

    def __init__(
        self,
        path: str | Path,
        meta: dict[str, Any] | None,
        problem: str | None,
        raw: str | None,
        head: tuple[str, str | None, str | None, str | None, str] | None = None,
    ) -> None:
        self._where = str(path)
        self._meta = meta
        self._head = head
        self.problem = problem
        self.raw = raw

    @property
    def path(self) -> Path:
        return Path(self._where)

    @property
    def meta(self) -> dict[str, Any] | None:
        if self._meta is None and self.raw is not None:
            self._meta = json.loads(self.raw)
        return self._meta

    @property
    def head(self) -> dict[str, Any] | None:
        if self._head is None:
            meta = self.meta
            return None if meta is None else {k: meta.get(k) for k in HEAD}
        return dict(zip(HEAD, self._head, strict=True))

    def __repr__(self) -> str:
        return f"Indexed({self._where!r}, problem={self.problem!r})"


# Called as (files parsed so far, files to parse) while the index parses many files at once.
Progress = Callable[[int, int], None]


def parse_bytes(data: bytes, rel: str, meta: dict[str, Any] | None = None) -> Parsed:
    """A ticket file's bytes (from disk or a past commit) parsed and checked: size, NUL, UTF-8 and
    an id that matches the file name; raise InvalidData naming ``rel`` and the line."""
    path = Path(rel)
    parsed = parse(_decoded(data, rel), path, meta)
    _same_id(parsed.ticket.id, path.stem, rel, parsed.lines.get("id", 2))
    return parsed


def front_matter_bytes(data: bytes, rel: str) -> dict[str, Any]:
    """What ``parse_bytes(data, rel).ticket.meta`` is, with the same checks and errors, without
    splitting the body (the index keeps the front-matter alone)."""
    text, end = _opened(_decoded(data, rel), rel)
    meta = _front_matter(text, end, rel)
    _same_id(str(meta.get("id", "")), id_of(rel), rel, meta.lines.get("id", 1) + 1)
    return dict(meta)


def _decoded(data: bytes, rel: str) -> str:
    if len(data) > MAX_TICKET_BYTES:
        raise InvalidData(located(rel, None, f"{len(data)} bytes, over the {MAX_TICKET_BYTES} limit"))
    if b"\x00" in data:
        raise InvalidData(located(rel, None, "contains a NUL byte"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidData(located(rel, line, "not valid UTF-8")) from None


def _same_id(found: str, expected: str, rel: str, line: int) -> None:
    if found != expected:
        raise InvalidData(located(rel, line, f"id {found!r} does not match the file name {expected!r}"))


def id_of(path: str) -> str:
    """The ticket id a file's path names (its name without the suffix), as ``PurePosixPath.stem``
    says, without making a path of it (the audit asks twice a commit, the index once a file)."""
    name = path.rpartition("/")[2]
    if name in ("", ".", ".."):
        return PurePosixPath(path).stem
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
