"""The write path shared by every change: under the store lock, checked in full before anything is
written, landed as exactly one git commit, its emails queued in the outbox by that same commit (and
delivered after it, erflow/app/outbox.py); on any failure (or a process killed midway, told by the
journal) the files are left as they were."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context
from erflow.app.emails import EmailResult, smtp_config
from erflow.app.reading import TicketFile, read_ticket
from erflow.core import model
from erflow.core.errors import Conflict, ErflowError, InvalidData, UsageError
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType
from erflow.store import paths as store_paths
from erflow.store import tickets as store
from erflow.store.commits import Change, DigestChange, QuarantineChange, RulesChange
from erflow.store.files import write_atomic

if TYPE_CHECKING:
    from erflow.mail.message import Email
    from erflow.store.git import Git
    from erflow.store.outbox import Record as OutboxRecord


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
    notifications: list[EmailResult] = field(default_factory=list)  # staff (app/notify.py)

    def advance_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transition": self.transition,
            "from": self.from_state,
            "to": self.to_state,
            "commit": self.commit,
            "emails": [e.as_json() for e in self.emails],
            "created": self.created,
            "notifications": [e.as_json() for e in self.notifications],
        }

    def new_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.to_state,
            "commit": self.commit,
            "emails": [e.as_json() for e in self.emails],
            "notifications": [e.as_json() for e in self.notifications],
        }


@dataclass
class Pending:
    ticket: Ticket
    type: TicketType
    path: Path
    original: bytes | None  # None: a new file


@dataclass
class Began:
    """What one ``git status`` told as a change began, under the store lock: HEAD, and which of the
    ticket files the change names have changes not committed (one git process instead of one per
    question: at 100,000 files each reads the whole index)."""

    head: str | None
    checked: dict[str, bool]  # path relative to the store root -> has changes not committed


@contextlib.contextmanager
def writing(ctx: Context, *tickets: str, dry_run: bool = False, also: Sequence[str] = ()) -> Iterator[Began]:
    """Hold the store lock for a whole change, after finishing whatever change a killed erflow left;
    refuse it if git is in the middle of an operation or HEAD is detached (``require_branch``), or
    if workflow.yaml has changes not committed. ``tickets`` are the ids the change reads: whether
    their files (and the files ``also`` names, relative to the store root) have changes not
    committed is asked of git in the same breath. A ``dry_run`` writes
    nothing, so it is not refused for git's state."""
    try:
        git_dir = ctx.git.git_dir()
    except ErflowError:
        raise UsageError(
            f"{ctx.store.root} is not in a git work tree", hint="erflow init makes one"
        ) from None
    with ctx.store.lock(git_dir):
        if not dry_run:
            require_branch(ctx.git, git_dir)
        _recover(ctx, git_dir)
        paths = []
        for raw_id in tickets:
            with contextlib.suppress(ErflowError):  # not found: told when the change reads it
                paths.append(ctx.store.relative(ctx.store.find(raw_id)))
        paths += [path for path in also if path not in paths]
        status = ctx.git.status([store.WORKFLOW, *paths])
        if store.WORKFLOW in status.dirty:
            raise Conflict(
                f"{store.WORKFLOW} has changes not committed",
                hint="keep your version in another file, put workflow.yaml back (git checkout -- "
                "workflow.yaml), then erflow workflow apply FILE: a change of the rules committed by "
                "hand is a violation for the audit; nothing was changed",
            )
        yield Began(status.head, {path: path in status.dirty for path in paths})


def require_branch(git: Git, git_dir: Path | None = None) -> None:
    """Refuse a change while git is in the middle of a rebase, merge, cherry-pick, revert, bisect or
    ``git am``, or HEAD is detached: a commit made then is lost when the operation is aborted or the
    branch checked out again (it lives on only in the reflog). Checked before anything is written."""
    from erflow.store.gitstate import in_progress

    if git_dir is None:
        try:
            git_dir = git.git_dir()
        except ErflowError:
            return  # not in git: the change itself says so
    operation = in_progress(git_dir, git)
    if operation is not None:
        raise Conflict(
            f"{operation.state}: {operation.ends}",
            hint="nothing was changed; reading commands still work",
        )


def _recover(ctx: Context, git_dir: Path) -> None:
    """Finish the change a journal left behind describes (erflow/store/journal.py): its process was killed,
    or failed, midway. Called under the store lock, so that process is gone.

    - The commit did not land (HEAD is still the change's parent): every file goes back as it was
      (a new one goes, with its empty folders), unstaged, with any stray temp file beside it.
    - It landed (HEAD is a commit on that parent with the change's message): it is kept, and so
      are the emails it queued in the outbox (``erflow outbox flush`` delivers them).
    - Anything else (someone committed on top since): Conflict, and nothing is changed.

    The journal goes once those files are as HEAD has them; until then every change refuses.
    """
    from erflow.store import journal

    found = journal.load(git_dir)
    if found is None:
        return
    where = journal.location(git_dir)
    paths = list(found.files)
    for rel in paths:  # nothing restored, removed or unstaged through a symlink
        try:
            store_paths.plain(ctx.store.root, rel)
        except InvalidData as exc:
            raise InvalidData(
                f"{exc.message}; the interrupted erflow change in {where} is not undone through it",
                hint="replace the symlink by the folder itself, or put the files right by hand and "
                "delete the journal; nothing was changed",
            ) from None
    head = ctx.git.head()
    if head == found.parent:
        _restore(ctx, found.files)
        if paths:  # (no paths would unstage everything)
            ctx.git.unstage(paths)
    elif head is not None and _landed(ctx, head, found.parent, found.message, found.commit):
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


