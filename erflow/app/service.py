"""Use cases: new, show, list, advance, set, note, assign, link, email, history, check.

Each orchestrates the store, engine, git and email, and returns a result; none prints or exits.
Every change happens under the store lock, is checked in full before anything is written, and
lands as exactly one git commit (or, on any failure, leaves the files as they were).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.core import conditions, engine, model
from erflow.core.conditions import is_set
from erflow.core.errors import Conflict, ErflowError, InvalidData, NotFound, NotPermitted, Refused, UsageError
from erflow.core.model import LINK_INVERSE, Ticket
from erflow.core.workflow import EmailSpec, LinkedTicket, TicketType, Transition, Workflow
from erflow.store import tickets as store
from erflow.store import workflow_file
from erflow.store.git import Change, Git, LogEntry
from erflow.store.tickets import Progress, Store

if TYPE_CHECKING:
    from erflow.core.timers import SlaClock
    from erflow.mail.templates import Email, SmtpConfig, TemplateSet
    from erflow.trust.audit import AuditResult, Progress
    from erflow.trust.sync import SyncResult


# ---------------------------------------------------------------------------------------------
# Context: the store, who is acting, and when


@dataclass
class Context:
    store: Store
    actor: str
    now: dt.datetime
    env: Mapping[str, str]

    @functools.cached_property
    def workflow(self) -> Workflow:
        return workflow_file.load(self.store.workflow_path)

    @functools.cached_property
    def git(self) -> Git:
        return Git(self.store.root)

    @functools.cached_property
    def templates(self) -> TemplateSet:
        from erflow.mail.templates import TemplateSet

        return TemplateSet(self.store.templates_dir)

    def author(self) -> tuple[str, str]:
        person = self.workflow.people.get(self.actor.lower())
        return (person.name if person else self.actor, self.actor)


def open_context(store_option: str | None, env: Mapping[str, str], cwd: Path) -> Context:
    root = store.find_root(store_option, env, cwd)
    return Context(store.Store(root), resolve_actor(env, root), resolve_now(env), env)


def resolve_actor(env: Mapping[str, str], root: Path) -> str:
    """ERFLOW_USER if set, else git's user.email; empty when neither is known."""
    actor = env.get("ERFLOW_USER") or Git(root).config("user.email") or ""
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


def require_actor(ctx: Context) -> str:
    if not ctx.actor:
        raise UsageError("who is acting? set ERFLOW_USER or git config user.email")
    return ctx.actor


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class EmailResult:
    template: str
    to: str
    subject: str
    sent: bool
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"template": self.template, "to": self.to, "subject": self.subject, "sent": self.sent}


@dataclass
class ChangeResult:
    id: str
    action: str
    commit: str | None
    transition: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    emails: list[EmailResult] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    dry_run: bool = False

    def advance_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transition": self.transition,
            "from": self.from_state,
            "to": self.to_state,
            "commit": self.commit,
            "emails": [e.as_json() for e in self.emails],
            "created": self.created,
        }

    def new_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.to_state,
            "commit": self.commit,
            "emails": [e.as_json() for e in self.emails],
        }


@dataclass
class TicketView:
    ticket: Ticket
    type: TicketType
    options: list[engine.Evaluation]
    sla: list[SlaClock] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = dict(self.ticket.meta)
        data["body"] = self.ticket.body()
        data["next"] = [o.as_json() for o in self.options]
        return data


# ---------------------------------------------------------------------------------------------
# The write path shared by every change


@dataclass
class _Pending:
    ticket: Ticket
    type: TicketType
    path: Path
    original: bytes | None  # None: a new file


@dataclass
class _Began:
    """What one ``git status`` told as a change began, under the store lock: HEAD, and which of the
    ticket files the change names have changes not committed (one git process instead of one per
    question: at 100,000 files each reads the whole index)."""

    head: str | None
    checked: dict[str, bool]  # path relative to the store root -> has changes not committed


@contextlib.contextmanager
def _writing(ctx: Context, *tickets: str) -> Iterator[_Began]:
    """Hold the store lock for a whole change, after finishing whatever change a killed erflow left;
    refuse it if workflow.yaml has changes not committed. ``tickets`` are the ids the change reads:
    whether their files have changes not committed is asked of git in the same breath."""
    try:
        git_dir = ctx.git.git_dir()
    except ErflowError:
        raise UsageError(
            f"{ctx.store.root} is not in a git work tree", hint="erflow init makes one"
        ) from None
    with ctx.store.lock(git_dir):
        _recover(ctx, git_dir)
        paths = []
        for raw_id in tickets:
            with contextlib.suppress(ErflowError):  # not found: told when the change reads it
                paths.append(ctx.store.relative(ctx.store.find(raw_id)))
        status = ctx.git.status([store.WORKFLOW, *paths])
        if store.WORKFLOW in status.dirty:
            raise Conflict(
                f"{store.WORKFLOW} has changes not committed",
                hint="commit it first (the audit judges each change by the committed workflow); "
                "nothing was changed",
            )
        yield _Began(status.head, {path: path in status.dirty for path in paths})


def _recover(ctx: Context, git_dir: Path) -> None:
    """Finish the change a journal left behind describes (erflow/journal.py): its process was killed,
    or failed, midway. Called under the store lock, so that process is gone.

    - The commit did not land (HEAD is still the change's parent): every file goes back as it was
      (a new one goes, with its empty folders), unstaged, with any stray temp file beside it.
    - It landed (HEAD is a commit on that parent with the change's message): it is kept, unless it
      had emails to send, whose delivery was never confirmed: then it is taken back, as a failed
      send is (``Git.uncommit``, then the files put back).
    - Anything else (someone committed on top since): Conflict, and nothing is changed.

    The journal goes once those files are as HEAD has them; until then every change refuses.
    """
    from erflow.store import journal

    found = journal.load(git_dir)
    if found is None:
        return
    where = journal.location(git_dir)
    paths = list(found.files)
    head = ctx.git.head()
    if head == found.parent:
        _restore(ctx, found.files)
        if paths:  # (no paths would unstage everything)
            ctx.git.unstage(paths)
    elif head is not None and _landed(ctx, head, found.parent, found.message, found.commit):
        if found.emails and found.parent is not None and paths:
            ctx.git.uncommit(head, found.parent, paths)
            _restore(ctx, found.files)
        for path in paths:
            _remove_strays(ctx.store.root / path)
    else:
        made_on = found.parent[:12] if found.parent else "an empty repository"
        raise Conflict(
            f"{where}: an erflow change made on {made_on} was interrupted, and HEAD has moved on since",
            hint="the journal lists the change's files as they were before it; compare them with git log "
            "and git status, put them right, then delete the journal; nothing was changed",
        )
    left = ctx.git.dirty(paths)
    if left:
        raise Conflict(
            f"{left[0]}: could not finish undoing an interrupted erflow change ({where})",
            hint="retry; if it persists, put the file right with git, then delete the journal",
        )
    journal.clear(git_dir)


