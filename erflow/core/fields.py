"""Typed ticket fields: parsing text from the command line and validating stored values."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from erflow.core.record import Record

FIELD_TYPES = frozenset({"text", "enum", "number", "date", "datetime", "bool", "email", "url", "list"})

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# ASCII dot-atom @ ASCII host: an address the email code always accepts as it is.
_PLAIN_EMAIL = re.compile(r"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")
_URL = re.compile(r"^https?://[^\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}

Value = Any


class Field(Record):
    """One field of a ticket type."""

    name: str
    type: str = "text"
    label: str = ""
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    set_by: tuple[str, ...] = ()
    system: bool = False
    one_line: bool = False  # folded to one line on input: it reaches email headers and tables
    help: str = ""  # what to enter, for the person asked (the advance menu shows it)

    def parse(self, raw: str) -> Value:
        """Turn command-line text into a typed value; raise ValueError naming the problem."""
        if self.one_line:
            raw = " ".join(raw.split())
        text = raw.strip()
        if text == "" and self.type != "text":
            return None
        if self.type == "number":
            try:
                number: float = float(text)
            except ValueError:
                raise ValueError(f"{self.name}: {raw!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{self.name}: {raw!r} is not a finite number")
            value: Value = int(number) if number.is_integer() and "." not in text else number
        elif self.type == "bool":
            if text.lower() in _TRUE:
                value = True
            elif text.lower() in _FALSE:
                value = False
            else:
                raise ValueError(f"{self.name}: {raw!r} is not true or false")
        elif self.type == "list":
            value = [item.strip() for item in text.split(",") if item.strip()]
        else:
            value = raw if self.type == "text" else text
        problem = self.problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def problem(self, value: Value) -> str | None:
        """What is wrong with a stored value, or None."""
        if value is None:
            return None
        kind = self.type
        name = self.name
        if kind in ("text", "enum", "email", "url", "date", "datetime") and not isinstance(value, str):
            return f"{name}: expected text, got {type(value).__name__}"
        if "\x00" in str(value):
            return f"{name}: contains a NUL character"
        if self.one_line and isinstance(value, str) and value != " ".join(value.split()):
            return f"{name}: must be one line (no line breaks or tabs)"
        if kind == "enum" and value not in self.values:
            return f"{name}: {value!r} is not one of {', '.join(self.values)}"
        if kind == "email" and (not _EMAIL.match(value) or _undeliverable(value)):
            return f"{name}: {value!r} is not an email address"
        if kind == "url" and not _URL.match(value):
            return f"{name}: {value!r} is not an http(s) URL"
        if kind == "date":
            try:
                if not _DATE.match(value):
                    raise ValueError
                dt.date.fromisoformat(value)
            except ValueError:
                return f"{name}: {value!r} is not a date (YYYY-MM-DD)"
        if kind == "datetime":
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return f"{name}: {value!r} is not an ISO 8601 date and time"
            if parsed.tzinfo is None:
                return f"{name}: {value!r} has no UTC offset"
            if not _DATETIME.match(value):
                return f"{name}: {value!r} is not an ISO 8601 date and time"
        if kind == "bool" and not isinstance(value, bool):
            return f"{name}: {value!r} is not true or false"
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{name}: {value!r} is not a number"
            if self.min is not None and value < self.min:
                return f"{name}: {value} is below the minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{name}: {value} is above the maximum {self.max:g}"
        if kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return f"{name}: expected a list of text"
            if self.values:
                unknown = [v for v in value if v not in self.values]
                if unknown:
                    return f"{name}: {', '.join(unknown)} not among {', '.join(self.values)}"
        return None


def _undeliverable(value: str) -> bool:
    """True when the email code would refuse the address: refused here, at input, instead."""
    if _PLAIN_EMAIL.match(value):
        return False  # the common case, without the cost of the email parser
    from erflow.core.addresses import (
        address_problem,  # imported here: the email parser is paid for only by unusual addresses
    )

    return address_problem(value) is not None


# Keys every ticket has, in the order they are written. ``system`` keys are erflow's alone.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("id", system=True, label="Id"),
    Field("type", system=True, label="Type"),
    Field("title", label="Title", one_line=True),
    Field("state", system=True, label="State"),
    Field("owner", label="Owner"),
    Field("customer", label="Customer organization", one_line=True),
    Field("customer_name", label="Customer contact", one_line=True),
    Field("customer_email", "email", label="Customer email", one_line=True),
    Field("priority", label="Priority"),
    Field("labels", "list", label="Labels"),
    Field("links", "list", label="Links", system=True),
    Field("created", "datetime", system=True, label="Created"),
    Field("updated", "datetime", system=True, label="Updated"),
    Field("state_entered", "datetime", system=True, label="In this state since"),
    Field("responded", "datetime", system=True, label="First response"),
    Field("resolved", "datetime", system=True, label="Resolved"),
    Field("sla_paused_minutes", "number", system=True, label="SLA paused (minutes)"),
    Field("last_emailed", "datetime", system=True, label="Last email to the customer"),
    Field("last_received", "datetime", system=True, label="Last email from the customer"),
    Field("timers_fired", "list", system=True, label="Timers fired"),
)
COMMON_NAMES = tuple(f.name for f in COMMON_FIELDS)
