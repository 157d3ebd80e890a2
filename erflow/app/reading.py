"""A ticket file read once per command: what a view shows, and what a change that follows the view
(the advance menu) edits without reading the file again while it is unchanged."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from erflow.app.context import Context, type_of

if TYPE_CHECKING:
    from erflow.core.model import Ticket
    from erflow.core.workflow import TicketType

Stamp = tuple[int, int, int, int]  # inode, size, modified and changed (ns): what git's index compares

# A file modified this recently is not trusted to be unchanged by its stamp: a second write within
# the file system's clock tick (up to 2 s on some) could leave the same times ("racy git").
RACY_NS = 3_000_000_000


class TicketFile:
    """A ticket file as one read found it: its path, its bytes (what a failed change puts back), the
    ticket they parse to with its type, and the file's stamp taken just before the read.

    A change that reuses it takes the ticket over: it edits ``ticket`` in place."""

    __slots__ = ("data", "path", "rel", "stamp", "ticket", "type")

    def __init__(
        self, path: Path, rel: str, data: bytes, ticket: Ticket, ticket_type: TicketType, stamp: Stamp | None
    ) -> None:
        self.path = path
        self.rel = rel
        self.data = data
        self.ticket = ticket
        self.type = ticket_type
        self.stamp = stamp

    def unchanged(self) -> bool:
        """Whether the file is still the one read: same inode, size and times. An erflow write (a new
        file renamed over the old) or an edit changes them; a file without a stamp (unreadable, or
        modified within ``RACY_NS`` of the read) is never taken as unchanged."""
        return self.stamp is not None and _stamp(self.path) == self.stamp


def read_ticket(ctx: Context, path: Path, *, from_index: bool = False) -> TicketFile:
    """Read the ticket file at ``path`` (found by ``ctx.store.find``) once, through the store;
    ``from_index``: its front-matter from the index where it holds these very bytes (a view)."""
    stamp = _stamp(path)  # before the read: a file replaced meanwhile then shows a stamp of its own
    data, parsed = ctx.store.read_file(path, from_index=from_index)
    rel = ctx.store.relative(path)
    ticket = parsed.ticket
    return TicketFile(path, rel, data, ticket, type_of(ctx.workflow, ticket, rel), stamp)


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_mtime_ns > time.time_ns() - RACY_NS:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
