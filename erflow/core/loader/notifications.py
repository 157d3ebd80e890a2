"""workflow.yaml ``notifications:``: which staff email goes to whom on which event, and the on-call
rota; and each person's ``mute:``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from erflow.core import yamlio
from erflow.core.businesstime import Duration, parse_duration
from erflow.core.loader.base import NAME, Reader
from erflow.core.loader.references import RefChecker
from erflow.core.names import closest
from erflow.core.workflow import (
    MUTABLE,
    NOTIFY_EVENTS,
    Notifications,
    NotifyRule,
    Person,
    Recipient,
    TicketType,
)

_RULE_KEYS = {
    "event",
    "template",
    "to",
    "types",
    "states",
    "when",
    "hours",
    "share",
    "after",
    "clock",
    "timers",
}
_ONLY = {"share": "sla_at_risk", "after": "stuck", "clock": "stuck", "timers": "timer_fired"}
_KINDS = ("owner", "role", "on_call")


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    close = closest(name, known)
    return f"unknown {what} {name!r}" + (f" (did you mean {close}?)" if close else "")


class NotifyReader(Reader):
    def mute(self, spec: yamlio.LineDict, where: str) -> tuple[str, ...]:
        """A person's ``mute: [events]``."""
        names = self._names(spec, "mute", f"{where}.mute", spec.get("mute"))
        for name in names:
            if name not in MUTABLE:
                self.p.add(spec, "mute", f"{where}.mute", _unknown("event", name, MUTABLE))
        return names

    def notifications(
        self,
        raw: yamlio.LineDict,
        types: Mapping[str, TicketType],
        roles: Mapping[str, str],
        people: Mapping[str, Person],
        policies: Mapping[str, Any],
    ) -> Notifications:
        node = self._map(raw, "notifications", "notifications")
        self._unknown_keys(node, {"on_call", "rules"}, "notifications")
        on_call = None
        spec = node.get("on_call")
        if spec is not None:
            role = spec.get("role") if isinstance(spec, dict) else None
            if not isinstance(role, str):
                self.p.add(node, "on_call", "notifications.on_call", "expected {role: ROLE}")
            elif role not in roles:
                self.p.add(node, "on_call", "notifications.on_call.role", _unknown("role", role, roles))
            else:
                on_call = role
        known = {f.name for t in types.values() for f in t.all_fields()}
        refs = RefChecker(self.p, known, policies)
        rules = []
        for i, item in enumerate(self._list(node, "rules", "notifications")):
            where = f"notifications.rules[{i}]"
            if not isinstance(item, yamlio.LineDict):
                self.p.add(node, "rules", where, "expected a mapping with event, to and template")
                continue
            rule = self._rule(item, where, types, roles, people, refs)
            if rule is not None:
                if on_call is None and any(r.kind == "on_call" for r in rule.to):
                    self.p.add(item, "to", f"{where}.to", "on_call needs notifications.on_call: {role: ROLE}")
                rules.append(rule)
        return Notifications(tuple(rules), on_call)

    def _rule(
        self,
        item: yamlio.LineDict,
        where: str,
        types: Mapping[str, TicketType],
        roles: Mapping[str, str],
        people: Mapping[str, Person],
        refs: RefChecker,
    ) -> NotifyRule | None:
        self._unknown_keys(item, _RULE_KEYS, where)
        event = str(item.get("event") or "")
        template = item.get("template")
        ok = True
        if event not in NOTIFY_EVENTS:
            self.p.add(item, "event", f"{where}.event", _unknown("event", event, NOTIFY_EVENTS))
            ok = False
        if not isinstance(template, str) or not NAME.match(template):
            self.p.add(item, "template", f"{where}.template", "expected a template name, e.g. staff_assigned")
            ok = False
        for key, only in _ONLY.items():
            if key in item and event != only:
                self.p.add(item, key, f"{where}.{key}", f"only a {only} rule takes {key}")
        type_names = self._names(item, "types", f"{where}.types", item.get("types"))
        for name in type_names:
            if name not in types:
                self.p.add(item, "types", f"{where}.types", _unknown("type", name, types))
        chosen = [types[n] for n in type_names if n in types] or list(types.values())
        state_names = self._names(item, "states", f"{where}.states", item.get("states"))
        all_states = {s for t in chosen for s in t.states}
        for name in state_names:
            if name not in all_states:
                self.p.add(item, "states", f"{where}.states", _unknown("state", name, all_states))
        timer_names = self._names(item, "timers", f"{where}.timers", item.get("timers"))
        all_timers = {t.name for tt in chosen for t in tt.timers}
        for name in timer_names:
            if name not in all_timers:
                self.p.add(item, "timers", f"{where}.timers", _unknown("timer", name, all_timers))
        hours = item.get("hours")
        if hours is not None and hours not in ("inside", "outside"):
            self.p.add(item, "hours", f"{where}.hours", "expected inside or outside")
            hours = None
        share = item.get("share", 0.8)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            self.p.add(item, "share", f"{where}.share", "expected a share of the SLA budget, above 0 up to 1")
            share = 0.8
        after: Duration | None = None
        if event == "stuck":
            try:
                after = parse_duration(str(item.get("after")))
            except ValueError as exc:
                self.p.add(item, "after", f"{where}.after", f"a stuck rule needs after: ({exc})")
        clock = str(item.get("clock", "business"))
        if clock not in ("business", "calendar"):
            self.p.add(item, "clock", f"{where}.clock", "expected business or calendar")
        to = self._recipients(item, where, roles, people)
        if not to:
            ok = False
        when = refs.condition(item.get("when"), item, "when", f"{where}.when")
        if not ok:
            return None
        return NotifyRule(
            event, str(template), to, type_names, state_names, when, hours, float(share), after,
            clock == "business", timer_names, item.line,
        )  # fmt: skip

    def _recipients(
        self, item: yamlio.LineDict, where: str, roles: Mapping[str, str], people: Mapping[str, Person]
    ) -> tuple[Recipient, ...]:
        raw = item.get("to")
        items = raw if isinstance(raw, list) else [raw]
        found = []
        expected = "expected owner, role, on_call, {role: ROLE}, {person: EMAIL} or a list of them"
        for entry in items:
            if isinstance(entry, str) and entry in _KINDS:
                found.append(Recipient(entry))
            elif isinstance(entry, dict) and len(entry) == 1 and "role" in entry:
                role = str(entry["role"])
                if role not in roles:
                    self.p.add(item, "to", f"{where}.to", _unknown("role", role, roles))
                    continue
                found.append(Recipient("members", role))
            elif isinstance(entry, dict) and len(entry) == 1 and "person" in entry:
                email = str(entry["person"]).lower()
                if email not in people:
                    self.p.add(item, "to", f"{where}.to", _unknown("person", email, people))
                    continue
                found.append(Recipient("person", email))
            else:
                shown = f"unknown recipient {entry!r}" if isinstance(entry, str) else "bad recipient"
                close = closest(entry, _KINDS) if isinstance(entry, str) else None
                hint = f" (did you mean {close}?)" if close else f" ({expected})"
                self.p.add(item, "to", f"{where}.to", shown + hint)
        return tuple(found)