def load_for_change(
    ctx: Context, raw_id: str, began: Began, already_read: TicketFile | None = None
) -> Pending:
    """The ticket a change edits, read once under the store lock; refused if its file has changes not
    committed. ``already_read`` (the file as a view read it before the lock) is used instead of
    reading the file again when it is that file, unchanged since."""
    path = ctx.store.find(raw_id)
    rel = ctx.store.relative(path)
    dirty = began.checked[rel] if rel in began.checked else bool(ctx.git.dirty([rel]))
    if dirty:
        raise Conflict(
            f"{rel} has changes not committed by erflow",
            hint="commit or discard them (git diff shows them), then retry; nothing was changed",
        )
    if already_read is not None and already_read.path == path and already_read.unchanged():
        file = already_read
    else:
        file = read_ticket(ctx, path)
    return Pending(file.ticket, file.type, path, file.data)


def commit(
    ctx: Context,
    began: Began,
    pending: Sequence[Pending],
    change: Change | RulesChange | QuarantineChange | DigestChange,
    outgoing: Sequence[Email] = (),
    documents: Sequence[tuple[Path, str | bytes]] = (),
    removed: Sequence[Path] = (),
) -> str:
    """Write every file and commit them as one; ``outgoing`` emails are queued in the outbox by that
    same commit (``app.outbox.deliver`` delivers them once it has landed).

    Each email is written as an outbox entry (its Message-ID fixed) and given a delivery record
    (erflow/store/outbox.py) before the commit, so the change and its emails land together or not
    at all, and no customer gets an email for a change that did not land.

    Before the first file is touched, a journal (erflow/store/journal.py) records the change, and it goes
    only once the change is complete: a process killed at any point (erflow/store/faults.py names the
    points) leaves the next change what it needs to undo or keep this one (``_recover``), which is
    also how a failure here is undone.
    """
    from erflow.store import faults, journal
    from erflow.store import outbox as records

    for path in [item.path for item in pending] + [path for path, _ in documents] + list(removed):
        store_paths.plain(ctx.store.root, path)  # nothing written through a symlink, checked first
    queued = _queue(ctx, outgoing) if outgoing else []
    for path, _, _ in queued:
        store_paths.plain(ctx.store.root, path)
    documents = [*documents, *((path, data) for path, data, _ in queued)]
    parent = began.head
    written = [ctx.store.relative(path) for path in [*(p for p, _ in documents), *removed]]
    dirty = [path for path in written if began.checked.get(path)]  # asked as the change began
    dirty += ctx.git.dirty([path for path in written if path not in began.checked])
    if dirty:
        raise Conflict(
            f"{dirty[0]} has changes not committed by erflow", hint="commit or discard them, then retry"
        )
    originals = {ctx.store.relative(item.path): item.original for item in pending}
    for path in [*(p for p, _ in documents), *removed]:
        originals[ctx.store.relative(path)] = path.read_bytes() if path.is_file() else None
    rel = list(originals)
    message = change.message([p.ticket.id for p in pending[1:]])
    git_dir = ctx.git.git_dir()
    begun = journal.Journal(parent, message, originals)
    journal.save(git_dir, begun)
    try:
        faults.point("journal-written")
        for item in pending:
            item.ticket.meta["updated"] = model.timestamp(ctx.now)
            ctx.store.write(item.ticket, list(item.type.fields), item.path)
        for path, text in documents:
            write_atomic(path, text)
        for path in removed:
            path.unlink(missing_ok=True)
        for _, _, record in queued:  # meaningless unless the commit lands (store/outbox.py)
            records.save(git_dir, record)
        faults.point("files-written")
        commit = ctx.git.commit(
            rel, message, ctx.author(), model.timestamp(ctx.now),
            on_child=lambda pid: journal.save(git_dir, begun.at("committing", git_pid=pid)),
            parent=parent, untracked=[path for path, before in originals.items() if before is None],
        )  # fmt: skip
        journal.save(git_dir, begun.at("committed", commit=commit))
        faults.point("committed")
    except BaseException:
        # Undo what did not land. Should that fail too, the journal stays for the next change to
        # finish, and this error is the one told.
        with contextlib.suppress(ErflowError):
            _recover(ctx, git_dir)
            if queued and ctx.git.head() == parent:  # undone: its emails' records mean nothing
                for _, _, record in queued:
                    records.remove(git_dir, record.key)
        raise
    journal.clear(git_dir)
    if commit.endswith(GRAPH_EVERY):
        ctx.git.write_commit_graph()
    return commit


def _queue(ctx: Context, outgoing: Sequence[Email]) -> list[tuple[Path, bytes, OutboxRecord]]:
    """Each email as an outbox entry (path, bytes) and its delivery record, pending; the sender as
    ERFLOW_SMTP_FROM says. Needs the SMTP settings (a UsageError before anything is written)."""
    from erflow.mail import outbox
    from erflow.store.outbox import Record

    config = smtp_config(ctx)
    queued = []
    for mail in outgoing:
        if config.sender is not None:
            mail = dataclasses.replace(mail, sender=config.sender)
        data = outbox.entry_bytes(mail)
        rel = outbox.entry_path(mail.ticket_id, mail.message_id)
        record = Record(
            outbox.key(mail.message_id), rel, mail.ticket_id, mail.message_id, outbox.digest(data),
            queued=model.timestamp(ctx.now),
        )  # fmt: skip
        queued.append((ctx.store.root / rel, data, record))
    return queued


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
            write_atomic(path, original)
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
    """Remove the temp files ``.<name>.*.tmp`` that a killed ``write_atomic`` left next to ``path``."""
    prefix = f".{path.name}."
    try:
        beside = list(path.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for stray in beside:
        if stray.name.startswith(prefix) and stray.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                stray.unlink()