def _landed(ctx: Context, head: str, parent: str | None, message: str, commit: str | None) -> bool:
    """Whether ``head`` is the commit a journal's change was making (git may tidy the message's
    whitespace, so lines are compared without it)."""
    if head == commit:
        return True
    found = ctx.git.commit_of(head)
    if found is None:
        return False
    parents, made = found

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines() if line.strip()]

    return parents == ((parent,) if parent else ()) and lines(made) == lines(message)


def _load_for_change(ctx: Context, raw_id: str, began: _Began) -> _Pending:
    path = ctx.store.find(raw_id)
    rel = ctx.store.relative(path)
    dirty = began.checked[rel] if rel in began.checked else bool(ctx.git.dirty([rel]))
    if dirty:
        raise Conflict(
            f"{rel} has changes not committed by erflow",
            hint="commit or discard them (git diff shows them), then retry; nothing was changed",
        )
    parsed = ctx.store.read_path(path)
    ticket = parsed.ticket
    ticket_type = _type_of(ctx.workflow, ticket, rel)
    return _Pending(ticket, ticket_type, path, path.read_bytes())


def _type_of(wf: Workflow, ticket: Ticket, where: str) -> TicketType:
    ticket_type = wf.types.get(ticket.type)
    if ticket_type is None:
        raise InvalidData(f"{where}: unknown type {ticket.type!r}")
    return ticket_type


def _commit(
    ctx: Context,
    began: _Began,
    pending: Sequence[_Pending],
    change: Change,
    outgoing: Sequence[Email] = (),
    documents: Sequence[tuple[Path, str]] = (),
) -> str:
    """Write every file and commit them as one, then deliver the emails (if any).

    The commit comes first so that no customer gets an email for a change that did not land; if
    delivery then fails, erflow takes its own commit back, so a failed send changes nothing.

    Before the first file is touched, a journal (erflow/journal.py) records the change, and it goes
    only once the change is complete: a process killed at any point (erflow/faults.py names the
    points) leaves the next change what it needs to undo or keep this one (``_recover``), which is
    also how a failure here is undone.
    """
    from erflow.store import faults, journal

    config = _smtp(ctx) if outgoing else None
    parent = began.head
    dirty = ctx.git.dirty([ctx.store.relative(path) for path, _ in documents])
    if dirty:
        raise Conflict(
            f"{dirty[0]} has changes not committed by erflow", hint="commit or discard them, then retry"
        )
    originals = {ctx.store.relative(item.path): item.original for item in pending}
    for path, _ in documents:
        originals[ctx.store.relative(path)] = path.read_bytes() if path.is_file() else None
    rel = list(originals)
    message = change.message([p.ticket.id for p in pending[1:]])
    git_dir = ctx.git.git_dir()
    begun = journal.Journal(parent, message, originals, emails=len(outgoing))
    journal.save(git_dir, begun)
    try:
        faults.point("journal-written")
        for item in pending:
            item.ticket.meta["updated"] = model.timestamp(ctx.now)
            ctx.store.write(item.ticket, list(item.type.fields), item.path)
        for path, text in documents:
            store.write_atomic(path, text)
        faults.point("files-written")
        commit = ctx.git.commit(
            rel, message, ctx.author(), model.timestamp(ctx.now),
            on_child=lambda pid: journal.save(git_dir, begun.at("committing", git_pid=pid)),
            parent=parent, untracked=[path for path, before in originals.items() if before is None],
        )  # fmt: skip
        committed = begun.at("committed", commit=commit)
        journal.save(git_dir, committed)
        faults.point("committed")
        if config is not None:
            from erflow.mail.templates import send

            journal.save(git_dir, committed.at("sending"))
            faults.point("sending")
            send(outgoing, config)
    except BaseException:
        # Undo what did not land; take back a commit whose emails did not all go. Should that fail
        # too, the journal stays for the next change to finish, and this error is the one told.
        with contextlib.suppress(ErflowError):
            _recover(ctx, git_dir)
        raise
    journal.clear(git_dir)
    if commit.endswith(GRAPH_EVERY):
        ctx.git.write_commit_graph()
    return commit


# One change in 16 (those whose commit id ends so) brings git's commit-graph up to date, so that
# `history` finds every commit but a few in it, with its changed-path filter.
GRAPH_EVERY = "0"


def _restore(ctx: Context, originals: Mapping[str, bytes | None]) -> None:
    """Put the files (paths relative to the store root) back as they were before a change: a new file
    goes, with the folders it leaves empty; so does any temp file a killed write left beside one."""
    for rel, original in originals.items():
        path = ctx.store.root / rel
        _remove_strays(path)
        if original is not None:
            store.write_atomic(path, original)
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        folder = path.parent
        while (
            folder not in (ctx.store.tickets_dir, ctx.store.root)
            and folder.is_dir()
            and not any(folder.iterdir())
        ):
            folder.rmdir()
            folder = folder.parent


