"""The desk's mailbox: a batch of messages from a source (IMAP, a Maildir, an mbox) taken in one by
one, each marked processed at its source only once its commit has landed; the quarantine listed and
tried again.

Exactly once: a message is marked at its source after its commit, and taking a message in that was
taken before changes nothing (erflow/app/inbound.py), so a batch killed at any point and run again
processes each message once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from erflow.app.context import Context
from erflow.app.inbound import receive
from erflow.app.received import Received
from erflow.store import faults, mailfiles

if TYPE_CHECKING:
    from erflow.mail.sources import Source


@dataclass
class Batch:
    """What one pass over a source did."""

    results: list[Received] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def summary(self) -> str:
        if not self.results:
            return "no new messages"
        parts = [f"{len(self.results)} message{'s' if len(self.results) != 1 else ''}"]
        for outcome in ("new", "reply", "moved", "bounce", "duplicate", "quarantined"):
            if self.count(outcome):
                parts.append(f"{self.count(outcome)} {outcome}")
        return ", ".join(parts)


def fetch(
    ctx: Context, source: Source, *, send: bool = False, told: Callable[[Received], None] | None = None
) -> Batch:
    """Take in every message the source has not marked processed, oldest first; ``told`` hears of
    each as it is done. An error that is not the message's (the store locked, git refusing) stops
    the batch: the messages left stay unmarked, for the next run."""
    batch = Batch()
    for item in source.messages():
        result = receive(ctx, item.data, where=item.where, send=send)
        faults.point("mail-received")
        source.done(item)
        batch.results.append(result)
        if told is not None:
            told(result)
    return batch


def quarantined(ctx: Context) -> list[mailfiles.Quarantined]:
    return mailfiles.quarantined(ctx.store.root)


def retry(ctx: Context, key: str, *, send: bool = False) -> Received:
    """Take a quarantined message in again (after the workflow or the store was fixed); the commit
    that takes it in removes it from the quarantine."""
    item, data = mailfiles.quarantined_one(ctx.store.root, key)
    return receive(ctx, data, where=item.where, send=send, retry=item.key)
