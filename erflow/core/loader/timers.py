"""A type's SLA and timers, and the actions (note, assign, labels, email, transition) they take."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from erflow.core import yamlio
from erflow.core.businesstime import WEEKDAYS, Duration, parse_duration
from erflow.core.loader.base import NAME
from erflow.core.loader.mail import MailReader
from erflow.core.loader.references import RefChecker
from erflow.core.loader.transitions import TransitionReader
from erflow.core.workflow import Actions, EmailSpec, Sla, SlaTarget, State, Timer, Transition


class TimerReader(TransitionReader, MailReader):
    def _duration(self, node: Any, key: str, where: str) -> Duration | None:
        raw = node.get(key) if isinstance(node, dict) else None
        if raw is None:
            return None
        try:
            return parse_duration(str(raw))
        except ValueError as exc:
            self.p.add(node, key, f"{where}.{key}", str(exc))
            return None

    def _clock(self, node: yamlio.LineDict, where: str, default: str) -> bool:
        clock = str(node.get("clock", default))
        if clock not in ("business", "calendar"):
            self.p.add(node, "clock", f"{where}.clock", "expected business or calendar")
        return clock == "business"

    def actions(
        self,
        node: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        sources: tuple[str, ...],
        roles: set[str],
        checker: RefChecker,
    ) -> Actions:
        note = node.get("note")
        email = None
        if node.get("email") is not None:
            if isinstance(node["email"], str):
                email = EmailSpec(
                    node["email"], None, str(node.get("to") or "customer"), node.line_of("email")
                )
            else:
                self.p.add(node, "email", f"{where}.email", "expected a template name (and to: beside it)")
        transition = node.get("transition")
        if transition is not None:
            leaving = {t.name for t in transitions for s in sources if s in t.sources} if sources else set()
            if not any(t.name == transition for t in transitions):
                self.p.add(node, "transition", f"{where}.transition", f"unknown transition {transition!r}")
            elif sources and transition not in leaving:
                self.p.add(
                    node,
                    "transition",
                    f"{where}.transition",
                    f"{transition!r} leaves none of {', '.join(sources)}",
                )
        actions = Actions(
            str(note) if note is not None else None,
            self.assign(node, where, roles, "-", checker),
            self._names(node, "add_labels", f"{where}.add_labels", node.get("add_labels")),
            email,
            str(transition) if transition is not None else None,
        )
        if not actions.describe():
            self.p.add(node, None, where, "does nothing: give note, assign, add_labels, email or transition")
        return actions

    def sla(
        self,
        spec: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        roles: set[str],
        checker: RefChecker,
    ) -> Sla | None:
        node = spec.get("sla")
        if node is None:
            return None
        s_where = f"{where}.sla"
        if not isinstance(node, yamlio.LineDict):
            self.p.add(spec, "sla", s_where, "expected a mapping with targets")
            return None
        self._unknown_keys(node, {"clock", "at_risk", "pause", "stop", "targets", "escalate"}, s_where)
        targets = []
        raw_targets = node.get("targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            self.p.add(
                node, "targets", f"{s_where}.targets", "expected a list of {when:, response:, resolution:}"
            )
            raw_targets = []
        for i, item in enumerate(raw_targets):
            t_where = f"{s_where}.targets[{i}]"
            if not isinstance(item, yamlio.LineDict):
                self.p.add(node, "targets", t_where, "expected {when:, response:, resolution:}")
                continue
            self._unknown_keys(item, {"when", "response", "resolution", "clock"}, t_where)
            when = checker.condition(item.get("when"), item, "when", f"{t_where}.when")
            business = self._clock(item, t_where, "business") if "clock" in item else None
            response = self._duration(item, "response", t_where)
            targets.append(SlaTarget(response, self._duration(item, "resolution", t_where), when, business))
        at_risk = node.get("at_risk", 0.8)
        if isinstance(at_risk, bool) or not isinstance(at_risk, (int, float)) or not 0 < at_risk < 1:
            self.p.add(node, "at_risk", f"{s_where}.at_risk", "expected a share between 0 and 1, e.g. 0.8")
            at_risk = 0.8
        pause_raw = node.get("pause")
        pause = (
            self._names(node, "pause", f"{s_where}.pause", pause_raw)
            if pause_raw is not None
            else tuple(n for n, st in states.items() if st.waiting)
        )
        stop = self._names(node, "stop", f"{s_where}.stop", node.get("stop"))
        for key, named in (("pause", pause), ("stop", stop)):
            for state in named:
                if state not in states:
                    self.p.add(node, key, f"{s_where}.{key}", f"unknown state {state!r}")
        escalate_raw = node.get("escalate")
        escalate = Actions()
        if escalate_raw is not None:
            if isinstance(escalate_raw, yamlio.LineDict):
                self._unknown_keys(
                    escalate_raw, {"note", "assign", "add_labels", "email", "to"}, f"{s_where}.escalate"
                )
                escalate = self.actions(
                    escalate_raw, f"{s_where}.escalate", states, transitions, (), roles, checker
                )
            else:
                self.p.add(node, "escalate", f"{s_where}.escalate", "expected a mapping of actions")
        business = self._clock(node, s_where, "business")
        return Sla(tuple(targets), business, float(at_risk), pause, stop, escalate, node.line)

    def timers(
        self,
        spec: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        transitions: list[Transition],
        roles: set[str],
        checker: RefChecker,
    ) -> tuple[Timer, ...]:
        result = []
        names: set[str] = set()
        for i, node in enumerate(self._list(spec, "timers", where, "expected a list of timers")):
            t_where = f"{where}.timers[{i}]"
            if not isinstance(node, yamlio.LineDict):
                self.p.add(spec, "timers", t_where, "expected a mapping")
                continue
            self._unknown_keys(
                node,
                {"name", "state", "states", "after", "since", "every", "window", "clock", "when",
                 "note", "assign", "add_labels", "email", "to", "transition"},
                t_where,
            )  # fmt: skip
            name = str(node.get("name", ""))
            if not NAME.match(name):
                self.p.add(node, "name", f"{t_where}.name", "expected a lower_snake_case name")
            if name in names:
                self.p.add(node, "name", f"{t_where}.name", f"two timers named {name!r}")
            names.add(name)
            timer_states = self._names(
                node, "states", f"{t_where}.states", node.get("states") or node.get("state")
            )
            for state in timer_states:
                if state not in states:
                    self.p.add(
                        node, "states" if "states" in node else "state", t_where, f"unknown state {state!r}"
                    )
            after = self._duration(node, "after", t_where)
            every = self._every(node, t_where)
            if (after is None) == (every is None):
                self.p.add(node, None, t_where, "give after: DURATION or every: 'mon 09:00', one of them")
            since = str(node.get("since", "state_entered"))
            if since not in ("state_entered", "created", "updated") and since not in checker.known:
                self.p.add(node, "since", f"{t_where}.since", f"unknown field {since!r}")
            when = checker.condition(node.get("when"), node, "when", f"{t_where}.when")
            actions = self.actions(node, t_where, states, transitions, timer_states, roles, checker)
            window = self._duration(node, "window", t_where) or Duration(1)
            business = self._clock(node, t_where, "calendar")
            result.append(
                Timer(name, actions, timer_states, after, since, every, window, business, when, node.line)
            )
        return tuple(result)

    def _every(self, node: yamlio.LineDict, where: str) -> tuple[int, dt.time] | None:
        raw = node.get("every")
        if raw is None:
            return None
        parts = str(raw).lower().split()
        try:
            day = WEEKDAYS.index(parts[0][:3])
            hour, minute = (int(x) for x in (parts[1] if len(parts) > 1 else "00:00").split(":"))
            return day, dt.time(hour, minute)
        except (ValueError, IndexError):
            self.p.add(
                node, "every", f"{where}.every", f"{raw!r} is not a weekday and time such as 'mon 09:00'"
            )
            return None