def _remove_strays(path: Path) -> None:
    """Remove the temp files ``.<name>.*.tmp`` that a killed ``store.write_atomic`` left next to ``path``."""
    prefix = f".{path.name}."
    try:
        beside = list(path.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for stray in beside:
        if stray.name.startswith(prefix) and stray.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                stray.unlink()


def _smtp(ctx: Context) -> SmtpConfig:
    from erflow.mail.templates import SmtpConfig

    config = SmtpConfig.from_env(ctx.env)
    if config is None:
        raise UsageError("sending email needs ERFLOW_SMTP_HOST (and the other ERFLOW_SMTP_* settings)")
    return config


def _sending(ctx: Context, send: bool) -> bool:
    return send or bool(ctx.workflow.settings.get("send_emails", False))


# ---------------------------------------------------------------------------------------------
# Emails


def email_context(ctx: Context, ticket: Ticket, ticket_type: TicketType) -> dict[str, Any]:
    settings = ctx.workflow.settings
    values = {k: v for k, v in ticket.meta.items() if is_set(v)}
    portal = str(settings.get("portal_url") or "{id}")
    values["link"] = portal.replace("{id}", ticket.id)
    values["sender_name"] = str(settings.get("sender_name") or "")
    values["type_label"] = ticket_type.label
    state = ticket_type.states.get(ticket.state)
    values["state_label"] = state.label if state else ticket.state
    return values


def _recipient(ctx: Context, ticket: Ticket, ticket_type: TicketType, spec: EmailSpec) -> tuple[str, str]:
    if spec.to == "customer":
        address = ticket.meta.get("customer_email")
        if not is_set(address):
            raise Refused(
                f"{ticket.id}: email {spec.template} needs customer_email, which the ticket lacks",
                missing=["customer_email"],
            )
        return str(address), str(ticket.meta.get("customer_name") or "")
    declared = ticket_type.field(spec.to)
    if declared is not None:
        address = ticket.meta.get(spec.to)
        if not is_set(address):
            raise Refused(f"{ticket.id}: email {spec.template} needs {spec.to}", missing=[spec.to])
        person = ctx.workflow.people.get(str(address).lower())
        return str(address), person.name if person else ""
    person = ctx.workflow.people.get(spec.to.lower())
    if person is not None:
        return person.email, person.name
    members = ctx.workflow.people_with_role(spec.to)
    if members:
        return members[0].email, members[0].name
    raise InvalidData(f"{ctx.store.workflow_path}: email {spec.template} goes to unknown {spec.to!r}")


def render_emails(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, specs: Sequence[EmailSpec]
) -> list[Email]:
    """Render every email; a template that needs a field the ticket lacks refuses (exit 3)."""
    rendered = []
    for spec in specs:
        if spec.line and not ctx.templates.exists(spec.template):  # named by workflow.yaml
            raise InvalidData(
                f"{store.WORKFLOW}:{spec.line}: email template {spec.template!r} not found in "
                f"{store.TEMPLATES}/",
                hint="run erflow check",
            )
        to, to_name = _recipient(ctx, ticket, ticket_type, spec)
        mail = ctx.templates.render(
            spec.template,
            email_context(ctx, ticket, ticket_type),
            ticket_id=ticket.id,
            sender=str(ctx.workflow.settings.get("sender") or ctx.actor),
            to=to,
            to_name=to_name,
        )
        rendered.append(dataclasses.replace(mail, date=ctx.now))
    return rendered


def _log_emails(ctx: Context, ticket: Ticket, emails: Sequence[Email], sent: bool) -> list[EmailResult]:
    results = []
    for mail in emails:
        status = "sent" if sent else "not sent"
        head = f"email {mail.template} to {mail.to}: “{mail.subject}” ({status})"
        ticket.add_entry("Communications", model.entry(ctx.now, head))
        results.append(EmailResult(mail.template, mail.to, mail.subject, sent, mail.as_text()))
    return results


# ---------------------------------------------------------------------------------------------
# Use cases that change the store


@dataclass
class NewRequest:
    type: str
    title: str | None = None
    description: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_org: str | None = None
    sets: dict[str, str] = field(default_factory=dict)
    form: Mapping[str, Any] | None = None


_FORM_ALIASES = {
    "customer_org": "customer",
    "organization": "customer",
    "subject": "title",
    "body": "description",
}


def _form_values(request: NewRequest) -> tuple[dict[str, str], str | None]:
    """Merge a form submission and the command-line flags (flags win) into text values."""
    merged: dict[str, str] = {}
    description = None
    for key, value in (request.form or {}).items():
        key = _FORM_ALIASES.get(str(key), str(key))
        if value is None:
            continue
        if key == "description":
            description = str(value)
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (dict,)):
            raise UsageError(f"form field {key!r}: expected a value, not a mapping")
        merged[key] = str(value)
    flags = {
        "title": request.title,
        "customer_name": request.customer_name,
        "customer_email": request.customer_email,
        "customer": request.customer_org,
    }
    merged.update({k: v for k, v in flags.items() if v is not None})
    merged.update(request.sets)
    return merged, request.description if request.description is not None else description


def new(ctx: Context, request: NewRequest, *, send: bool = False, dry_run: bool = False) -> ChangeResult:
    wf = ctx.workflow
    ticket_type = wf.type(request.type)
    actor = require_actor(ctx)
    if not wf.may(actor, "new"):
        raise NotPermitted(f"{actor} may not create tickets (permissions.new in workflow.yaml)")
    raw, description = _form_values(request)
    title = " ".join((raw.pop("title", "") or "").split())
    if not title:
        raise UsageError("a ticket needs a title (--title or title: in the form)")
    values = engine.parse_sets(ticket_type, raw)
    for name in values:
        if ticket_type.owners_of(name):
            owners = ", ".join(sorted(ticket_type.owners_of(name)))
            raise Refused(f"{name!r} is set by the transition {owners}, not at creation")
    sending = _sending(ctx, send)
    with _writing(ctx) as began:
        ticket, specs = _fresh_ticket(ctx, ticket_type, title, values, description or "", f"{actor}: created")
        emails = render_emails(ctx, ticket, ticket_type, specs)
        results = _log_emails(ctx, ticket, emails, sending)
        result = ChangeResult(ticket.id, "new", None, None, None, ticket.state, results, dry_run=dry_run)
        if dry_run:
            return result
        pending = _Pending(ticket, ticket_type, ctx.store.path_for(ticket.id), None)
        change = Change(ticket.id, "new", actor, None, None, ticket.state, summary=title)
        result.commit = _commit(ctx, began, [pending], change, emails if sending else ())
    return result


