"""The outbox: customer emails delivered exactly once, whatever fails or is killed.

A change that sends email commits its outbox entries with it (app/transaction.py), then, still under
the store lock, hands them to SMTP here. Each step is recorded first (erflow/store/outbox.py): an
entry is marked ``sending`` before its SMTP transaction starts and ``sent`` once the server accepted
it, so a process killed in between leaves it ``sending``: its fate unknown, it is listed as such and
sent again only when told (``flush --resend``). A server that is down or refuses leaves it pending
(or failed); ``flush`` (and ``sweep``) try again, with the same bytes and Message-ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app import transaction
from erflow.app.context import Context
from erflow.app.emails import EmailResult, smtp_config
from erflow.core import model
from erflow.core.errors import ErflowError, NotFound
from erflow.store import outbox as records
from erflow.store.outbox import Record

if TYPE_CHECKING:
    from erflow.mail.outbox import Entry

SHOWN = {"pending": "pending", "failed": "failed", "sending": "unknown", "sent": "sent", "bounced": "bounced"}


@dataclass
class OutboxEntry:
    """One message of the outbox, as ``erflow outbox`` lists it."""

    record: Record
    to: str = ""
    subject: str = ""

    @property
    def status(self) -> str:
        return SHOWN[self.record.status]

    @property
    def hint(self) -> str | None:
        if self.record.status == "sending":
            return f"delivery unknown (killed mid-send?); erflow outbox flush --resend {self.record.key}"
        if self.record.status == "bounced":
            return f"returned by the customer's mail server: check customer_email of {self.record.ticket}"
        return None

    def as_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "id": r.key, "ticket": r.ticket, "to": self.to, "subject": self.subject, "status": self.status,
            "attempts": r.attempts, "last_error": r.last_error, "message_id": r.message_id,
            "queued": r.queued, "sent": r.sent, "path": r.path, "hint": self.hint,
        }  # fmt: skip


@dataclass
class FlushResult:
    delivered: list[OutboxEntry] = field(default_factory=list)
    left: list[OutboxEntry] = field(default_factory=list)  # still pending, failed or unknown
    skipped: str | None = None  # why nothing was tried (sweep without SMTP settings)

    def as_json(self) -> dict[str, Any]:
        return {
            "delivered": [e.as_json() for e in self.delivered],
            "left": [e.as_json() for e in self.left],
            "skipped": self.skipped,
        }


def deliver(ctx: Context, results: Sequence[EmailResult]) -> None:
    """Deliver the emails a change has just queued (call after its commit, under the store lock);
    each result then says whether it went (``sent``) or why not (``problem``). A delivery failure
    never fails the change: the emails stay in the outbox."""
    from erflow.mail.outbox import key

    queued = {key(r.message_id): r for r in results if r.queued}
    if not queued:
        return
    git_dir = ctx.git.git_dir()
    found = [records.load(git_dir, k) for k in queued]
    done = _deliver(ctx, git_dir, [r for r in found if r is not None and r.status == "pending"])
    for record in done:
        result = queued[record.key]
        result.sent = record.status == "sent"
        result.problem = None if result.sent else (record.last_error or SHOWN[record.status])


def flush_for_sweep(ctx: Context) -> FlushResult:
    """What ``sweep`` does after its timers: a flush that never fails the sweep (no SMTP settings, a
    store locked or mid-change: nothing is tried and the reason is told), and costs one look at a
    folder when nothing waits."""
    try:
        if not records.load_all(ctx.git.git_dir()):
            return FlushResult()
        return flush(ctx, need_smtp=False)
    except ErflowError as exc:
        return FlushResult(skipped=f"the outbox was not flushed: {exc}")


def flush(
    ctx: Context, *, resend: bool = False, only: Sequence[str] = (), need_smtp: bool = True
) -> FlushResult:
    """Deliver every pending or failed message of this clone's outbox (with ``resend``, those whose
    delivery is unknown too); ``only``: just these (ids or Message-IDs). Without SMTP settings,
    a UsageError, or (``need_smtp`` false) nothing tried and the reason told."""
    with transaction.writing(ctx):
        git_dir = ctx.git.git_dir()
        live = _live(ctx, git_dir, tidy=True)
        if only:
            wanted = set(only)
            unknown = wanted - {r.key for r in live} - {r.message_id for r in live}
            if unknown:
                raise NotFound(
                    f"no message {sorted(unknown)[0]} waits in the outbox", hint="erflow outbox lists them"
                )
            live = [r for r in live if r.key in wanted or r.message_id in wanted]
        tried = [r for r in live if r.status in ("pending", "failed") or (resend and r.status == "sending")]
        result = FlushResult()
        if not tried:
            result.left = [_entry(ctx, r) for r in live]
            return result
        if not need_smtp and not ctx.env.get("ERFLOW_SMTP_HOST", "").strip():
            result.skipped = f"{len(tried)} email(s) wait in the outbox: ERFLOW_SMTP_HOST is not set"
            result.left = [_entry(ctx, r) for r in live]
            return result
        done = {r.key: r for r in _deliver(ctx, git_dir, tried)}
        for record in live:
            entry = _entry(ctx, done.get(record.key, record))
            (result.delivered if entry.record.status == "sent" else result.left).append(entry)
        return result


def listing(ctx: Context, *, sent: bool = False) -> list[OutboxEntry]:
    """The messages of this clone's outbox not yet delivered (with ``sent``, those delivered too)."""
    return [_entry(ctx, r) for r in _live(ctx, ctx.git.git_dir(), sent=sent)]


