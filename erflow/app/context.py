"""The context every use case runs in: the store, who is acting, and when.

Imported by every command, so it imports little: the workflow, git and templates are loaded (and
their modules imported) on first use.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from erflow.core.errors import InvalidData, UsageError
from erflow.store import tickets as store
from erflow.store.tickets import Store

if TYPE_CHECKING:
    from erflow.core.model import Ticket
    from erflow.core.workflow import TicketType, Workflow
    from erflow.mail.templates import TemplateSet
    from erflow.store.git import Git


class Context:
    """The store, who is acting (an email, lower-cased; empty when unknown), the clock and the
    environment. (A plain class: a dataclass costs a command's start-up more than it saves here.)"""

    def __init__(self, store: Store, actor: str, now: dt.datetime, env: Mapping[str, str]) -> None:
        self.store = store
        self.actor = actor
        self.now = now
        self.env = env

    def __repr__(self) -> str:
        return f"Context({self.store.root}, actor={self.actor!r}, now={self.now.isoformat()})"

    @functools.cached_property
    def workflow(self) -> Workflow:
        from erflow.store import workflow_file

        return workflow_file.load(self.store.workflow_path)

    @functools.cached_property
    def git(self) -> Git:
        from erflow.store.git import Git

        return Git(self.store.root)

    @functools.cached_property
    def templates(self) -> TemplateSet:
        from erflow.mail.templates import TemplateSet

        return TemplateSet(self.store.templates_dir, self.store.root)

    def author(self) -> tuple[str, str]:
        person = self.workflow.people.get(self.actor.lower())
        return (person.name if person else self.actor, self.actor)


def open_context(store_option: str | None, env: Mapping[str, str], cwd: Path) -> Context:
    root = store.find_root(store_option, env, cwd)
    return Context(store.Store(root), resolve_actor(env, root), resolve_now(env), env)


def resolve_actor(env: Mapping[str, str], root: Path) -> str:
    """ERFLOW_USER if set, else git's user.email; empty when neither is known."""
    actor = env.get("ERFLOW_USER")
    if not actor:
        from erflow.store.git import Git

        actor = Git(root).config("user.email") or ""
    if "\n" in actor or "\r" in actor:
        raise UsageError("ERFLOW_USER must be one line")
    return actor.strip().lower()


def resolve_now(env: Mapping[str, str]) -> dt.datetime:
    """The clock, pinned by ERFLOW_NOW (ISO 8601 with offset) for tests and replays."""
    pinned = env.get("ERFLOW_NOW")
    if pinned:
        try:
            now = dt.datetime.fromisoformat(pinned)
        except ValueError:
            raise UsageError(f"ERFLOW_NOW={pinned!r} is not an ISO 8601 date and time") from None
        if now.tzinfo is None:
            raise UsageError(f"ERFLOW_NOW={pinned!r} needs a UTC offset, e.g. +00:00")
        return now.replace(microsecond=0)
    return dt.datetime.now().astimezone().replace(microsecond=0)


def mid_operation(ctx: Context) -> str | None:
    """What git is in the middle of in the store's work tree (a rebase, a merge, a detached HEAD...),
    as one line, or None: for a reading command to tell (a writing one is refused). Never raises:
    a store outside git is in no such state."""
    from erflow.core.errors import ErflowError
    from erflow.store.gitstate import in_progress

    try:
        operation = in_progress(ctx.git.git_dir(), ctx.git)
    except (ErflowError, OSError):
        return None
    return None if operation is None else str(operation)


def require_actor(ctx: Context) -> str:
    if not ctx.actor:
        raise UsageError("who is acting? set ERFLOW_USER or git config user.email")
    return ctx.actor


def type_of(wf: Workflow, ticket: Ticket, where: str) -> TicketType:
    ticket_type = wf.types.get(ticket.type)
    if ticket_type is None:
        raise InvalidData(f"{where}: unknown type {ticket.type!r}")
    return ticket_type