def _fresh_ticket(
    ctx: Context, ticket_type: TicketType, title: str, values: Mapping[str, Any], description: str, head: str
) -> tuple[Ticket, list[EmailSpec]]:
    """A new ticket in the type's initial state (id allocated, nothing written), and the emails its
    creation sends. Call it under the store lock."""
    now = model.timestamp(ctx.now)
    initial = ticket_type.initial
    meta: dict[str, Any] = {"id": ctx.store.allocate_id(ticket_type.prefix), "type": ticket_type.name}
    meta.update(title=title, state=initial, labels=[], links=[])
    meta.update({k: v for k, v in values.items() if v is not None})
    meta.update(created=now, updated=now, state_entered=now)
    if "owner" not in values:
        meta["owner"] = engine.owner_for(
            ctx.workflow, ticket_type, initial, meta, workload=lambda: workload(ctx)
        )
    meta = {k: v for k, v in meta.items() if v is not None}
    missing = [
        name
        for requirement in ticket_type.create.requires
        if requirement.when is None or _holds(ctx, requirement.when, meta)
        for name in requirement.fields
        if not is_set(meta.get(name))
    ]
    if missing:
        raise Refused(f"a new {ticket_type.name} needs: {', '.join(missing)}", missing=missing)
    ticket = Ticket(meta, description.strip("\n"))
    ticket.add_entry("Notes", model.entry(ctx.now, f"{head} in {initial}"))
    specs = [s for s in ticket_type.create.emails if s.when is None or _holds(ctx, s.when, meta)]
    return ticket, specs


def workload(ctx: Context) -> engine.Workload:
    """Open tickets per owner, and when each owner was last given a ticket (for assignment rules)."""
    counts: dict[str, int] = {}
    latest: dict[str, str] = {}
    for item in ctx.store.indexed():
        meta = item.meta
        if meta is None:
            continue
        owner = meta.get("owner")
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        state = ticket_type.states.get(str(meta.get("state"))) if ticket_type else None
        if not isinstance(owner, str) or state is None:
            continue
        if not state.terminal:
            counts[owner] = counts.get(owner, 0) + 1
        entered = _utc(meta.get("state_entered") or meta.get("created"))
        latest[owner] = max(latest.get(owner, ""), entered)
    return engine.Workload(counts, latest)


def _utc(value: Any) -> str:
    try:
        return dt.datetime.fromisoformat(str(value)).astimezone(dt.timezone.utc).isoformat()
    except ValueError:
        return ""


