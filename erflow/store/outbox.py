"""The outbox's delivery records: how far this clone got in handing each queued email to SMTP.

A message a change sends is committed with that change as ``outbox/<ticket id>/<key>.eml`` (the
message as it goes out, its Message-ID fixed; erflow/mail/outbox.py). Whether it has been delivered
is a fact about this clone and its SMTP server, not about the ticket, so it is kept beside the
journal, never committed: ``<git dir>/erflow/outbox/<key>.json``. Each record is written (and
fsynced) before the step it announces:

=========  ====================================================================================
status     meaning
=========  ====================================================================================
pending    queued by a change; not delivered yet (``attempts`` tries failed, ``last_error`` why)
failed     the server refused it (a 5xx answer); ``erflow outbox flush`` tries again
sending    its SMTP transaction began and its end was never recorded: the server may or may not
           have accepted it (listed as "unknown"; sent again only with ``flush --resend``)
sent       the server accepted it
bounced    accepted, then returned: a bounce (a delivery status notification) came in for it;
           never sent again (the address is wrong, not the moment)
=========  ====================================================================================

Open records are ``<key>.json``; a delivered one moves to ``sent/<key>.json`` (written there first:
should both exist, the message was sent), so a listing reads only the open ones.

A record is written before the change that queues its message commits; a record whose message is
not in HEAD (the change did not land) means nothing and is removed by the next flush. An entry in
HEAD without a record here was queued by another clone, which delivers it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from erflow.core.errors import InvalidData
from erflow.store.files import write_atomic

FOLDER = "outbox"  # in the store (entries, committed) and in <git dir>/erflow (records, local)
STATUSES = ("pending", "failed", "sending", "sent", "bounced")


@dataclass(frozen=True)
class Record:
    key: str  # the entry's file name without .eml: a hash of its Message-ID
    path: str  # the entry, relative to the store root
    ticket: str
    message_id: str
    digest: str  # sha256 of the entry's bytes when queued: a hand-edited entry is not sent
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    queued: str = ""  # ISO 8601
    sent: str | None = None  # ISO 8601, once the server accepted it

    def at(self, status: str, **changes: Any) -> Record:
        return replace(self, status=status, **changes)


def folder(git_dir: Path) -> Path:
    return git_dir / "erflow" / FOLDER


def location(git_dir: Path, key: str, status: str = "pending") -> Path:
    return folder(git_dir) / ("sent" if status == "sent" else "") / f"{key}.json"


def save(git_dir: Path, record: Record) -> None:
    """Write the record atomically and durably (fsynced before the rename); a record marked sent
    moves to ``sent/``."""
    data = json.dumps(asdict(record), indent=1, ensure_ascii=False) + "\n"
    write_atomic(location(git_dir, record.key, record.status), data)
    if record.status == "sent":
        with contextlib.suppress(FileNotFoundError):
            location(git_dir, record.key).unlink()


def load(git_dir: Path, key: str) -> Record | None:
    """The record of ``key`` (the sent one, if any), or None."""
    for status in ("sent", "pending"):
        path = location(git_dir, key, status)
        if path.is_file():
            return _read(path)
    return None


def load_all(git_dir: Path, *, sent: bool = False) -> list[Record]:
    """Every open record (and the sent ones too with ``sent``), oldest queued first; an unreadable
    one is refused, naming its file."""
    where = folder(git_dir)
    paths = sorted(where.glob("*.json"))
    if sent:
        paths += sorted(where.glob("sent/*.json"))
    records: dict[str, Record] = {}
    for path in paths:
        record = _read(path)
        records[record.key] = record  # a sent one (read last) wins over an open one left beside it
    return sorted(records.values(), key=lambda r: (r.queued, r.key))


def _read(path: Path) -> Record:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = Record(**data)
        if record.status not in STATUSES or record.key != path.stem:
            raise ValueError(f"status {record.status!r}, key {record.key!r}")
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidData(
            f"{path}: unreadable outbox record ({exc})",
            hint="delete it if its message was delivered; nothing was changed",
        ) from None
    return record


def bounced(git_dir: Path, key: str, error: str) -> bool:
    """Mark a delivered message as bounced (listed by ``erflow outbox``, not sent again); False when
    this clone has no record of it (another clone sent it)."""
    record = load(git_dir, key)
    if record is None:
        return False
    save(git_dir, record.at("bounced", last_error=error))
    with contextlib.suppress(FileNotFoundError):
        location(git_dir, key, "sent").unlink()
    return True


def remove(git_dir: Path, key: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        location(git_dir, key).unlink()
