"""The ticket: flat front-matter values plus a Markdown body of description, notes and emails.

Pure data; reading and writing files is the store's job.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from erflow.core.fields import COMMON_NAMES
from erflow.core.record import Record, field

# Body sections, in file order, after the request text. Entries are Markdown list items whose
# continuation lines are indented, so no entry line can ever look like a section heading.
# "Notes" and "Communications" are always written (their headings anchor the parse); an optional
# section is written only when it has entries, and always between two anchored ones.
SECTIONS = ("Notes", "Time", "Communications")
OPTIONAL_SECTIONS = frozenset({"Time"})

# Relations between tickets, each with the inverse the other ticket gets.
LINK_INVERSE = {
    "parent": "child",
    "child": "parent",
    "blocks": "blocked_by",
    "blocked_by": "blocks",
    "duplicates": "duplicated_by",
    "duplicated_by": "duplicates",
    "relates": "relates",
    "implements": "implemented_by",
    "implemented_by": "implements",
    "creates": "created_by",
    "created_by": "creates",
}


class Ticket(Record, frozen=False):
    meta: dict[str, Any]
    description: str = ""
    sections: dict[str, list[str]] = field(
        default_factory=lambda: {s: [] for s in SECTIONS if s not in OPTIONAL_SECTIONS}
    )

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
            if name in OPTIONAL_SECTIONS and not entries:
                continue
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


_TIME_ENTRY = re.compile(
    r"^- \*\*[^*]+\*\* \S+: (?P<hours>\d+(?:\.\d+)?) h (?P<kind>billable|non-billable)\b"
)
_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)\s*h(?:ours?)?)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?$")


def parse_hours(text: str) -> float:
    """Hours from ``1.5``, ``1.5h``, ``90m`` or ``1h30m``; more than 0 and at most 24."""
    raw = text.strip().lower()
    try:
        hours = float(raw)
    except ValueError:
        match = _DURATION.match(raw)
        if not raw or not match or not (match.group("h") or match.group("m")):
            raise ValueError(f"{text!r} is not a duration (e.g. 1.5, 1.5h, 90m, 1h30m)") from None
        hours = float(match.group("h") or 0) + int(match.group("m") or 0) / 60
    if not 0 < hours <= 24:
        raise ValueError(f"{text!r}: a time entry is more than 0 and at most 24 hours")
    return round(hours, 2)


def time_entry(now: dt.datetime, actor: str, hours: float, billable: bool, note: str = "") -> str:
    kind = "billable" if billable else "non-billable"
    return entry(now, f"{actor}: {hours:g} h {kind}", note)


def time_totals(ticket: Ticket) -> tuple[float, float]:
    """Hours logged on a ticket, and how many of them are billable."""
    total = billable = 0.0
    for line in ticket.sections.get("Time", []):
        match = _TIME_ENTRY.match(line)
        if match:
            hours = float(match.group("hours"))
            total += hours
            billable += hours if match.group("kind") == "billable" else 0.0
    return round(total, 2), round(billable, 2)


def plain(value: Any) -> str:
    """A value as text for tables, CSV and pages: lists joined, counts by name as "name n"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)