def _holds(ctx: Context, condition: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    return conditions.holds(condition, values, ctx.workflow.policies)


def advance(
    ctx: Context,
    raw_id: str,
    transition: str,
    sets: Mapping[str, str] | None = None,
    note: str | None = None,
    *,
    dry_run: bool = False,
    send: bool = False,
) -> ChangeResult:
    actor = require_actor(ctx)
    sending = _sending(ctx, send) and not dry_run
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        typed = engine.parse_sets(pending.type, dict(sets or {}))
        plan = engine.plan(
            ctx.workflow, pending.type, pending.ticket.meta, transition, actor, typed, note,
            workload=lambda: workload(ctx),
        )  # fmt: skip
        applied = _apply_plan(ctx, pending, plan, actor, note, sending)
        result = ChangeResult(
            pending.ticket.id, "advance", None, transition, plan.from_state, plan.to_state, applied.results,
            created=applied.created, changes=plan.changes, dry_run=dry_run,
        )  # fmt: skip
        if dry_run:
            return result
        change = Change(
            pending.ticket.id, "advance", actor, transition, plan.from_state, plan.to_state, text=note or "",
            created=tuple(applied.created),
        )  # fmt: skip
        result.commit = _commit(
            ctx, began, [pending, *applied.linked], change, applied.outgoing(sending), applied.documents
        )
    return result


@dataclass
class _Applied:
    """What applying a plan to a ticket (in memory) produced."""

    emails: list[Email]
    results: list[EmailResult]
    linked: list[_Pending]
    documents: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def created(self) -> list[str]:
        return [item.ticket.id for item in self.linked]

    def outgoing(self, sending: bool) -> list[Email]:
        return self.emails if sending else []


def _apply_plan(
    ctx: Context, pending: _Pending, plan: engine.Plan, actor: str, note: str | None, sending: bool
) -> _Applied:
    """Apply a plan to the ticket in memory: values, state clocks, the Notes entry, linked tickets,
    and the emails due (rendered and logged). Nothing is written."""
    ticket, ticket_type = pending.ticket, pending.type
    entered_before = ticket.meta.get("state_entered")
    ticket.meta = {k: v for k, v in plan.values.items() if v is not None}
    if plan.to_state != plan.from_state:
        _clock_state_change(ctx, ticket, ticket_type, plan.from_state, entered_before)
    head = f"{actor}: {plan.transition.name} ({plan.from_state} → {plan.to_state})"
    changed = {k: v for k, v in plan.changes.items() if k not in ("state", "owner")}
    if changed:
        head += "; " + ", ".join(f"{k}={model.brief(v[1])}" for k, v in changed.items())
    ticket.add_entry("Notes", model.entry(ctx.now, head, note or ""))
    linked = _create_linked(
        ctx, pending, plan.linked, f"{actor}: created by {ticket.id} {plan.transition.name}"
    )
    emails = render_emails(ctx, ticket, ticket_type, plan.emails)
    results = _log_emails(ctx, ticket, emails, sending)
    for item, specs in linked:
        item_emails = render_emails(ctx, item.ticket, item.type, specs)
        results += _log_emails(ctx, item.ticket, item_emails, sending)
        emails += item_emails
    documents = _render_documents(ctx, ticket, ticket_type, plan.transition)
    return _Applied(emails, results, [item for item, _ in linked], documents)


def _render_documents(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, transition: Transition
) -> list[tuple[Path, str]]:
    """The files a transition writes (knowledge articles, invoices...), rendered, not yet written."""
    made = []
    for spec in transition.documents:
        if spec.when is not None and not _holds(ctx, spec.when, ticket.meta):
            continue
        from erflow.mail.templates import (
            DocumentSet,  # jinja2: imported only by a change that renders something
        )

        documents = DocumentSet(ctx.store.templates_dir / "documents")
        text = documents.render_text(
            spec.template, email_context(ctx, ticket, ticket_type), ticket_id=ticket.id
        )
        path = ctx.store.root / spec.path.replace("{id}", ticket.id)
        made.append((path, text))
        ticket.add_entry("Notes", model.entry(ctx.now, f"wrote {ctx.store.relative(path)} ({spec.template})"))
    return made


def _clock_state_change(
    ctx: Context, ticket: Ticket, ticket_type: TicketType, left: str, entered_before: Any
) -> None:
    """On a change of state: the first response, time paused for the SLA, and state_entered."""
    from erflow.core import timers
    from erflow.core.businesstime import Clock

    meta = ticket.meta
    sla = ticket_type.sla
    if sla is not None and left in sla.pause:
        since = timers.instant(entered_before, ctx.workflow.calendar)
        if since is not None:
            paused = Clock(ctx.workflow.calendar, sla.business).elapsed(since, ctx.now)
            total = float(meta.get("sla_paused_minutes") or 0) + paused.total_seconds() / 60
            meta["sla_paused_minutes"] = int(total)
    if left == ticket_type.initial and "responded" not in meta:
        meta["responded"] = model.timestamp(ctx.now)
    entered = ticket_type.states.get(str(meta.get("state")))
    if entered is not None and (entered.terminal or (sla is not None and entered.name in sla.stop)):
        meta.setdefault("resolved", model.timestamp(ctx.now))
    else:
        meta.pop("resolved", None)  # reopened: the resolution clock runs again
    meta["state_entered"] = model.timestamp(ctx.now)


def _create_linked(
    ctx: Context, source: _Pending, specs: Sequence[LinkedTicket], head: str
) -> list[tuple[_Pending, list[EmailSpec]]]:
    """The tickets a transition creates, linked both ways to the ticket it moves."""
    made = []
    parent = source.ticket
    for spec in specs:
        target = ctx.workflow.type(spec.type)
        values: dict[str, Any] = {
            n: parent.meta[n] for n in spec.copy if n != "title" and is_set(parent.meta.get(n))
        }
        values.update(
            {new: parent.meta[old] for new, old in spec.map.items() if is_set(parent.meta.get(old))}
        )
        values.update(spec.sets)
        for name, value in values.items():
            declared = target.field(name)
            problem = declared.problem(value) if declared else f"no field {name!r}"
            if problem:
                where = f"{ctx.store.workflow_path}: creating a {spec.type} from {parent.id}"
                raise InvalidData(f"{where}: {problem}", hint="fix the create: of that transition")
        description = parent.description if spec.description else ""
        ticket, emails = _fresh_ticket(
            ctx, target, str(parent.meta.get("title", "")), values, description, head
        )
        parent.meta["links"] = [*(parent.meta.get("links") or []), f"{spec.link} {ticket.id}"]
        ticket.meta["links"] = [*(ticket.meta.get("links") or []), f"{LINK_INVERSE[spec.link]} {parent.id}"]
        parent.add_entry(
            "Notes", model.entry(ctx.now, f"created {ticket.id} ({spec.type}), linked {spec.link}")
        )
        made.append((_Pending(ticket, target, ctx.store.path_for(ticket.id), None), emails))
    return made


def _permit(ctx: Context, action: str) -> str:
    actor = require_actor(ctx)
    if not ctx.workflow.may(actor, action):
        allowed = ", ".join(ctx.workflow.permissions.get(action, ("*",)))
        who = "is not listed under people" if actor not in ctx.workflow.people else "lacks the role"
        raise NotPermitted(f"{actor} may not {action} ({who}; permissions.{action}: {allowed})")
    return actor


def set_fields(ctx: Context, raw_id: str, pairs: Mapping[str, str], note: str | None = None) -> ChangeResult:
    actor = _permit(ctx, "set")
    if not pairs:
        raise UsageError("nothing to set: give K=V pairs")
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        ticket, ticket_type = pending.ticket, pending.type
        for name in pairs:
            engine.check_settable(ticket_type, name)
        typed = engine.parse_sets(ticket_type, dict(pairs))
        before = dict(ticket.meta)
        for key, value in typed.items():
            if value is None:
                ticket.meta.pop(key, None)
            else:
                ticket.meta[key] = value
        changes = engine.diff(before, ticket.meta)
        if not changes:
            raise Refused(f"{ticket.id}: nothing changes; the values are already set")
        summary = ", ".join(
            f"{k}={model.brief(v[1]) if v[1] is not None else '(unset)'}" for k, v in changes.items()
        )
        ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: set {summary}", note or ""))
        change = Change(
            ticket.id,
            "set",
            actor,
            None,
            ticket.state,
            ticket.state,
            summary=", ".join(changes),
            text=note or "",
        )
        commit = _commit(ctx, began, [pending], change)
    return ChangeResult(ticket.id, "set", commit, changes=changes)


def add_note(ctx: Context, raw_id: str, text: str, *, customer: bool = False) -> ChangeResult:
    actor = _permit(ctx, "note")
    if not text.strip():
        raise UsageError("the note is empty")
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        kind = "customer-visible note" if customer else "note"
        ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: {kind}", text))
        change = Change(ticket.id, "note", actor, None, ticket.state, ticket.state, text=text)
        commit = _commit(ctx, began, [pending], change)
    return ChangeResult(ticket.id, "note", commit)


def log_time(
    ctx: Context, raw_id: str, hours: str, *, billable: bool, note: str | None = None
) -> ChangeResult:
    """Record time spent on a ticket, billable or not, in its Time section (one commit)."""
    actor = _permit(ctx, "log_time")
    try:
        amount = model.parse_hours(hours)
    except ValueError as exc:
        raise UsageError(f"log-time: {exc}") from None
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        ticket.add_entry("Time", model.time_entry(ctx.now, actor, amount, billable, note or ""))
        kind = "billable" if billable else "non-billable"
        change = Change(
            ticket.id,
            "log-time",
            actor,
            None,
            ticket.state,
            ticket.state,
            summary=f"{amount:g} h {kind}",
            text=note or "",
        )
        commit = _commit(ctx, began, [pending], change)
    total, billable_total = model.time_totals(ticket)
    return ChangeResult(
        ticket.id,
        "log-time",
        commit,
        changes={"hours": [None, total], "billable_hours": [None, billable_total]},
    )


def assign(ctx: Context, raw_id: str, who: str) -> ChangeResult:
    actor = _permit(ctx, "assign")
    wf = ctx.workflow
    target = who.strip().lower()
    if target not in wf.people and target not in wf.roles:
        raise NotFound(f"{who!r} is neither a person nor a role in workflow.yaml")
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        old = ticket.meta.get("owner")
        if old == target:
            raise Refused(f"{ticket.id} is already assigned to {target}")
        ticket.meta["owner"] = target
        ticket.add_entry(
            "Notes", model.entry(ctx.now, f"{actor}: assigned to {target} (was {old or 'nobody'})")
        )
        change = Change(
            ticket.id, "assign", actor, None, ticket.state, ticket.state, summary=f"owner {target}"
        )
        commit = _commit(ctx, began, [pending], change)
    return ChangeResult(ticket.id, "assign", commit, changes={"owner": [old, target]})


def link(ctx: Context, raw_id: str, relation: str, other_id: str) -> ChangeResult:
    actor = _permit(ctx, "link")
    rel = relation.strip().lower()
    if rel not in LINK_INVERSE:
        raise UsageError(f"unknown relation {relation!r}", hint=f"one of: {', '.join(LINK_INVERSE)}")
    with _writing(ctx, raw_id, other_id) as began:
        first = _load_for_change(ctx, raw_id, began)
        second = _load_for_change(ctx, other_id, began)
        if first.ticket.id == second.ticket.id:
            raise Refused("a ticket cannot be linked to itself")
        entry_a = f"{rel} {second.ticket.id}"
        entry_b = f"{LINK_INVERSE[rel]} {first.ticket.id}"
        links_a = list(first.ticket.meta.get("links") or [])
        if entry_a in links_a:
            raise Refused(f"{first.ticket.id} is already linked: {entry_a}")
        first.ticket.meta["links"] = links_a + [entry_a]
        links_b = list(second.ticket.meta.get("links") or [])
        if entry_b not in links_b:
            second.ticket.meta["links"] = links_b + [entry_b]
        first.ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: linked {entry_a}"))
        second.ticket.add_entry("Notes", model.entry(ctx.now, f"{actor}: linked {entry_b}"))
        change = Change(
            first.ticket.id, "link", actor, None, first.ticket.state, first.ticket.state, summary=entry_a
        )
        commit = _commit(ctx, began, [first, second], change)
    return ChangeResult(
        first.ticket.id, "link", commit, changes={"links": [links_a, first.ticket.meta["links"]]}
    )


def email(
    ctx: Context, raw_id: str, template: str, *, send: bool = False, record: bool = True
) -> ChangeResult:
    """Render one template for a ticket; send it with ``send``; log it in the ticket unless told not to."""
    if not ctx.templates.exists(template):
        raise NotFound(
            f"no template {template!r} in {ctx.store.templates_dir}",
            hint=f"templates: {', '.join(ctx.templates.names())}",
        )
    actor = require_actor(ctx)
    if not record and not send:
        path = ctx.store.find(raw_id)
        ticket = ctx.store.read_path(path).ticket
        ticket_type = _type_of(ctx.workflow, ticket, ctx.store.relative(path))
        mails = render_emails(ctx, ticket, ticket_type, [EmailSpec(template)])
        return ChangeResult(
            ticket.id,
            "email",
            None,
            emails=[EmailResult(m.template, m.to, m.subject, False, m.as_text()) for m in mails],
            dry_run=True,
        )
    with _writing(ctx, raw_id) as began:
        pending = _load_for_change(ctx, raw_id, began)
        ticket = pending.ticket
        mails = render_emails(ctx, ticket, pending.type, [EmailSpec(template)])
        results = _log_emails(ctx, ticket, mails, send)
        change = Change(ticket.id, "email", actor, None, ticket.state, ticket.state, summary=template)
        commit = _commit(ctx, began, [pending], change, mails if send else ())
    return ChangeResult(ticket.id, "email", commit, emails=results)


# ---------------------------------------------------------------------------------------------
# sweep: timers and SLA escalations


@dataclass
class SweepAction:
    ticket: str
    name: str  # the timer, or sla_response / sla_resolution
    due: str
    actions: str
    done: bool = False
    commit: str | None = None
    reason: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    emails: list[EmailResult] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "timer": self.name,
            "due": self.due,
            "actions": self.actions,
            "done": self.done,
            "commit": self.commit,
            "reason": self.reason,
            "from": self.from_state,
            "to": self.to_state,
            "emails": [e.as_json() for e in self.emails],
        }


