"""Scenario tests as data: the YAML files ``erflow test`` runs, parsed and checked.

A file holds one scenario (a mapping) or several (a list of them). A scenario starts a ticket
(``new:``) at a pinned instant (``now:``), then plays its ``steps``; ``expect:`` after the start or any
step says what must hold then. Every key is checked here, against the workflow, so that a typo is one
line naming the file, the line and the field (exit 2), never a scenario that silently tests nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.core import yamlio
from erflow.core.errors import UsageError, located
from erflow.core.names import closest
from erflow.core.workflow import Workflow

SCENARIO_KEYS = ("name", "now", "policies", "new", "expect", "steps")
NEW_KEYS = ("type", "as", "title", "description", "customer_name", "customer_email", "customer", "set")
STEP_KEYS = ("as", "advance", "set", "note", "assign", "reply", "from", "sweep", "now", "ticket", "expect")
EXPECT_KEYS = ("state", "owner", "fields", "emails", "notifications", "reminders", "refused")
MAIL_KEYS = ("template", "to", "event")
REFUSED_KEYS = ("code", "reason")
DEFAULT_NOW = "2026-11-02T09:00:00+00:00"
_LATER = re.compile(r"^\+(\d+)([dhm])$")


@dataclass(frozen=True)
class Refusal:
    """A step that must be refused: with this exit code (None: any), the reason containing this text."""

    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Expect:
    """What must hold after a step; None (or empty) for what is not checked. ``emails`` and
    ``notifications`` are the step's own, in order, each a mapping of the keys it checks."""

    line: int
    state: str | None = None
    owner: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    emails: tuple[Mapping[str, str], ...] | None = None
    notifications: tuple[Mapping[str, str], ...] | None = None
    reminders: Mapping[str, tuple[str, ...] | int] = field(default_factory=dict)
    refused: Refusal | None = None


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` is new, advance, set, note, assign, reply, sweep or now. ``ticket``: the
    ticket it acts on (None: the scenario's own)."""

    line: int
    kind: str
    actor: str = ""
    transition: str = ""
    sets: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    target: str = ""  # assign: the person or role; reply: the text; now: the instant or +3d
    sender: str = ""  # reply: From (default: the ticket's customer_email)
    ticket: str | None = None  # an id, ``main`` (the scenario's own) or ``created`` (the last one made)
    new: Mapping[str, Any] = field(default_factory=dict)
    expect: Expect | None = None

    def describe(self) -> str:
        """The step in a few words, for a failure's heading."""
        if self.kind == "new":
            return f"new {self.new.get('type')} as {self.actor}"
        if self.kind == "advance":
            return f"{self.actor} advance {self.transition}"
        if self.kind in ("set", "note", "assign"):
            what = {"set": ", ".join(self.sets), "note": "", "assign": self.target}[self.kind]
            return f"{self.actor} {self.kind} {what}".rstrip()
        if self.kind == "reply":
            return f"reply {self.target[:40]!r}"
        if self.kind == "now":
            return f"now {self.target}"
        return "sweep"


@dataclass(frozen=True)
class Scenario:
    name: str
    file: Path
    line: int
    now: dt.datetime
    steps: tuple[Step, ...]  # the first one is the ``new``
    policies: Mapping[str, Any] = field(default_factory=dict)  # over workflow.yaml's, in the copy

    @property
    def type(self) -> str:
        return str(self.steps[0].new["type"])


def load_file(path: Path, workflow: Workflow) -> list[Scenario]:
    """The scenarios of one file; UsageError naming file:line and the field for anything wrong."""
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except yamlio.YamlError as exc:
        raise UsageError(located(path, exc.line, exc.message)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items or data is None:
        raise UsageError(f"{path}: no scenario in it (a mapping, or a list of them)")
    found = []
    for item in items:
        found.append(_Reader(path, workflow).scenario(item))
    names = [s.name for s in found]
    for scenario in found:
        if names.count(scenario.name) > 1:
            raise UsageError(located(path, scenario.line, f"two scenarios named {scenario.name!r}"))
    return found


def later(now: dt.datetime, text: str) -> dt.datetime:
    """``now:`` of a step: an ISO instant (with offset), or ``+3d`` / ``+4h`` / ``+30m`` from ``now``."""
    matched = _LATER.match(text.strip())
    if matched:
        amount, unit = int(matched.group(1)), matched.group(2)
        return now + dt.timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    return _instant(text)


def _instant(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 instant nor +Nd/+Nh/+Nm") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} needs a UTC offset, e.g. +00:00")
    return when


def plain(value: Any) -> Any:
    """A value as a scenario writes it: bools as true/false, numbers and dates as text, lists item by
    item; None stays None (unset)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class _Reader:
    """Reads one scenario mapping, knowing the file and the workflow, raising on the first problem."""

    def __init__(self, path: Path, workflow: Workflow) -> None:
        self.path = path
        self.workflow = workflow

    def fail(self, line: int, message: str) -> UsageError:
        return UsageError(located(self.path, line, message))

    def mapping(self, value: Any, line: int, what: str, keys: Sequence[str]) -> yamlio.LineDict:
        if not isinstance(value, yamlio.LineDict):
            raise self.fail(line, f"{what}: expected a mapping, got {type(value).__name__}")
        for key in value:
            if key not in keys:
                close = closest(str(key), keys)
                hint = f"; did you mean {close!r}?" if close else f"; one of: {', '.join(keys)}"
                raise self.fail(value.line_of(key), f"{what}: unknown key {key!r}{hint}")
        return value

    def text(self, data: yamlio.LineDict, key: str, what: str, *, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(data.line, f"{what}: {key} is required")
            return ""
        if isinstance(value, (dict, list)):
            raise self.fail(data.line_of(key), f"{what}: {key} must be text, not a {type(value).__name__}")
        return str(plain(value) or "")

    def scenario(self, item: Any) -> Scenario:
        data = self.mapping(item, getattr(item, "line", 1), "scenario", SCENARIO_KEYS)
        name = self.text(data, "name", "scenario", required=True)
        try:
            now = _instant(self.text(data, "now", name) or DEFAULT_NOW)
        except ValueError as exc:
            raise self.fail(data.line_of("now"), f"{name}: now: {exc}") from None
        if "new" not in data:
            raise self.fail(data.line, f"{name}: new: is required (the ticket the scenario starts)")
        first = self.start(data["new"], data.line_of("new"), name)
        if "expect" in data:
            first = Step(**{**first.__dict__, "expect": self.expect(data["expect"], data.line_of("expect"))})
        raw_steps = data.get("steps") or []
        if not isinstance(raw_steps, list):
            raise self.fail(data.line_of("steps"), f"{name}: steps: expected a list")
        steps = [first]
        for number, raw in enumerate(raw_steps, 1):
            steps.append(self.step(raw, data.line_of("steps"), f"{name}: step {number}", first.new["type"]))
        policies = data.get("policies") or {}
        if not isinstance(policies, dict):
            raise self.fail(data.line_of("policies"), f"{name}: policies: expected a mapping of name: value")
        for key in policies:
            if key not in self.workflow.policies:
                message = self.unknown("policy", str(key), self.workflow.policies)
                raise self.fail(
                    getattr(policies, "lines", {}).get(key, data.line), f"{name}: policies: {message}"
                )
        return Scenario(name, self.path, data.line, now, tuple(steps), dict(policies))

    def start(self, raw: Any, line: int, name: str) -> Step:
        data = self.mapping(raw, line, f"{name}: new", NEW_KEYS)
        type_name = self.text(data, "type", f"{name}: new", required=True)
        if type_name not in self.workflow.types:
            raise self.fail(
                data.line_of("type"), f"{name}: new: {self.unknown('type', type_name, self.workflow.types)}"
            )
        values = {key: self.text(data, key, f"{name}: new") for key in NEW_KEYS if key not in ("as", "set")}
        sets = self.sets(data, f"{name}: new", type_name)
        actor = self.text(data, "as", f"{name}: new") or self.creator()
        return Step(
            data.line, "new", actor=actor.lower(), sets=sets, new={k: v for k, v in values.items() if v}
        )

    def creator(self) -> str:
        """Who creates the ticket when ``new:`` says no ``as:``: the first person who may."""
        return next((person for person in self.workflow.people if self.workflow.may(person, "new")), "")

    def unknown(self, what: str, value: str, known: Sequence[str] | Mapping[str, Any]) -> str:
        close = closest(value, known)
        return f"unknown {what} {value!r}" + (f"; did you mean {close!r}?" if close else "")

    def sets(self, data: yamlio.LineDict, what: str, type_name: str | None) -> dict[str, str]:
        """The ``set:`` values as text; their names checked against the type's fields when the step
        acts on the scenario's own ticket (``type_name``)."""
        raw = data.get("set") or {}
        if not isinstance(raw, dict):
            raise self.fail(data.line_of("set"), f"{what}: set: expected a mapping of field: value")
        ticket_type = self.workflow.types.get(type_name) if type_name else None
        for key in raw:
            if ticket_type is not None and ticket_type.field(str(key)) is None:
                names = [f.name for f in ticket_type.all_fields()]
                line = getattr(raw, "lines", {}).get(key, data.line_of("set"))
                raise self.fail(line, f"{what}: set: {self.unknown(f'{type_name} field', str(key), names)}")
        return {str(k): "" if v is None else str(plain(v)) for k, v in raw.items()}

    def step(self, raw: Any, line: int, what: str, type_name: str) -> Step:
        data = self.mapping(raw, getattr(raw, "line", line), what, STEP_KEYS)
        kinds = [k for k in ("advance", "assign", "reply", "sweep", "now") if k in data]
        if len(kinds) > 1:
            raise self.fail(
                data.line, f"{what}: one of advance, assign, reply, sweep, now per step, not {kinds}"
            )
        kind = kinds[0] if kinds else "set" if "set" in data else "note" if "note" in data else ""
        if not kind:
            raise self.fail(
                data.line, f"{what}: nothing to do (advance, set, note, assign, reply, sweep or now)"
            )
        actor = self.text(data, "as", what).lower()
        if kind in ("advance", "set", "note", "assign") and not actor:
            raise self.fail(data.line, f"{what}: as: is required (who takes the step)")
        if "from" in data and kind != "reply":
            raise self.fail(data.line_of("from"), f"{what}: from: belongs to a reply step")
        ticket = self.text(data, "ticket", what) or None
        transition = self.text(data, "advance", what)
        if kind == "advance":
            self.check_transition(transition, data.line_of("advance"), what, None if ticket else type_name)
        target = {"assign": "assign", "reply": "reply", "now": "now"}.get(kind)
        text = self.text(data, target, what, required=True) if target else ""
        if kind == "now":
            try:
                later(dt.datetime.now(dt.timezone.utc), text)
            except ValueError as exc:
                raise self.fail(data.line_of("now"), f"{what}: now: {exc}") from None
        if kind == "sweep" and data["sweep"] is not True:
            raise self.fail(data.line_of("sweep"), f"{what}: sweep: true is the only value")
        note = self.text(data, "note", what) or None
        expect = self.expect(data["expect"], data.line_of("expect")) if "expect" in data else None
        return Step(
            data.line, kind, actor=actor, transition=transition, note=note,
            sets=self.sets(data, what, None if ticket else type_name),
            target=text, sender=self.text(data, "from", what).lower(), ticket=ticket, expect=expect,
        )  # fmt: skip

    def check_transition(self, name: str, line: int, what: str, type_name: str | None) -> None:
        types = [self.workflow.types[type_name]] if type_name else list(self.workflow.types.values())
        known = sorted({t.name for ticket_type in types for t in ticket_type.transitions})
        if name not in known:
            raise self.fail(line, f"{what}: advance: {self.unknown('transition', name, known)}")

    def expect(self, raw: Any, line: int) -> Expect:
        data = self.mapping(raw, getattr(raw, "line", line), "expect", EXPECT_KEYS)
        fields = data.get("fields") or {}
        if not isinstance(fields, dict):
            raise self.fail(data.line_of("fields"), "expect: fields: expected a mapping")
        reminders: dict[str, tuple[str, ...] | int] = {}
        for person, wanted in (data.get("reminders") or {}).items():
            if isinstance(wanted, bool) or not isinstance(wanted, (int, list)):
                raise self.fail(
                    data.line_of("reminders"), f"expect: reminders: {person}: a list of ids or a count"
                )
            reminders[str(person).lower()] = wanted if isinstance(wanted, int) else tuple(map(str, wanted))
        refused = None
        if "refused" in data:
            raw_refused = data["refused"]
            if raw_refused is True:
                refused = Refusal()
            else:
                got = self.mapping(raw_refused, data.line_of("refused"), "expect: refused", REFUSED_KEYS)
                code = got.get("code")
                if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
                    raise self.fail(
                        got.line_of("code"), "expect: refused: code must be a number (an exit code)"
                    )
                refused = Refusal(code, self.text(got, "reason", "expect: refused") or None)
        return Expect(
            data.line, state=self.text(data, "state", "expect") or None,
            owner=self.text(data, "owner", "expect") or None,
            fields={str(k): plain(v) for k, v in fields.items()},
            emails=self.mails(data, "emails"), notifications=self.mails(data, "notifications"),
            reminders=reminders, refused=refused,
        )  # fmt: skip

    def mails(self, data: yamlio.LineDict, key: str) -> tuple[Mapping[str, str], ...] | None:
        if key not in data:
            return None
        raw = data[key] or []
        if not isinstance(raw, list):
            raise self.fail(data.line_of(key), f"expect: {key}: expected a list of {{template, to}}")
        found = []
        for item in raw:
            if isinstance(item, str):
                item = {"template" if key == "emails" else "event": item}
            else:
                item = self.mapping(item, data.line_of(key), f"expect: {key}", MAIL_KEYS)
            found.append({str(k): str(v).lower() if k == "to" else str(v) for k, v in item.items()})
        return tuple(found)
