"""A ticket type: prefix and label, its fields, states, transitions, create:, SLA and timers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erflow.core import yamlio
from erflow.core.fields import FIELD_TYPES, Field
from erflow.core.loader.base import COMMON, NAME, PREFIX
from erflow.core.loader.references import RefChecker
from erflow.core.loader.timers import TimerReader
from erflow.core.model import LINK_INVERSE
from erflow.core.workflow import CreateSpec, Follows, State, TicketType


class TypeReader(TimerReader):
    def ticket_type(
        self, name: str, spec: yamlio.LineDict, roles: set[str], policies: Mapping[str, Any]
    ) -> TicketType:
        where = f"types.{name}"
        self._unknown_keys(
            spec,
            {
                "prefix",
                "label",
                "source",
                "initial",
                "fields",
                "states",
                "transitions",
                "create",
                "sla",
                "timers",
                "follows",
                "sender_name",
            },
            where,
        )
        prefix = str(spec.get("prefix", ""))
        if not PREFIX.match(prefix):
            self.p.add(
                spec,
                "prefix",
                f"{where}.prefix",
                "expected 1-8 capital letters or digits, starting with a letter",
            )
        fields = self.fields(spec, where)
        checker = RefChecker(self.p, set(fields) | set(COMMON), policies)
        states: dict[str, State] = {}
        states_raw = self._map(spec, "states", f"{where}.states")
        for state_name, s in states_raw.items():
            s_where = f"{where}.states.{state_name}"
            if not isinstance(s, yamlio.LineDict):
                if s is not None:
                    self.p.add(
                        states_raw, state_name, s_where, "expected a mapping (owner, label, stage, terminal)"
                    )
                s = yamlio.LineDict()
                s.lines, s.line = {}, states_raw.line_of(state_name)
            else:
                self._unknown_keys(
                    s, {"owner", "label", "stage", "terminal", "waiting", "assign", "on_reply"}, s_where
                )
            owner = s.get("owner")
            if owner is not None and not isinstance(owner, str):
                self.p.add(s, "owner", f"{s_where}.owner", "expected one role name")
                owner = None
            if owner is not None and owner not in roles:
                self.p.add(s, "owner", f"{s_where}.owner", f"unknown role {owner!r}")
            states[state_name] = State(
                state_name,
                str(s.get("label") or state_name),
                owner,
                str(s.get("stage") or ""),
                bool(s.get("terminal", False)),
                s.get("waiting"),
                self.assign(s, s_where, roles, owner, checker),
                self.on_reply(s, s_where),
                line=states_raw.line_of(state_name),
            )
        if not states:
            self.p.add(spec, "states", f"{where}.states", "no states defined")
        initial = str(spec.get("initial", next(iter(states), "")))
        if states and initial not in states:
            self.p.add(spec, "initial", f"{where}.initial", f"unknown state {initial!r}")
        transitions = []
        t_raw = spec.get("transitions") or []
        if not isinstance(t_raw, list):
            self.p.add(spec, "transitions", f"{where}.transitions", "expected a list")
            t_raw = []
        seen: set[tuple[str, str]] = set()
        for i, t in enumerate(t_raw):
            t_where = f"{where}.transitions[{i}]"
            if not isinstance(t, yamlio.LineDict):
                self.p.add(spec, "transitions", t_where, "expected a mapping")
                continue
            transition = self.transition(t, t_where, states, roles, checker, fields)
            for source in transition.sources:
                if (source, transition.name) in seen:
                    self.p.add(
                        t, "name", t_where, f"two transitions named {transition.name!r} leave {source!r}"
                    )
                seen.add((source, transition.name))
            transitions.append(transition)
        create_raw = self._map(spec, "create", f"{where}.create")
        self._unknown_keys(create_raw, {"requires", "emails"}, f"{where}.create")
        create = CreateSpec(
            self.requires(create_raw, f"{where}.create", checker),
            self.emails(create_raw, f"{where}.create", checker),
        )
        fields_raw = self._map(spec, "fields", f"{where}.fields")
        for f in fields.values():
            node = fields_raw.get(f.name)
            for owner_t in f.set_by:
                if not any(t.name == owner_t for t in transitions):
                    where_set_by = f"{where}.fields.{f.name}.set_by"
                    self.p.add(node, "set_by", where_set_by, f"unknown transition {owner_t!r}")
        self.check_on_reply(spec, where, states, transitions, fields)
        label = str(spec.get("label") or name)
        sla = self.sla(spec, where, states, transitions, roles, checker)
        timers = self.timers(spec, where, states, transitions, roles, checker)
        follows = self.follows(spec, where, states)
        sender_name = spec.get("sender_name", "")
        if not isinstance(sender_name, str):
            self.p.add(spec, "sender_name", f"{where}.sender_name", 'expected a name, or "{owner}"')
            sender_name = ""
        return TicketType(
            name,
            prefix,
            label,
            initial,
            fields,
            states,
            tuple(transitions),
            create,
            sla,
            timers,
            follows,
            sender_name,
        )

    def follows(self, spec: yamlio.LineDict, where: str, states: Mapping[str, State]) -> Follows | None:
        """``follows: {link:, states: {THEIR_STATE: OUR_STATE}, notes:}``; their states are checked
        once every type is known (toplevel.check_linked)."""
        node = spec.get("follows")
        if node is None:
            return None
        f_where = f"{where}.follows"
        if not isinstance(node, yamlio.LineDict):
            self.p.add(spec, "follows", f_where, "expected {link: RELATION, states: {THEIRS: OURS}}")
            return None
        self._unknown_keys(node, {"link", "states", "notes"}, f_where)
        link = str(node.get("link", ""))
        if link not in LINK_INVERSE:
            self.p.add(
                node, "link", f"{f_where}.link", f"unknown link {link!r} (one of: {', '.join(LINK_INVERSE)})"
            )
        mapping = self._map(node, "states", f"{f_where}.states")
        for theirs, ours in mapping.items():
            if ours not in states:
                self.p.add(mapping, theirs, f"{f_where}.states.{theirs}", f"unknown state {ours!r}")
        if not mapping:
            self.p.add(node, "states", f"{f_where}.states", "name at least one state to follow")
        notes = node.get("notes", True)
        if not isinstance(notes, bool):
            self.p.add(node, "notes", f"{f_where}.notes", "expected true or false")
        return Follows(link, {str(k): str(v) for k, v in mapping.items()}, notes is not False, node.line)

    def fields(self, spec: yamlio.LineDict, where: str) -> dict[str, Field]:
        fields: dict[str, Field] = {}
        raw = self._map(spec, "fields", f"{where}.fields")
        for name, f in raw.items():
            f_where = f"{where}.fields.{name}"
            if not NAME.match(name):
                self.p.add(raw, name, f_where, "field names are lower_snake_case")
            if not isinstance(f, yamlio.LineDict):
                self.p.add(raw, name, f_where, "expected a mapping with at least a type")
                continue
            self._unknown_keys(f, {"type", "label", "values", "min", "max", "set_by", "help"}, f_where)
            kind = str(f.get("type", "text"))
            if kind not in FIELD_TYPES:
                self.p.add(
                    f,
                    "type",
                    f"{f_where}.type",
                    f"unknown type {kind!r} (expected one of: {', '.join(sorted(FIELD_TYPES))})",
                )
            values = self._names(f, "values", f"{f_where}.values", f.get("values"))
            if kind == "enum" and not values:
                self.p.add(f, "type", f_where, "an enum needs values")
            common = COMMON.get(name)
            if common is not None and common.system:
                self.p.add(raw, name, f_where, f"{name!r} is kept by erflow and cannot be redefined")
            bounds = {}
            for bound in ("min", "max"):
                value = f.get(bound)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    self.p.add(f, bound, f"{f_where}.{bound}", "expected a number")
                    value = None
                bounds[bound] = value
            fields[name] = Field(
                name,
                kind,
                str(f.get("label") or name),
                values,
                bounds["min"],
                bounds["max"],
                self._names(f, "set_by", f"{f_where}.set_by", f.get("set_by")),
                help=" ".join(str(f.get("help") or "").split()),
            )
        return fields