SWEEP_ACTOR = "erflow@localhost"
PROGRESS_FROM = 10  # a sweep firing more timers than this (one commit each) reports its progress


def sweep(
    ctx: Context, *, dry_run: bool = False, send: bool = False, progress: Progress | None = None
) -> list[SweepAction]:
    """Run every timer and SLA escalation due at ``ctx.now``, each once, one commit each.

    Safe to run again and again: what fired is recorded in the ticket, so a second sweep at the same
    instant finds nothing to do. A timer's transition is checked against its gates and rules (not
    roles: the workflow itself acts); when they are not met, nothing happens and the reason is told.
    Everything due is found first; ``progress(done, total)`` then follows the firing when it is long.
    """
    from erflow.core import timers

    sending = _sending(ctx, send) and not dry_run
    due: list[tuple[SweepAction, str]] = []
    # Only tickets in a state that is not terminal can have anything due (timers.due).
    live = sorted({s.name for t in ctx.workflow.types.values() for s in t.states.values() if not s.terminal})
    if not live:
        return []
    for indexed in ctx.store.indexed(tuple(ctx.workflow.types), live):
        meta = indexed.meta
        if meta is None:
            continue  # named by list and check; one bad file never stops the others
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        if ticket_type is None:
            continue
        for item in timers.due(ctx.workflow, ticket_type, meta, ctx.now):
            action = SweepAction(
                str(meta["id"]), item.name, model.timestamp(item.due), item.actions.describe()
            )
            due.append((action, item.key))
    if dry_run:
        return [action for action, _ in due]
    report = progress if progress is not None and len(due) > PROGRESS_FROM else None
    for number, (action, key) in enumerate(due, 1):
        _fire(ctx, action, key, sending)
        if report is not None:
            report(number, len(due))
    return [action for action, _ in due]


