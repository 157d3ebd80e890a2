"""The daily staff digest: each person's reminders (app/reminders.py) mailed to them once a day.

A day is a date in the workflow calendar's time zone. Each person's digest of a day has one
Message-ID, made from the person and the day alone, so its outbox entry has one path,
``outbox/digest/<day>/<key>.eml``. The entries of a run are committed as one commit ``digest <day>``
under the store lock, then delivered through the outbox (app/outbox.py), still under the lock. A
person whose entry for the day is already in HEAD is skipped: a second run the same day, or a run
after one killed between its commit and SMTP, sends nothing twice (what that one left pending in
the outbox is delivered then, once). A person with no reminders, or with ``digest`` under their
``mute:``, gets nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from erflow.app import transaction
from erflow.app.context import Context
from erflow.app.emails import EmailResult, smtp_config, will_send
from erflow.app.reminders import NO_DEADLINE, Reminder, _span, everyones, person_of
from erflow.store.commits import DigestChange

if TYPE_CHECKING:
    from erflow.core.workflow import Person
    from erflow.mail.message import Email
    from erflow.mail.templates import TemplateSet

TEMPLATE = "staff_digest"
EVENT = "digest"  # the name under a person's ``mute:``
FOLDER = "outbox/digest"
SYSTEM_ACTOR = "erflow@localhost"  # the author when nobody is acting (cron without a git user)

# What a digest did, or would do, for one person.
SENT = "sent"  # the SMTP server accepted it
QUEUED = "queued"  # committed in the outbox, not delivered yet (``problem`` says why)
ALREADY = "already sent"  # the day's digest is in HEAD already: nothing queued again
NOTHING = "nothing to send"  # no reminders
MUTED = "muted"  # ``mute: [digest]`` in their people entry
PREVIEW = "not sent"  # rendered only (no --send): nothing written
WOULD = "would send"  # --dry-run


@dataclass
class Digest:
    """One person's digest of one day: the reminders it holds, what became of it, and the message
    (when one was rendered)."""

    person: str
    day: str
    rows: list[Reminder]
    status: str = NOTHING
    mail: Email | None = None
    problem: str | None = None  # why a queued digest is not delivered yet
    key: str = ""  # the outbox entry's key (a hash of its Message-ID)
    path: str = ""  # the outbox entry, relative to the store root

    def line(self) -> str:
        count = len(self.rows)
        what = f"{count} reminder{'' if count == 1 else 's'} to {self.person}: {self.status}"
        if self.status == QUEUED:
            what += f" ({self.problem or 'pending'}; erflow outbox flush delivers it)"
        return what

    def as_json(self) -> dict[str, Any]:
        mail = self.mail
        return {
            "person": self.person,
            "day": self.day,
            "reminders": len(self.rows),
            "ids": [row.id for row in self.rows],
            "status": self.status,
            "sent": self.status == SENT,
            "subject": mail.subject if mail else None,
            "message_id": mail.message_id if mail else None,
            "path": self.path or None,
            "problem": self.problem,
            "text": mail.as_text() if mail and self.status == PREVIEW else None,
        }


@dataclass
class DigestRun:
    """A run's day, each person's digest, its commit (None when nothing was queued) and the ticket
    files the reminders could not read."""

    day: str
    digests: list[Digest] = field(default_factory=list)
    commit: str | None = None
    problems: list[str] = field(default_factory=list)


def day_of(ctx: Context) -> str:
    """Today in the workflow calendar's time zone (ISO date)."""
    return ctx.now.astimezone(ctx.workflow.calendar.tz).date().isoformat()


def message_id(person: str, day: str) -> str:
    """The Message-ID of ``person``'s digest of ``day``: the same whoever runs it, and however often."""
    token = hashlib.sha256(f"{day} {person}".encode()).hexdigest()[:20]
    domain = person.rpartition("@")[2] or "localhost"
    return f"<erflow.digest.{day}.{token}@{domain}>"


def entry_path(person: str, day: str) -> str:
    from erflow.mail import outbox

    return f"{FOLDER}/{day}/{outbox.key(message_id(person, day))}.eml"


