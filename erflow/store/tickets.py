"""Ticket files in and out: finding the store, ids, parsing, atomic writes and the store lock.

The only module that reads or writes ticket files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow.core import model, yamlio
from erflow.core.errors import Conflict, ErflowError, InvalidData, NotFound, located
from erflow.core.model import OPTIONAL_SECTIONS, SECTIONS, Ticket

WORKFLOW = "workflow.yaml"
TICKETS = "tickets"
TEMPLATES = "templates"
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
ID_LENGTH = 6
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,7}-[0-9A-Z]{1,16}$")
MAX_TICKET_BYTES = 1024 * 1024


def find_root(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path:
    """``--store``, else ERFLOW_STORE, else the nearest folder upward holding workflow.yaml."""
    for given, source in ((explicit, "--store"), (env.get("ERFLOW_STORE"), "ERFLOW_STORE")):
        if given:
            root = Path(given).expanduser().resolve()
            if not (root / WORKFLOW).is_file():
                raise NotFound(f"{source} {given}: no {WORKFLOW} there", hint="erflow init DIR makes a store")
            return root
    here = cwd.resolve()
    for folder in (here, *here.parents):
        if (folder / WORKFLOW).is_file():
            return folder
    raise NotFound(
        f"no store: no {WORKFLOW} in {here} or any folder above it",
        hint="pass --store DIR, set ERFLOW_STORE, or run erflow init",
    )


def normalize_id(raw: str) -> str:
    """Upper-case a typed id and refuse anything that is not PREFIX-CODE (no paths, no NUL)."""
    ticket_id = raw.strip().upper()
    if not ID_PATTERN.match(ticket_id):
        # One short line, however long the input.
        shown = repr(raw) if len(raw) <= 40 else f"{raw[:40]!r}... ({len(raw)} characters)"
        raise NotFound(f"{shown} is not a ticket id", hint="ids look like ER-4K7M2Q")
    return ticket_id


def new_code() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


@dataclass(frozen=True)
class Parsed:
    ticket: Ticket
    lines: Mapping[str, int]  # front-matter key -> line in the file


def parse(text: str, path: Path) -> Parsed:
    """Parse a ticket file; raise InvalidData naming the file and line."""
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
    try:
        meta = yamlio.load(text[4 : end + 1])
    except yamlio.YamlError as exc:
        raise InvalidData(located(path, exc.line + 1 if exc.line else None, exc.message)) from None
    if not isinstance(meta, yamlio.LineDict):
        raise InvalidData(located(path, 2, "the front-matter must be a mapping of key: value"))
    body = text[end + 5 :]
    description, sections = _split_body(body)
    lines = {k: v + 1 for k, v in meta.lines.items()}
    return Parsed(Ticket(dict(meta), description, sections), lines)


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
    return "---\n" + yamlio.dump(meta) + "---\n" + ticket.body()


def write_atomic(path: Path, text: str | bytes, *, durable: bool = True) -> None:
    """Write via a temp file ``.<name>.*.tmp`` in the same folder, then rename over the target.

    Text is written as UTF-8 with its line ends as they are; bytes exactly as given. ``durable``
    (ticket files, documents) fsyncs before the rename and is where the ``mid-write`` failpoint
    sits; erflow's own bookkeeping (journal, caches) skips both."""
    from erflow.store import faults

    data = text.encode("utf-8") if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if durable:
            faults.point("mid-write")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def parse_bytes(data: bytes, rel: str) -> Parsed:
    """A ticket file's bytes (from disk or a past commit) parsed and checked: size, NUL, UTF-8 and
    an id that matches the file name; raise InvalidData naming ``rel`` and the line."""
    if len(data) > MAX_TICKET_BYTES:
        raise InvalidData(located(rel, None, f"{len(data)} bytes, over the {MAX_TICKET_BYTES} limit"))
    if b"\x00" in data:
        raise InvalidData(located(rel, None, "contains a NUL byte"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidData(located(rel, line, "not valid UTF-8")) from None
    parsed = parse(text, Path(rel))
    expected = Path(rel).stem
    if parsed.ticket.id != expected:
        line = parsed.lines.get("id", 2)
        raise InvalidData(
            located(rel, line, f"id {parsed.ticket.id!r} does not match the file name {expected!r}")
        )
    return parsed


class Store:
    """A store on disk: workflow.yaml, templates/ and tickets/ in a git work tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tickets_dir = root / TICKETS
        self.templates_dir = root / TEMPLATES
        self.workflow_path = root / WORKFLOW
        self.progress: Progress | None = None  # set by the CLI when it can show a progress bar

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def path_for(self, ticket_id: str) -> Path:
        """Where a new ticket goes: sharded by prefix and the code's first two characters."""
        prefix, code = ticket_id.split("-", 1)
        return self.tickets_dir / prefix / code[:2] / f"{ticket_id}.md"

    def find(self, raw_id: str) -> Path:
        ticket_id = normalize_id(raw_id)
        path = self.path_for(ticket_id)
        if path.is_file():
            return path
        for candidate in self.tickets_dir.rglob(f"{ticket_id}.md"):
            return candidate
        raise NotFound(f"no ticket {ticket_id} in {self.tickets_dir}")

    def allocate_id(self, prefix: str) -> str:
        """A fresh id whose canonical file does not exist (one stat, not a walk of the tree)."""
        for _ in range(100):
            ticket_id = f"{prefix}-{new_code()}"
            if not self.path_for(ticket_id).exists():
                return ticket_id
        raise Conflict("could not find a free ticket id after 100 tries")  # pragma: no cover

    def paths(self) -> Iterator[Path]:
        if self.tickets_dir.is_dir():
            yield from sorted(self.tickets_dir.rglob("*.md"))

    def indexed(self, types: Sequence[str] = (), states: Sequence[str] = ()) -> Iterator[Indexed]:
        """Every ticket file's front-matter, oldest first (by ``created``, then id, then path), only
        of these types and states when given; a file that cannot be read is always yielded, with
        its problem. Read from the index (``.erflow/index.sqlite``) where a file's stat is
        unchanged, else parsed (and the index brought up to date); from the files alone if the
        index fails."""
        from erflow.store import index

        return index.entries(self, tuple(types), tuple(states))

    def metas_by_blob(self, blob_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The front-matter parsed from each of these git blobs (by id) that the index holds.
        Blobs it does not hold, or all of them when the index fails, are absent: parse those."""
        from erflow.store import index

        return index.metas_by_blob(self, blob_ids)

    def load_entry(self, rel: str) -> tuple[str, dict[str, Any] | None, str | None] | None:
        """One ticket file (``rel``: posix, from the root) as the index keeps it: its git blob id
        and its front-matter, or why it cannot be read. None when it has vanished meanwhile."""
        path = self.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return "", None, located(rel, None, f"cannot be read: {exc.strerror or exc}")
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id
        try:
            return blob, self._parse_bytes(data, path).ticket.meta, None
        except ErflowError as exc:
            return blob, None, exc.message

    def read_path(self, path: Path) -> Parsed:
        return self.read_file(path)[1]

    def read_file(self, path: Path) -> tuple[bytes, Parsed]:
        """A ticket file read once: its bytes as they are on disk (what a change puts back should it
        fail) and what they parse to."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{self.relative(path)}: no such ticket file") from None
        return data, self._parse_bytes(data, path)

    def _parse_bytes(self, data: bytes, path: Path) -> Parsed:
        return parse_bytes(data, self.relative(path))

    def read(self, raw_id: str) -> Ticket:
        return self.read_path(self.find(raw_id)).ticket

    def write(self, ticket: Ticket, type_fields: list[str], path: Path | None = None) -> Path:
        target = path or self.path_for(ticket.id)
        write_atomic(target, serialize(ticket, type_fields))
        return target

    @contextlib.contextmanager
    def lock(self, git_dir: Path, timeout: float | None = None) -> Iterator[None]:
        """Hold the store lock (in the git folder, never committed) for a whole
        read-validate-write-commit."""
        from filelock import FileLock, Timeout  # imported here: only writers pay for it

        if timeout is None:
            timeout = float(os.environ.get("ERFLOW_LOCK_TIMEOUT", "10"))
        lock = FileLock(str(git_dir / "erflow.lock"), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise Conflict(
                f"the store {self.root} is locked by another erflow process",
                hint="retry; nothing was changed",
            ) from None
        try:
            from erflow.store import journal

            # A git process left running by a killed erflow holds index.lock until it ends: wait.
            journal.await_git(git_dir, timeout)
            index_lock = git_dir / "index.lock"
            if index_lock.exists():
                raise Conflict(
                    f"{index_lock} exists: another git process is running, or one was killed",
                    hint="if no git process is running, remove that file and retry; nothing was changed",
                )
            yield
        finally:
            lock.release()