def _live(ctx: Context, git_dir: Path, *, sent: bool = False, tidy: bool = False) -> list[Record]:
    """The records whose entries HEAD holds; the others belong to changes that did not land (with
    ``tidy``, under the store lock, they are removed)."""
    from erflow.store.git import tree_files

    found = records.load_all(git_dir, sent=sent)
    if not found:
        return []
    try:
        committed = {path for path, _ in tree_files(ctx.git, "HEAD", records.FOLDER)}
    except ErflowError:  # no commit yet
        committed = set()
    live = []
    for record in found:
        if record.path in committed:
            live.append(record)
        elif tidy and record.status != "sent":
            records.remove(git_dir, record.key)
    return live


def _entry(ctx: Context, record: Record) -> OutboxEntry:
    try:
        entry = _read(ctx, record)
    except ErflowError:
        return OutboxEntry(record)
    return OutboxEntry(record, entry.to, entry.subject)


def _read(ctx: Context, record: Record) -> Entry:
    """The entry as queued, or InvalidData: gone, or changed since (then it is not sent)."""
    from erflow.core.errors import InvalidData
    from erflow.mail.outbox import digest, read_entry

    path = ctx.store.root / record.path
    try:
        data = path.read_bytes()
    except OSError:
        raise InvalidData(f"{record.path}: outbox entry missing; not sent") from None
    if digest(data) != record.digest:
        raise InvalidData(f"{record.path}: changed since it was queued; not sent")
    return read_entry(record.path, data)


def _deliver(ctx: Context, git_dir: Path, chosen: Sequence[Record]) -> list[Record]:
    """Hand these messages to SMTP in one session, recording each step before it; their records as
    they end."""
    from erflow.mail.smtp import deliver
    from erflow.store import faults

    now = model.timestamp(ctx.now)
    state: list[Record] = []
    entries: list[Entry] = []
    finished: list[Record] = []
    for record in chosen:
        try:
            entries.append(_read(ctx, record))
            state.append(record)
        except ErflowError as exc:
            failed = record.at("failed", attempts=record.attempts + 1, last_error=exc.message)
            records.save(git_dir, failed)
            finished.append(failed)
    if not entries:
        return finished

    def before(number: int) -> None:
        state[number] = state[number].at("sending", attempts=state[number].attempts + 1)
        records.save(git_dir, state[number])
        faults.point("sending")

    def accepted(number: int) -> None:
        faults.point("smtp-accepted")
        state[number] = state[number].at("sent", last_error=None, sent=now)
        records.save(git_dir, state[number])

    outcomes = deliver(entries, smtp_config(ctx), before=before, accepted=accepted)
    for number, outcome in enumerate(outcomes):
        record = state[number]
        if outcome.status == "refused":
            record = record.at("failed" if outcome.permanent else "pending", last_error=outcome.error)
        elif outcome.status == "unknown":
            record = record.at("sending", last_error=outcome.error)
        elif outcome.status == "not tried":
            record = record.at(record.status, attempts=record.attempts + 1, last_error=outcome.error)
        if record is not state[number]:
            records.save(git_dir, record)
        finished.append(record)
    return finished
