"""The mail sections of workflow.yaml: ``intake:`` (how a new message becomes a ticket) and each state's
``on_reply:`` (what a customer's reply does to a ticket waiting there)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from erflow.core import yamlio
from erflow.core.loader.base import Reader, plain
from erflow.core.workflow import Intake, IntakeRoute, ReplyRule, State, TicketType, Transition

_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")


class MailReader(Reader):
    def on_reply(self, node: yamlio.LineDict, where: str) -> tuple[ReplyRule, ...]:
        """``on_reply: TRANSITION`` or a list of ``{transition, match, field}``, tried in order."""
        raw = node.get("on_reply")
        if raw is None:
            return ()
        if isinstance(raw, str):
            return (ReplyRule(raw, line=node.line_of("on_reply")),)
        items = raw if isinstance(raw, list) else [raw]
        rules = []
        for i, item in enumerate(items):
            r_where = f"{where}.on_reply[{i}]" if isinstance(raw, list) else f"{where}.on_reply"
            if not isinstance(item, yamlio.LineDict) or not isinstance(item.get("transition"), str):
                self.p.add(
                    node, "on_reply", r_where, "expected a transition name or {transition, match, field}"
                )
                continue
            self._unknown_keys(item, {"transition", "match", "field"}, r_where)
            match = item.get("match")
            if match is not None:
                match = str(match)
                try:
                    re.compile(match)
                except re.error as exc:
                    self.p.add(item, "match", f"{r_where}.match", f"not a regular expression ({exc})")
            target = item.get("field")
            rules.append(
                ReplyRule(str(item["transition"]), match, None if target is None else str(target), item.line)
            )
        return tuple(rules)

    def check_on_reply(
        self,
        spec: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        fields: Mapping[str, Any],
    ) -> None:
        """Each rule's transition leaves its state, and its field is one of the type's."""
        states_raw = self._map(spec, "states", f"{where}.states")
        for state in states.values():
            node = states_raw.get(state.name)
            for rule in state.on_reply:
                r_where = f"{where}.states.{state.name}.on_reply"
                if not any(t.name == rule.transition and state.name in t.sources for t in transitions):
                    self.p.add(
                        node, "on_reply", r_where, f"no transition {rule.transition!r} leaves {state.name!r}"
                    )
                if rule.fills is not None and rule.fills not in fields:
                    self.p.add(node, "on_reply", r_where, f"unknown field {rule.fills!r}")

    def intake(self, raw: yamlio.LineDict, types: Mapping[str, TicketType]) -> Intake:
        node = self._map(raw, "intake", "intake")
        allowed = {"address", "routes", "default_type", "acknowledge", "max_bytes", "verify_sender"}
        self._unknown_keys(node, allowed, "intake")
        address = node.get("address")
        if address is not None and not (isinstance(address, str) and _ADDRESS.match(address)):
            self.p.add(node, "address", "intake.address", "expected one email address, e.g. desk@example.com")
            address = None
        default_type = node.get("default_type")
        if default_type is not None:
            default_type = str(default_type)
            if default_type not in types:
                self.p.add(node, "default_type", "intake.default_type", f"unknown type {default_type!r}")
        max_bytes = node.get("max_bytes", Intake().max_bytes)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1024:
            self.p.add(node, "max_bytes", "intake.max_bytes", "expected a number of bytes (at least 1024)")
            max_bytes = Intake().max_bytes
        flags = {}
        for key in ("acknowledge", "verify_sender"):
            value = node.get(key, True)
            if not isinstance(value, bool):
                self.p.add(node, key, f"intake.{key}", "expected true or false")
                value = True
            flags[key] = value
        routes = []
        for i, item in enumerate(self._list(node, "routes", "intake")):
            r_where = f"intake.routes[{i}]"
            if not isinstance(item, yamlio.LineDict):
                self.p.add(node, "routes", r_where, "expected a mapping with type and to, subject or body")
                continue
            routes.append(self._route(item, r_where, types))
        return Intake(
            None if address is None else address.lower(),
            tuple(routes),
            default_type,
            flags["acknowledge"],
            max_bytes,
            flags["verify_sender"],
        )

    def _route(self, item: yamlio.LineDict, where: str, types: Mapping[str, TicketType]) -> IntakeRoute:
        self._unknown_keys(item, {"type", "to", "subject", "body", "set"}, where)
        type_name = str(item.get("type") or "")
        ticket_type = types.get(type_name)
        if ticket_type is None:
            self.p.add(item, "type", f"{where}.type", f"unknown type {type_name!r}")
        patterns: dict[str, str | None] = {}
        for key in ("subject", "body"):
            value = item.get(key)
            patterns[key] = None if value is None else str(value)
            if value is not None:
                try:
                    re.compile(str(value))
                except re.error as exc:
                    self.p.add(item, key, f"{where}.{key}", f"not a regular expression ({exc})")
        to = item.get("to")
        if to is not None and not (isinstance(to, str) and _ADDRESS.match(to)):
            self.p.add(item, "to", f"{where}.to", "expected one email address")
            to = None
        if to is None and patterns["subject"] is None and patterns["body"] is None:
            self.p.add(item, None, where, "a route needs to, subject or body")
        sets = plain(self._map(item, "set", f"{where}.set"))
        if ticket_type is not None:
            for name, value in sets.items():
                declared = ticket_type.field(name)
                if declared is None:
                    self.p.add(item, "set", f"{where}.set", f"type {type_name} has no field {name!r}")
                elif declared.problem(value):
                    self.p.add(item, "set", f"{where}.set.{name}", str(declared.problem(value)))
        return IntakeRoute(
            type_name,
            None if to is None else to.lower(),
            patterns["subject"],
            patterns["body"],
            sets,
            line=item.line,
        )
