"""The tickets a report reads: the store as it is, or as it was at a past date (from git).

A snapshot gives front-matter (fast: from the index for the work tree) and, for the reports that
need the body (logged time), whole tickets. Tickets that cannot be read are named in ``problems``,
never fatal. For a past date, the workflow is the one committed then, and "now" is that date.

Reports read through a ``Source``: the store, its git, its workflow and the clock. The app's
Context is one (structurally: reports do not import the layer above them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from erflow.core.errors import ErflowError, InvalidData, NotFound
from erflow.core.loader import load_bytes
from erflow.core.model import Ticket
from erflow.core.workflow import Workflow
from erflow.store import git as history
from erflow.store import ticketfile
from erflow.store import tickets as store
from erflow.store.commits import commit_at
from erflow.store.git import Git
from erflow.store.tickets import Store

BATCH = 2000  # blobs read from git at once: bounds memory at 100,000 tickets


class Source(Protocol):
    """What reports read: the store, its history, the workflow in force and the clock."""

    @property
    def store(self) -> Store: ...

    @property
    def git(self) -> Git: ...

    @property
    def workflow(self) -> Workflow: ...

    @property
    def now(self) -> dt.datetime: ...


@dataclass
class Snapshot:
    workflow: Workflow
    now: dt.datetime
    git: Git  # the store's history (the funnel reads it up to ``commit``)
    commit: str | None  # the commit read for a past date; None: the work tree
    problems: list[str] = field(default_factory=list)
    _metas: Callable[[Snapshot], Iterator[dict[str, Any]]] | None = None
    _tickets: Callable[[Snapshot], Iterator[Ticket]] | None = None
    _heads: Callable[[Snapshot], Iterator[dict[str, Any]]] | None = None

    def metas(self) -> Iterator[dict[str, Any]]:
        assert self._metas is not None
        return self._metas(self)

    def tickets(self) -> Iterator[Ticket]:
        assert self._tickets is not None
        return self._tickets(self)

    def heads(self) -> Iterator[dict[str, Any]]:
        """Each readable ticket's id, type, state, owner and created (for the work tree, without
        decoding the rest of its front-matter)."""
        return self._heads(self) if self._heads is not None else self.metas()


def open_snapshot(ctx: Source, as_of: dt.datetime | None) -> Snapshot:
    return current(ctx) if as_of is None else past(ctx, as_of)


def current(ctx: Source) -> Snapshot:
    def readable(snap: Snapshot, part: str) -> Iterator[dict[str, Any]]:
        """``part`` ("meta" or "head") of every ticket the index can read; the others are named."""
        for item in ctx.store.indexed():
            value = getattr(item, part)
            if value is None:
                snap.problems.append(str(item.problem))
            else:
                yield value

    def metas(snap: Snapshot) -> Iterator[dict[str, Any]]:
        return readable(snap, "meta")

    def heads(snap: Snapshot) -> Iterator[dict[str, Any]]:
        return readable(snap, "head")

    def tickets(snap: Snapshot) -> Iterator[Ticket]:
        for path in ctx.store.paths():
            try:
                yield ctx.store.read_path(path).ticket
            except ErflowError as exc:
                snap.problems.append(exc.message)

    return Snapshot(ctx.workflow, ctx.now, ctx.git, None, _metas=metas, _tickets=tickets, _heads=heads)


def past(ctx: Source, when: dt.datetime) -> Snapshot:
    """The store as its last commit at or before ``when`` left it."""
    git = ctx.git
    commit = commit_at(git, when)
    if commit is None:
        raise NotFound(
            f"--as-of {when.isoformat()}: the store has no commit at or before then",
            hint="erflow history shows when tickets were made",
        )
    short = commit[:10]
    data = git.blobs([f"{commit}:{store.WORKFLOW}"]).get(f"{commit}:{store.WORKFLOW}")
    if data is None:
        raise NotFound(f"--as-of {when.isoformat()}: commit {short} has no {store.WORKFLOW}")
    flow, problems = load_bytes(data, Path(f"{short}:{store.WORKFLOW}"))
    if flow is None or problems:
        raise InvalidData(problems[0] if problems else f"{short}:{store.WORKFLOW}: cannot be read")
    files = [(p, b) for p, b in history.tree_files(git, commit, ticketfile.TICKETS) if p.endswith(".md")]

    def parsed(snap: Snapshot, wanted: list[tuple[str, str]]) -> Iterator[ticketfile.Parsed]:
        with history.ObjectReader(git) as reader:
            for start in range(0, len(wanted), BATCH):
                batch = wanted[start : start + BATCH]
                blobs = reader.blobs(blob for _, blob in batch)
                for path, blob in batch:
                    try:
                        yield ticketfile.parse_bytes(blobs[blob], f"{short}:{path}")
                    except ErflowError as exc:
                        snap.problems.append(exc.message)

    def metas(snap: Snapshot) -> Iterator[dict[str, Any]]:
        """Front-matter of each ticket then: from the index for a blob it holds (a ticket unchanged
        since, or parsed before), else parsed from git."""
        known = ctx.store.metas_by_blob(blob for _, blob in files)
        unknown = [(path, blob) for path, blob in files if blob not in known]
        yield from (known[blob] for _, blob in files if blob in known)
        yield from (p.ticket.meta for p in parsed(snap, unknown))

    def tickets(snap: Snapshot) -> Iterator[Ticket]:
        return (p.ticket for p in parsed(snap, files))

    return Snapshot(flow, when, git, commit, _metas=metas, _tickets=tickets)
