"""The whole file: version, settings, policies, roles, people, permissions, types and calendar, and the
linked tickets checked once every type is known."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from erflow.core import yamlio
from erflow.core.businesstime import WEEKDAYS, Calendar
from erflow.core.errors import located
from erflow.core.loader.base import plain
from erflow.core.loader.notifications import NotifyReader
from erflow.core.loader.ticket_types import TypeReader
from erflow.core.model import LINK_INVERSE
from erflow.core.workflow import ANYONE, Person, TicketType, Workflow


class WorkflowReader(TypeReader, NotifyReader):
    def workflow(self, path: Path, raw: yamlio.LineDict) -> Workflow:
        self._unknown_keys(
            raw,
            {
                "version",
                "settings",
                "policies",
                "roles",
                "people",
                "permissions",
                "types",
                "calendar",
                "intake",
                "notifications",
            },
            "",
        )
        if raw.get("version", 1) != 1:
            self.p.add(raw, "version", "version", "only version 1 is understood")
        settings = self._map(raw, "settings", "settings")
        policies = self._map(raw, "policies", "policies")
        roles_raw = raw.get("roles")
        roles: dict[str, str] = {}
        if isinstance(roles_raw, list):
            roles = {str(r): "" for r in roles_raw}
        elif isinstance(roles_raw, dict):
            roles = {str(k): str(v or "") for k, v in roles_raw.items()}
        else:
            self.p.add(raw, "roles", "roles", "expected a list or mapping of role names")
        people: dict[str, Person] = {}
        people_raw = self._map(raw, "people", "people")
        for email, spec in people_raw.items():
            where = f"people.{email}"
            if not isinstance(spec, dict):
                self.p.add(people_raw, email, where, "expected a mapping with name and roles")
                continue
            person_roles = self._names(spec, "roles", where + ".roles", spec.get("roles"))
            for role in person_roles:
                if role not in roles:
                    self.p.add(spec, "roles", where + ".roles", f"unknown role {role!r}")
            mute = self.mute(spec, where) if isinstance(spec, yamlio.LineDict) else ()
            people[email.lower()] = Person(email.lower(), str(spec.get("name") or email), person_roles, mute)
        permissions: dict[str, tuple[str, ...]] = {}
        perm_raw = self._map(raw, "permissions", "permissions")
        for action, allowed in perm_raw.items():
            names = self._names(perm_raw, action, f"permissions.{action}", allowed)
            for role in names:
                if role != ANYONE and role not in roles:
                    self.p.add(perm_raw, action, f"permissions.{action}", f"unknown role {role!r}")
            permissions[action] = names
        self.people = set(people)
        types: dict[str, TicketType] = {}
        types_raw = self._map(raw, "types", "types")
        if not types_raw:
            self.p.add(raw, "types", "types", "no ticket types defined")
        prefixes: dict[str, str] = {}
        for type_name, spec in types_raw.items():
            if not isinstance(spec, yamlio.LineDict):
                self.p.add(types_raw, type_name, f"types.{type_name}", "expected a mapping")
                continue
            ticket_type = self.ticket_type(type_name, spec, set(roles), policies)
            if ticket_type.prefix in prefixes:
                self.p.add(
                    spec,
                    "prefix",
                    f"types.{type_name}.prefix",
                    f"prefix {ticket_type.prefix!r} is also used by {prefixes[ticket_type.prefix]}",
                )
            prefixes[ticket_type.prefix] = type_name
            types[type_name] = ticket_type
        self.check_linked(types)
        calendar = self.calendar(raw)
        intake = self.intake(raw, types)
        notifications = self.notifications(raw, types, roles, people, policies)
        return Workflow(
            path, plain(settings), plain(policies), roles, people, permissions, types, calendar, intake,
            notifications,
        )  # fmt: skip

    def calendar(self, raw: yamlio.LineDict) -> Calendar:
        node = self._map(raw, "calendar", "calendar")
        self._unknown_keys(node, {"timezone", "days", "hours", "holidays"}, "calendar")
        try:
            return Calendar.parse(
                str(node.get("timezone", "UTC")),
                node.get("days") or WEEKDAYS[:5],
                str(node.get("hours", "09:00-17:00")),
                node.get("holidays") or [],
            )
        except (ValueError, TypeError) as exc:
            self.p.add(node, None, "calendar", str(exc))
            return Calendar()

    def check_linked(self, types: Mapping[str, TicketType]) -> None:
        for ticket_type in types.values():
            if ticket_type.follows is not None:
                self.check_follows(ticket_type, types)
            for transition in ticket_type.transitions:
                for spec in transition.create:
                    where = f"types.{ticket_type.name}.transitions.{transition.name}.create"
                    target = types.get(spec.type)
                    if target is None:
                        self.p.items.append(
                            located(self.p.path, spec.line, f"{where}: unknown type {spec.type!r}")
                        )
                        continue
                    for name in [*spec.copy, *spec.map, *spec.sets]:
                        declared = target.field(name)
                        if declared is None or (declared.system and name not in ("title",)):
                            problem = f"{where}: type {spec.type} has no field {name!r} to fill"
                            self.p.items.append(located(self.p.path, spec.line, problem))
                    for name, value in spec.sets.items():
                        declared = target.field(name)
                        if declared is not None and declared.problem(value):
                            self.p.items.append(
                                located(self.p.path, spec.line, f"{where}: {declared.problem(value)}")
                            )

    def check_follows(self, follower: TicketType, types: Mapping[str, TicketType]) -> None:
        """The states a ``follows:`` names are states of a type that creates the follower with the
        inverse of its link."""
        spec = follower.follows
        assert spec is not None
        where = f"types.{follower.name}.follows"
        leaders = [
            t
            for t in types.values()
            for transition in t.transitions
            for made in transition.create
            if made.type == follower.name and LINK_INVERSE.get(made.link) == spec.link
        ]
        if not leaders:
            problem = f"{where}.link: no transition creates a {follower.name} ticket linked {spec.link}"
            self.p.items.append(located(self.p.path, spec.line, problem))
        for state in spec.states:
            if leaders and not any(state in t.states for t in leaders):
                names = ", ".join(sorted({t.name for t in leaders}))
                problem = f"{where}.states: {state!r} is not a state of {names}"
                self.p.items.append(located(self.p.path, spec.line, problem))
