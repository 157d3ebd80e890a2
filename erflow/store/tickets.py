"""The store on disk: finding it, ticket ids, where each ticket file lives, reading and writing
them, and the store lock.

The only module that writes ticket files; the index (store.index) reads them too, to cache their
front-matter.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from erflow.core.errors import Conflict, NotFound
from erflow.core.model import Ticket
from erflow.store import paths as store_paths
from erflow.store.files import write_atomic
from erflow.store.ticketfile import TICKETS, Indexed, Parsed, Progress, parse_bytes, serialize

WORKFLOW = "workflow.yaml"
TEMPLATES = "templates"
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
ID_LENGTH = 6
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,7}-[0-9A-Z]{1,16}$")


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


def _stat(path: Path) -> tuple[int, int, int] | None:
    """mtime_ns, size and inode, as the index keys a row; None when the file cannot be stat'ed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def new_code() -> str:
    import secrets  # hashlib and hmac: only a command that creates a ticket pays for them

    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


class Store:
    """A store on disk: workflow.yaml, templates/ and tickets/ in a git work tree."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()  # the real root: every path read or written must lie in it
        root = self.root
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
        """The ticket's file; InvalidData when the way to it passes a symlink (nothing is read
        through one, whether it leads outside the store or not)."""
        ticket_id = normalize_id(raw_id)
        path = self.path_for(ticket_id)
        store_paths.plain(self.root, path)
        if path.is_file():
            return path
        for candidate in self.tickets_dir.rglob(f"{ticket_id}.md"):
            return store_paths.plain(self.root, candidate)
        raise NotFound(f"no ticket {ticket_id} in {self.tickets_dir}")

    def allocate_id(self, prefix: str) -> str:
        """A fresh id whose canonical file does not exist (one stat, not a walk of the tree)."""
        for _ in range(100):
            ticket_id = f"{prefix}-{new_code()}"
            if not self.path_for(ticket_id).exists():
                return ticket_id
        raise Conflict("could not find a free ticket id after 100 tries")  # pragma: no cover

    def paths(self) -> Iterator[Path]:
        """Every ticket file, and every symlink under tickets/ (reading one is refused, naming it)."""
        for rel, *_ in sorted(store_paths.walk(self.root)):
            yield self.root / rel

    def indexed(self, types: Sequence[str] = (), states: Sequence[str] = ()) -> Iterator[Indexed]:
        """Every ticket file's front-matter, oldest first (by ``created``, then id, then path), only
        of these types and states when given; a file that cannot be read is always yielded, with
        its problem. Read from the index (``.erflow/index.sqlite``) where a file's stat is
        unchanged, else parsed (and the index brought up to date); from the files alone if the
        index fails."""
        from erflow.store import index  # imported here: sqlite3 only for the commands that list

        return index.entries(self.root, tuple(types), tuple(states), self.progress)

    def indexed_json(
        self, types: Sequence[str] = (), states: Sequence[str] = ()
    ) -> tuple[list[str], Iterator[bytes]]:
        """What ``indexed`` gives, as ``list --json`` prints it: the problems of the files that
        cannot be read, and the JSON texts of the others (only of these types and states when
        given), oldest first, in runs joined by ``",\\n"``, UTF-8; no Python object per ticket."""
        from erflow.store import index

        return index.json_texts(self.root, tuple(types), tuple(states), self.progress)

    def metas_by_blob(self, blob_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The front-matter parsed from each of these git blobs (by id) that the index holds.
        Blobs it does not hold, or all of them when the index fails, are absent: parse those."""
        from erflow.store import index

        return index.metas_by_blob(self.root, blob_ids)

    def read_path(self, path: Path) -> Parsed:
        return self.read_file(path)[1]

    def read_file(self, path: Path, *, from_index: bool = False) -> tuple[bytes, Parsed]:
        """A ticket file read once: its bytes as they are on disk (what a change puts back should it
        fail) and what they parse to. ``from_index``: take the front-matter from the index when its
        row is current for the file (the same stat before and after the read, and in the row, as
        the index itself trusts a row), rather than parsing the YAML: a reading command then never
        imports PyYAML. Such a parse knows no line numbers."""
        rel = self.relative(path)
        before = _stat(path) if from_index else None
        store_paths.plain(self.root, path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{rel}: no such ticket file") from None
        meta = None
        cache = self.root / ".erflow"
        if before is not None and _stat(path) == before and cache.is_dir() and not cache.is_symlink():
            from erflow.store import index  # sqlite3: a few milliseconds, against PyYAML's dozen

            meta = index.current_meta(self.root, rel, before)
        return data, parse_bytes(data, rel, meta)

    def read(self, raw_id: str) -> Ticket:
        return self.read_path(self.find(raw_id)).ticket

    def write(self, ticket: Ticket, type_fields: list[str], path: Path | None = None) -> Path:
        target = store_paths.plain(self.root, path or self.path_for(ticket.id))
        write_atomic(target, serialize(ticket, type_fields))
        return target

    def lock(self, git_dir: Path, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Hold the store lock (in the git folder, never committed) for a whole
        read-validate-write-commit."""
        from erflow.store.lock import hold  # imported here: only writers pay for it

        return hold(self.root, git_dir, timeout)
