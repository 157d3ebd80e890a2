"""The ticket: flat front-matter values plus a Markdown body of description, notes and emails.

Pure data; reading and writing files is the store's job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .fields import COMMON_NAMES

# Body sections, in file order, after the request text. Entries are Markdown list items whose
# continuation lines are indented, so no entry line can ever look like a section heading.
SECTIONS = ("Notes", "Communications")


@dataclass
class Ticket:
    meta: dict[str, Any]
    description: str = ""
    sections: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    @property
    def id(self) -> str:
        return str(self.meta.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.meta.get("type", ""))

    @property
    def state(self) -> str:
        return str(self.meta.get("state", ""))

    def copy(self) -> Ticket:
        return Ticket(
            {k: list(v) if isinstance(v, list) else v for k, v in self.meta.items()},
            self.description,
            {k: list(v) for k, v in self.sections.items()},
        )

    def add_entry(self, section: str, entry: str) -> None:
        self.sections.setdefault(section, []).append(entry)

    def body(self) -> str:
        parts = [self.description.rstrip("\n")]
        for name in SECTIONS:
            entries = self.sections.get(name, [])
            parts.append(f"## {name}\n" + ("\n" + "\n".join(entries) if entries else ""))
        return "\n\n".join(parts).lstrip("\n") + "\n"


def ordered(meta: dict[str, Any], type_fields: list[str]) -> dict[str, Any]:
    """Front-matter keys in the contract's order: common keys, the type's fields, then the rest."""
    result = {k: meta[k] for k in COMMON_NAMES if k in meta}
    result.update({k: meta[k] for k in type_fields if k in meta and k not in result})
    result.update({k: v for k, v in meta.items() if k not in result})
    return result


def brief(value: Any) -> str:
    """A field value in a Notes heading: one short line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def timestamp(now: dt.datetime) -> str:
    return now.isoformat(timespec="seconds")


def entry(now: dt.datetime, head: str, text: str = "") -> str:
    """One log entry: ``- **time** head`` then the text, every line indented."""
    head = " ".join(head.split())  # one line: a line break could forge an entry of its own
    lines = [f"- **{timestamp(now)}** {head}".rstrip()]
    for line in text.strip("\n").splitlines():
        lines.append(f"  {line}".rstrip() if line.strip() else "")
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines).replace("\n\n", "\n  \n")
