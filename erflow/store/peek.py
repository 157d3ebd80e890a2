"""Quick, read-only looks into a store, for shell completion: ticket ids from the names of the files
under tickets/, a ticket's type and state from the index while its row matches the file, titles
from the index, the workflow from its cache.

Nothing here writes: not the index (opened immutable, so SQLite makes no -wal or -shm file beside
it, and no refresh), not the workflow cache. Any trouble gives less, never an error: a TAB never
fails and never prints.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from erflow.core.workflow import Workflow

_ID = re.compile(r"[A-Z][A-Z0-9]{0,7}-[0-9A-Z]{1,16}")
_SHARD = re.compile(r"([A-Z][A-Z0-9]{0,7})-([0-9A-Z]{2})")


def ticket_ids(root: Path, prefix: str) -> list[str]:
    """The ids of the ticket files whose id starts with ``prefix`` (any case), sorted. A prefix
    that names a shard (``ER-4K``) reads only that folder (tickets/ER/4K/) when it holds any."""
    from erflow.store.ticketfile import TICKETS

    wanted = prefix.strip().upper()
    shard = _SHARD.match(wanted)
    if shard is not None:
        found = _names(os.path.join(root, TICKETS, *shard.groups()), wanted, deep=False)
        if found:
            return sorted(found)
    return sorted(_names(os.path.join(root, TICKETS), wanted, deep=True))


def _names(top: str, prefix: str, *, deep: bool) -> set[str]:
    found: set[str] = set()
    pending = [top]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                name = entry.name
                if name.endswith(".md"):
                    stem = name[:-3]
                    if stem.startswith(prefix) and _ID.fullmatch(stem):
                        found.add(stem)
                elif deep and entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return found


def titles(root: Path, ids: Iterable[str]) -> dict[str, str]:
    """The title the index holds for each of these ids (those it holds; none when it cannot be read)."""
    from erflow.store import index_peek  # sqlite3: only for what the index holds

    return index_peek.titles(root, ids)


def type_and_state(root: Path, ticket_id: str) -> tuple[str, str] | None:
    """The ticket's type and state: from its index row while the file's stat is the row's, else
    from the file's front-matter; None when there is no such ticket or it cannot be read."""
    wanted = ticket_id.strip().upper()
    if not _ID.fullmatch(wanted):
        return None
    from erflow.store import index_peek

    head = index_peek.head_of(root, wanted)
    if head is not None:
        with contextlib.suppress(OSError):
            stat = os.stat(os.path.join(root, head[0]), follow_symlinks=False)
            if (stat.st_mtime_ns, stat.st_size, stat.st_ino) == head[1]:
                return head[2], head[3]
    return _from_file(root, wanted)


def _from_file(root: Path, ticket_id: str) -> tuple[str, str] | None:
    from erflow.core.errors import ErflowError
    from erflow.store.ticketfile import parse_bytes
    from erflow.store.tickets import Store

    store = Store(root)
    try:
        path = store.find(ticket_id)
        with open(path, "rb") as handle:  # find() refused any symlink on the way
            meta = parse_bytes(handle.read(), store.relative(path)).ticket.meta
    except (ErflowError, OSError):
        return None
    kind, state = meta.get("type"), meta.get("state")
    return (kind, state) if isinstance(kind, str) and isinstance(state, str) else None


def workflow(root: Path) -> Workflow | None:
    """The store's workflow: from its cache when current, else parsed (the cache is left as it
    is); None when it cannot be read or has problems."""
    from erflow.store import workflow_cache
    from erflow.store.tickets import WORKFLOW

    path = root / WORKFLOW
    cached = workflow_cache.read(path)
    if cached is not None:
        return cached
    try:
        from erflow.core import yamlio
        from erflow.core.loader import load_bytes
        from erflow.store.paths import inside

        inside(root, WORKFLOW)
        with path.open("rb") as handle:
            data = handle.read(yamlio.MAX_BYTES + 1)
        parsed, problems = load_bytes(data, path)
    except Exception:  # noqa: BLE001 - a TAB never fails: whatever is wrong, offer less
        return None
    return None if problems else parsed