def _fire(ctx: Context, action: SweepAction, key: str, sending: bool) -> None:
    from erflow.core import timers

    actor = ctx.actor or SWEEP_ACTOR
    with _writing(ctx, action.ticket) as began:
        try:
            pending = _load_for_change(ctx, action.ticket, began)
        except Conflict as exc:
            action.reason = exc.message
            return
        ticket, ticket_type = pending.ticket, pending.type
        still = [d for d in timers.due(ctx.workflow, ticket_type, ticket.meta, ctx.now) if d.key == key]
        if not still:
            action.reason = "no longer due (changed since)"
            return
        actions = still[0].actions
        action.from_state = action.to_state = ticket.state
        ticket.add_entry(
            "Notes",
            model.entry(ctx.now, f"{actor}: timer {action.name} ({action.actions})", actions.note or ""),
        )
        if actions.assign:
            owner = engine.owner_for(
                ctx.workflow, ticket_type, ticket.state, ticket.meta, assign=actions.assign,
                workload=lambda: workload(ctx),
            )  # fmt: skip
            if owner is not None:
                ticket.meta["owner"] = owner
        labels = list(ticket.meta.get("labels") or [])
        ticket.meta["labels"] = labels + [label for label in actions.add_labels if label not in labels]
        emails = render_emails(ctx, ticket, ticket_type, [actions.email] if actions.email else [])
        action.emails = _log_emails(ctx, ticket, emails, sending)
        linked: list[_Pending] = []
        documents: list[tuple[Path, str]] = []
        if actions.transition is not None:
            why = f"timer {action.name}"
            try:
                plan = engine.plan(
                    ctx.workflow, ticket_type, ticket.meta, actions.transition, actor, {}, why,
                    workload=lambda: workload(ctx), system=True,
                )  # fmt: skip
            except (Refused, NotFound) as exc:
                action.reason = exc.message
                return
            applied = _apply_plan(ctx, pending, plan, actor, why, sending)
            emails += applied.emails
            action.emails += applied.results
            linked = applied.linked
            documents = applied.documents
            action.to_state = plan.to_state
        timers.record(ticket.meta, key)
        transition = actions.transition
        change = Change(
            ticket.id, "sweep", actor, transition, action.from_state, action.to_state,
            summary=f"timer {action.name}", created=tuple(p.ticket.id for p in linked), timer=action.name,
        )  # fmt: skip
        action.commit = _commit(ctx, began, [pending, *linked], change, emails if sending else [], documents)
        action.done = True


# ---------------------------------------------------------------------------------------------
# Use cases that read


def show(ctx: Context, raw_id: str) -> TicketView:
    path = ctx.store.find(raw_id)
    ticket = ctx.store.read_path(path).ticket
    ticket_type = _type_of(ctx.workflow, ticket, ctx.store.relative(path))
    from erflow.core.timers import sla_clocks

    options = engine.options(ctx.workflow, ticket_type, ticket.meta, ctx.actor)
    return TicketView(
        ticket, ticket_type, options, sla_clocks(ctx.workflow, ticket_type, ticket.meta, ctx.now)
    )


def transitions(ctx: Context, raw_id: str) -> list[engine.Evaluation]:
    return show(ctx, raw_id).options


@dataclass
class Filters:
    types: Sequence[str] = ()
    states: Sequence[str] = ()
    owner: str | None = None
    label: str | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    def match(self, meta: Mapping[str, Any]) -> bool:
        if self.types and meta.get("type") not in self.types:
            return False
        if self.states and meta.get("state") not in self.states:
            return False
        if self.owner is not None and str(meta.get("owner") or "").lower() != self.owner.lower():
            return False
        if self.label is not None and self.label not in (meta.get("labels") or []):
            return False
        for key, expected in self.where.items():
            actual = meta.get(key)
            if isinstance(actual, list):
                if expected not in [str(a) for a in actual]:
                    return False
            elif _text(actual) != expected:
                return False
        return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class Listing:
    items: list[store.Indexed]  # the matching tickets, oldest first; each with its JSON text (``raw``)
    problems: list[str]

    @property
    def tickets(self) -> list[dict[str, Any]]:
        """The matching tickets' front-matter."""
        return [meta for meta in (item.meta for item in self.items) if meta is not None]


def list_tickets(ctx: Context, filters: Filters) -> Listing:
    """Every ticket matching the filters, oldest first; a bad file is named, never hides others.

    Type and state are filtered by the index; the other filters need the front-matter decoded."""
    for name in filters.types:
        ctx.workflow.type(name)
    decode = filters.owner is not None or filters.label is not None or bool(filters.where)
    found: list[store.Indexed] = []
    problems: list[str] = []
    for item in ctx.store.indexed(filters.types, filters.states):
        if item.problem is not None:
            problems.append(item.problem)
        elif not decode or filters.match(item.meta or {}):
            found.append(item)
    return Listing(found, problems)