def digest(
    ctx: Context, person: str | None = None, *, send: bool = False, dry_run: bool = False
) -> DigestRun:
    """Each person's digest of today (everyone under ``people``, or ``person``): rendered, and with
    ``send`` (or the workflow's ``send_emails``) queued in one commit and delivered; ``dry_run``
    (and a run without ``send``) writes nothing."""
    from erflow.mail.outbox import key

    people = [person_of(ctx, person)] if person else list(ctx.workflow.people)
    run = DigestRun(day_of(ctx))
    waiting = everyones(ctx, people)
    for email in people:
        found = waiting[email]
        run.problems += [p for p in found.problems if p not in run.problems]
        one = Digest(email, run.day, found.rows)
        someone = ctx.workflow.people[email]
        if EVENT in someone.mute:
            one.status = MUTED
        elif one.rows:
            one.mail = _render(ctx, someone, run.day, one.rows)
            one.path = entry_path(email, run.day)
            one.key = key(one.mail.message_id)
        run.digests.append(one)
    chosen = [d for d in run.digests if d.mail is not None]
    if not chosen:
        return run
    if dry_run or not will_send(ctx, send):
        done = _in_head(ctx, run.day)
        for one in chosen:
            one.status = ALREADY if one.path in done else WOULD if dry_run else PREVIEW
        return run
    _send(ctx, run, chosen)
    return run


def _send(ctx: Context, run: DigestRun, chosen: list[Digest]) -> None:
    """Under the store lock: skip those whose entry HEAD holds, commit the others' entries as one,
    deliver them; then deliver what an earlier run of the day left pending."""
    from erflow.app import outbox
    from erflow.store import outbox as records

    smtp_config(ctx)  # no SMTP settings: refused before anything is written
    if not ctx.actor:
        ctx.actor = SYSTEM_ACTOR
    earlier: list[Digest] = []
    with transaction.writing(ctx, also=[d.path for d in chosen]) as began:
        done = _in_head(ctx, run.day)
        fresh = [d for d in chosen if d.path not in done]
        git_dir = ctx.git.git_dir()
        for one in chosen:
            if one.path in done:
                one.status = ALREADY
                record = records.load(git_dir, one.key)
                if record is not None and record.status in ("pending", "failed"):
                    earlier.append(one)
        if fresh:
            change = DigestChange(run.day, tuple((d.person, len(d.rows)) for d in fresh), ctx.actor)
            mails = [d.mail for d in fresh if d.mail is not None]
            run.commit = transaction.commit(ctx, began, [], change, outgoing=mails)
            results = [_result(mail) for mail in mails]
            outbox.deliver(ctx, results)
            for one, result in zip(fresh, results, strict=True):
                one.status = SENT if result.sent else QUEUED
                one.problem = None if result.sent else result.problem
    if earlier:
        flushed = outbox.flush(ctx, only=[d.key for d in earlier])
        sent = {e.record.key for e in flushed.delivered}
        for one in earlier:
            one.status = SENT if one.key in sent else QUEUED
            left = next((e for e in flushed.left if e.record.key == one.key), None)
            one.problem = left.record.last_error if left is not None else None


def _result(mail: Email) -> EmailResult:
    return EmailResult(TEMPLATE, mail.to, mail.subject, False, "", mail.message_id, queued=True)


def _in_head(ctx: Context, day: str) -> set[str]:
    """The day's digest entries HEAD holds (paths relative to the store root)."""
    from erflow.core.errors import ErflowError
    from erflow.store.git import tree_files

    try:
        return {path for path, _ in tree_files(ctx.git, "HEAD", f"{FOLDER}/{day}")}
    except ErflowError:  # no commit yet
        return set()


def _render(ctx: Context, person: Person, day: str, rows: list[Reminder]) -> Email:
    settings = ctx.workflow.settings
    portal = str(settings.get("portal_url") or "{id}")
    values = {
        "email": person.email,
        "name": person.name,
        "day": day,
        "sender_name": str(settings.get("sender_name") or ""),
        "rows": [
            {
                "id": row.id,
                "title": row.title,
                "kind": row.kind,
                "why": row.why,
                "left": _left(row.urgency),
                "next": row.next or "-",
                "link": portal.replace("{id}", row.id),
            }
            for row in rows
        ],
    }
    mail = _templates(ctx).render(
        TEMPLATE,
        values,
        ticket_id=f"digest/{day}",
        sender=str(settings.get("sender") or ctx.actor or SYSTEM_ACTOR),
        to=person.email,
        to_name=person.name,
    )
    return dataclasses.replace(mail, date=ctx.now, message_id=message_id(person.email, day))


def _templates(ctx: Context) -> TemplateSet:
    """The store's templates; erflow's own staff_digest when the store has none (made before it)."""
    if ctx.templates.exists(TEMPLATE):
        return ctx.templates
    from erflow.app.setup import DEFAULTS
    from erflow.mail.templates import TemplateSet

    return TemplateSet(DEFAULTS / "templates")


def _left(urgency: int) -> str:
    if urgency >= NO_DEADLINE:
        return "no deadline"
    if urgency < 0:
        return f"overdue {_span(-urgency)}"
    return f"{_span(urgency)} left"
