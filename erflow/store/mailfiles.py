"""Received mail as the store keeps it, committed with the change it made:

- ``mail/<ticket id>/<key>.eml``: the message exactly as it came (nothing is lost by reading only
  the reply out of it), ``key`` a hash of its Message-ID (of its bytes when it has none);
- ``mail/<ticket id>/<key>/<name>``: its attachments, names made safe;
- ``mail/quarantine/<key>.eml`` and ``<key>.json``: a message that could not be taken in, and why.

A message is received once: its key found anywhere under ``mail/`` means it was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from erflow.core.errors import InvalidData, NotFound

FOLDER = "mail"
QUARANTINE = "quarantine"


def message_path(ticket_id: str, key: str) -> str:
    return f"{FOLDER}/{ticket_id}/{key}.eml"


def attachment_folder(ticket_id: str, key: str) -> str:
    return f"{FOLDER}/{ticket_id}/{key}"


def quarantine_paths(key: str) -> tuple[str, str]:
    return f"{FOLDER}/{QUARANTINE}/{key}.eml", f"{FOLDER}/{QUARANTINE}/{key}.json"


def received(root: Path, key: str) -> str | None:
    """Where a message with this key is kept (relative to the store root), if it was received."""
    folder = root / FOLDER
    if not folder.is_dir():
        return None
    for path in folder.glob(f"*/{key}.eml"):
        return path.relative_to(root).as_posix()
    return None


@dataclass(frozen=True)
class Quarantined:
    """Why a message waits in quarantine, and where it came from."""

    key: str
    reason: str
    received: str  # ISO 8601
    where: str  # its source: stdin, a file, "imap INBOX uid 17"...
    sender: str = ""
    subject: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def quarantine_record(item: Quarantined) -> str:
    return json.dumps(item.as_json(), indent=1, ensure_ascii=False) + "\n"


def quarantined(root: Path) -> list[Quarantined]:
    """Every message in quarantine, oldest first; an unreadable record is refused, naming its file."""
    folder = root / FOLDER / QUARANTINE
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        found.append(_read(path))
    return sorted(found, key=lambda q: (q.received, q.key))


def quarantined_one(root: Path, key: str) -> tuple[Quarantined, bytes]:
    """One message in quarantine (its key, or the start of it) and its bytes."""
    matches = [q for q in quarantined(root) if q.key.startswith(key.strip().lower())] if key.strip() else []
    if not matches:
        raise NotFound(
            f"no message {key!r} in {FOLDER}/{QUARANTINE}/", hint="erflow mail quarantine lists them"
        )
    if len(matches) > 1:
        raise InvalidData(f"{key!r} names {len(matches)} messages in quarantine; give more of the key")
    item = matches[0]
    return item, (root / quarantine_paths(item.key)[0]).read_bytes()


def _read(path: Path) -> Quarantined:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        item = Quarantined(**data)
        if item.key != path.stem:
            raise ValueError(f"key {item.key!r}")
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidData(f"{path}: unreadable quarantine record ({exc})") from None
    return item