def sla_flags(ctx: Context, tickets: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Ticket id -> the worst status of its SLA clocks, for the tickets that have one (the table's
    SLA column)."""
    from erflow.core.timers import sla_clocks, worst

    flags: dict[str, str] = {}
    for meta in tickets:
        ticket_type = ctx.workflow.types.get(str(meta.get("type")))
        if ticket_type is not None and ticket_type.sla is not None:
            status = worst(sla_clocks(ctx.workflow, ticket_type, meta, ctx.now))
            if status:
                flags[str(meta.get("id"))] = status
    return flags


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
        log = ctx.git.log(rel)  # the whole history, back to the first commit
    if log and log[0].trailer("action", None) != "new":
        log = ctx.git.log(rel, follow=True)  # moved by hand: follow it back to its creation
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
                current = store.parse(data.decode("utf-8"), Path(rel)).ticket.meta
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
        created = store.parse(path.read_text(encoding="utf-8"), path).ticket.meta.get("created")
        since = dt.datetime.fromisoformat(str(created)) - HISTORY_SLACK
    except (ErflowError, OSError, UnicodeDecodeError, ValueError, OverflowError, TypeError):
        return None
    if since.tzinfo is None:
        return None
    return ctx.git.log(rel, since=since.isoformat(timespec="seconds"))


# ---------------------------------------------------------------------------------------------
# check


def check(ctx: Context) -> list[str]:
    """Every problem in workflow.yaml, the templates and every ticket, each with file and line."""
    wf, problems = workflow_file.load_with_problems(ctx.store.workflow_path)
    problems = [_relative(ctx, p) for p in problems]
    from erflow.mail.templates import TemplateSet

    templates = TemplateSet(ctx.store.templates_dir)
    from erflow.mail.templates import DocumentSet

    documents = DocumentSet(ctx.store.templates_dir / "documents")
    template_problems = templates.problems() + documents.problems()
    problems += template_problems
    if wf is None:
        return problems + _raw_template_references(ctx, templates)
    broken = {name for name in templates.names() if any(f"/{name}.j2:" in p for p in template_problems)}
    problems += _check_template_references(ctx, wf, templates, broken)
    for ticket_type in wf.types.values():
        for transition in ticket_type.transitions:
            for doc in transition.documents:
                if not documents.exists(doc.template):
                    where = f"{store.WORKFLOW}:{transition.line}: types.{ticket_type.name}"
                    problems.append(
                        f"{where}: document template {doc.template!r} not found in templates/documents/"
                    )
    for path in ctx.store.paths():
        rel = ctx.store.relative(path)
        try:
            parsed = ctx.store.read_path(path)
        except ErflowError as exc:
            problems.append(exc.message)
            continue
        problems += _ticket_problems(wf, parsed, rel)
    return problems


def _relative(ctx: Context, problem: str) -> str:
    prefix = str(ctx.store.root) + os.sep
    return problem[len(prefix) :] if problem.startswith(prefix) else problem


def _raw_template_references(ctx: Context, templates: TemplateSet) -> list[str]:
    """With a workflow.yaml too broken to load, still name every email template it needs that is
    missing (read from the raw YAML: ``emails:`` lists and timers' ``email:``)."""
    from erflow.core import yamlio

    try:
        raw = yamlio.load(ctx.store.workflow_path.read_text(encoding="utf-8"))
    except (yamlio.YamlError, OSError, UnicodeDecodeError):
        return []
    found: list[str] = []

    def missing(name: Any, line: int) -> None:
        if isinstance(name, str) and not templates.exists(name):
            found.append(f"{store.WORKFLOW}:{line}: email template {name!r} not found in {store.TEMPLATES}/")

    def walk(node: Any) -> None:
        if isinstance(node, yamlio.LineDict):
            for key, value in node.items():
                if key == "emails" and isinstance(value, list):
                    for item in value:
                        if isinstance(item, yamlio.LineDict):
                            missing(item.get("template"), item.line_of("template"))
                        else:
                            missing(item, node.line_of("emails"))
                elif key == "email":
                    missing(value, node.line_of("email"))
                elif key != "documents":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(raw)
    return found


def _check_template_references(
    ctx: Context, wf: Workflow, templates: TemplateSet, broken: set[str]
) -> list[str]:
    problems = []
    builtin = {"link", "sender_name", "type_label", "state_label"}
    for ticket_type in wf.types.values():
        specs = [(t.line, s) for t in ticket_type.transitions for s in t.emails]
        specs += [(0, s) for s in ticket_type.create.emails]
        known = {f.name for f in ticket_type.all_fields()} | builtin
        for line, spec in specs:
            line = spec.line or line
            where = f"{store.WORKFLOW}:{line}: " if line else f"{store.WORKFLOW}: "
            if not templates.exists(spec.template):
                missing = f"email template {spec.template!r} not found in {store.TEMPLATES}/"
                problems.append(f"{where}types.{ticket_type.name}: {missing}")
                continue
            if spec.template in broken:
                continue  # its syntax error is already listed
            unknown = sorted(templates.variables(spec.template) - known)
            for name in unknown:
                lacking = f"which type {ticket_type.name} has no field for"
                problems.append(f"{store.TEMPLATES}/{spec.template}.j2: uses {name!r}, {lacking}")
    return sorted(set(problems), key=problems.index)


def _ticket_problems(wf: Workflow, parsed: store.Parsed, rel: str) -> list[str]:
    ticket = parsed.ticket
    problems = []

    def add(key: str, message: str) -> None:
        problems.append(f"{rel}:{parsed.lines.get(key, 2)}: {message}")

    ticket_type = wf.types.get(ticket.type)
    if ticket_type is None:
        add("type", f"unknown type {ticket.type!r}")
        return problems
    if not ticket.id.startswith(ticket_type.prefix + "-"):
        add("id", f"id {ticket.id!r} lacks the prefix {ticket_type.prefix}- of type {ticket_type.name}")
    if ticket.state not in ticket_type.states:
        add("state", f"unknown state {ticket.state!r} for type {ticket_type.name}")
    for key in ("title", "created"):
        if not is_set(ticket.meta.get(key)):
            add(key, f"missing {key}")
    for key, value in ticket.meta.items():
        declared = ticket_type.field(key)
        if declared is None:
            add(key, f"unknown field {key!r} for type {ticket_type.name}")
            continue
        problem = declared.problem(value)
        if problem:
            add(key, problem)
    return problems


def audit(ctx: Context, *, full: bool = False, progress: Progress | None = None) -> AuditResult:
    """Replay the store's git history and list every change that erflow did not make legally;
    ``progress`` is told ``(commits judged, commits to judge)`` as it goes."""
    from erflow.trust import audit as auditing

    try:
        git_dir = ctx.git.git_dir()
    except ErflowError:
        raise UsageError(f"{ctx.store.root} is not in a git work tree") from None
    return auditing.run(ctx.store.root, ctx.git, git_dir, full=full, progress=progress)


def sync(ctx: Context) -> SyncResult:
    """Pull (ticket files merged by erflow's driver), then push; under the store lock."""
    from erflow.trust import sync as syncing

    require_actor(ctx)
    with _writing(ctx):
        return syncing.sync(ctx.git, ctx.git.git_dir(), ctx.store.root, ctx.author(), ctx.now)
