"""A ticket's history, read from git: who did what, when, and what changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow.app.context import Context
from erflow.core import engine
from erflow.core.errors import ErflowError, NotFound
from erflow.store import ticketfile
from erflow.store.commits import LogEntry, file_log


@dataclass
class HistoryEntry:
    commit: str
    date: str
    actor: str
    action: str
    transition: str | None
    from_state: str | None
    to_state: str | None
    changes: dict[str, list[Any]]
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "date": self.date,
            "actor": self.actor,
            "action": self.action,
            "transition": self.transition,
            "from": self.from_state,
            "to": self.to_state,
            "changes": self.changes,
        }


def history(ctx: Context, raw_id: str) -> list[HistoryEntry]:
    """The ticket's life from git, oldest first; edits made outside erflow are marked as such."""
    path = ctx.store.find(raw_id)
    rel = ctx.store.relative(path)
    log = _recent_log(ctx, path, rel)
    if log is None or not log or log[0].trailer("action", None) != "new":
        log = file_log(ctx.git, rel)  # the whole history, back to the first commit
    if log and log[0].trailer("action", None) != "new":
        log = file_log(ctx.git, rel, follow=True)  # moved by hand: follow it back to its creation
    if not log:
        raise NotFound(f"{rel} has no history in git (never committed)")
    blobs = ctx.git.blobs([e.blob or "" for e in log])
    entries: list[HistoryEntry] = []
    previous: dict[str, Any] = {}
    for item in log:
        data = blobs.get(item.blob or "")
        current: dict[str, Any] = {}
        if data is not None:
            try:
                current = ticketfile.parse(data.decode("utf-8"), Path(rel)).ticket.meta
            except (ErflowError, UnicodeDecodeError):
                current = {}
        changes = engine.diff(previous, current)
        ticket_id = str(current.get("id") or previous.get("id") or "")
        primary = item.trailer("ticket", ticket_id) == ticket_id
        action = item.trailer("action", "merge" if item.merge else "edit outside erflow")
        if ticket_id in item.trailers.get("created", []):
            action = "new"  # made by another ticket's transition, in the same commit
        entries.append(
            HistoryEntry(
                commit=item.commit,
                date=item.date,
                actor=item.trailer("actor", item.author_email),
                action=action,
                # The trailers describe the commit's first ticket; the others' moves come from their files.
                transition=item.trailer("transition", None) if primary else None,
                from_state=item.trailer("from", previous.get("state")) if primary else previous.get("state"),
                to_state=item.trailer("to", current.get("state")) if primary else current.get("state"),
                changes=changes,
                message=item.message.splitlines()[0] if item.message else "",
            )
        )
        previous = current
    return entries


HISTORY_SLACK = dt.timedelta(days=30)  # how far before its `created` a ticket's history is looked for


def _recent_log(ctx: Context, path: Path, rel: str) -> list[LogEntry] | None:
    """The ticket's log from ``HISTORY_SLACK`` before its ``created`` on, or None when that date is
    unknown. git then walks only the commits made since, not the whole history (at 500,000 commits
    that halves the time and memory for a ticket created half-way). The caller trusts it only when it
    begins with the ticket's creation; otherwise (a clock that was wrong, a file moved by hand) it
    walks everything."""
    try:
        created = ctx.store.read_path(path).ticket.meta.get("created")
        since = dt.datetime.fromisoformat(str(created)) - HISTORY_SLACK
    except (ErflowError, OSError, UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return None
    if since.tzinfo is None:
        return None
    return file_log(ctx.git, rel, since=since.isoformat(timespec="seconds"))
