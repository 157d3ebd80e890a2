"""A type's transitions: sources and branches, roles, gates (requires, rules), set, labels, assign,
linked tickets, documents and emails."""

from __future__ import annotations

from collections.abc import Mapping

from erflow.core import conditions, yamlio
from erflow.core.fields import Field
from erflow.core.loader.base import COMMON, NAME, Reader, plain
from erflow.core.loader.references import RefChecker
from erflow.core.model import LINK_INVERSE
from erflow.core.workflow import (
    ASSIGN_RULES,
    Assign,
    Branch,
    Document,
    EmailSpec,
    LinkedTicket,
    Requirement,
    Rule,
    State,
    Transition,
    document_path_problem,
)


class TransitionReader(Reader):
    def transition(
        self,
        t: yamlio.LineDict,
        where: str,
        states: Mapping[str, State],
        roles: set[str],
        checker: RefChecker,
        fields: Mapping[str, Field],
    ) -> Transition:
        self._unknown_keys(
            t,
            {
                "name",
                "label",
                "from",
                "to",
                "roles",
                "requires",
                "rules",
                "set",
                "add_labels",
                "remove_labels",
                "emails",
                "fresh",
                "note",
                "assign",
                "create",
                "documents",
            },
            where,
        )
        name = str(t.get("name", ""))
        if not NAME.match(name):
            self.p.add(t, "name", f"{where}.name", "expected a lower_snake_case name")
        sources = self._names(t, "from", f"{where}.from", t.get("from"))
        if not sources:
            self.p.add(t, "from", f"{where}.from", "a transition needs a from state")
        for s in sources:
            if s not in states:
                self.p.add(t, "from", f"{where}.from", f"unknown state {s!r}")
        branches: list[Branch] = []
        to = t.get("to")
        if isinstance(to, str):
            branches.append(Branch(to))
        elif isinstance(to, list):
            for b in to:
                if isinstance(b, dict) and isinstance(b.get("to"), str):
                    branches.append(
                        Branch(b["to"], checker.condition(b.get("when"), t, "to", f"{where}.to.when"))
                    )
                else:
                    self.p.add(t, "to", f"{where}.to", "each branch needs to: STATE (and optionally when:)")
            if branches and branches[-1].when is not None:
                self.p.add(t, "to", f"{where}.to", "the last branch must have no when: (it is the default)")
        elif to is not None:
            self.p.add(t, "to", f"{where}.to", "expected a state or a list of branches")
        for b in branches:
            if b.to not in states:
                self.p.add(t, "to", f"{where}.to", f"unknown state {b.to!r}")
        t_roles = self._names(t, "roles", f"{where}.roles", t.get("roles"))
        if not t_roles:
            self.p.add(t, "name", f"{where}.roles", "a transition needs the roles that may take it")
        for role in t_roles:
            if role not in roles:
                self.p.add(t, "roles", f"{where}.roles", f"unknown role {role!r}")
        rules = []
        rules_raw = t.get("rules") or []
        if not isinstance(rules_raw, list):
            self.p.add(t, "rules", f"{where}.rules", "expected a list")
            rules_raw = []
        for i, r in enumerate(rules_raw):
            r_where = f"{where}.rules[{i}]"
            if not isinstance(r, dict) or r.get("require") is None:
                self.p.add(t, "rules", r_where, "expected require: CONDITION, message: TEXT")
                continue
            require = checker.condition(r["require"], t, "rules", f"{r_where}.require")
            when = checker.condition(r.get("when"), t, "rules", f"{r_where}.when")
            if require is not None:
                rules.append(Rule(require, str(r.get("message") or conditions.describe(require)), when))
        sets = t.get("set") or {}
        if not isinstance(sets, dict):
            self.p.add(t, "set", f"{where}.set", "expected a mapping of field: value")
            sets = {}
        for key, value in sets.items():
            f = fields.get(key) or COMMON.get(key)
            if f is None or f.system:
                self.p.add(t, "set", f"{where}.set.{key}", "unknown field" if f is None else "kept by erflow")
            elif f.problem(value):
                self.p.add(t, "set", f"{where}.set.{key}", str(f.problem(value)))
        note = str(t.get("note", "optional"))
        if note not in ("optional", "required"):
            self.p.add(t, "note", f"{where}.note", "expected optional or required")
        return Transition(
            name=name,
            label=str(t.get("label") or name),
            sources=sources,
            branches=tuple(branches),
            roles=t_roles,
            requires=self.requires(t, where, checker),
            rules=tuple(rules),
            sets=plain(sets),
            add_labels=self._names(t, "add_labels", f"{where}.add_labels", t.get("add_labels")),
            remove_labels=self._names(t, "remove_labels", f"{where}.remove_labels", t.get("remove_labels")),
            emails=self.emails(t, where, checker),
            fresh=bool(t.get("fresh", False)),
            note=note,
            assign=self.assign(t, where, roles, None, checker),
            create=self.linked(t, where, checker),
            documents=self.documents(t, where, checker),
            line=t.line,
        )

    def assign(
        self, node: yamlio.LineDict, where: str, roles: set[str], owner: str | None, checker: RefChecker
    ) -> tuple[Assign, ...]:
        """``assign:`` as one mapping, or a route: a list of them, the first whose ``when`` holds."""
        raw = node.get("assign")
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        result = []
        for i, item in enumerate(items):
            a_where = f"{where}.assign" + (f"[{i}]" if isinstance(raw, list) else "")
            if not isinstance(item, dict):
                self.p.add(node, "assign", a_where, "expected {person: EMAIL} or {role: ROLE, rule: RULE}")
                continue
            unknown = set(item) - {"person", "role", "rule", "when", "keep"}
            if unknown:
                self.p.add(node, "assign", a_where, f"unknown key {sorted(unknown)[0]!r}")
            person = item.get("person")
            role = item.get("role")
            rule = str(item.get("rule", "keep"))
            if person is not None and (role is not None or "rule" in item):
                self.p.add(node, "assign", a_where, "give a person, or a role and a rule, not both")
            if person is not None and str(person).lower() not in self.people:
                self.p.add(node, "assign", a_where, f"unknown person {person!r}")
            if role is not None and role not in roles:
                self.p.add(node, "assign", a_where, f"unknown role {role!r}")
            if rule not in ASSIGN_RULES:
                self.p.add(
                    node,
                    "assign",
                    a_where,
                    f"unknown rule {rule!r} (expected one of: {', '.join(ASSIGN_RULES)})",
                )
            if rule == "unchanged" and role is not None:
                self.p.add(node, "assign", a_where, "the rule unchanged keeps the owner: give it no role")
            if (
                person is None
                and role is None
                and owner is None
                and rule != "unchanged"
                and node is not None
                and "from" not in node
            ):
                self.p.add(node, "assign", a_where, "a rule needs a role (the state has no owner role)")
            keep = item.get("keep", False)
            if not isinstance(keep, bool):
                self.p.add(node, "assign", f"{a_where}.keep", "expected true or false")
            elif keep and rule not in ("fewest_open", "round_robin"):
                self.p.add(
                    node,
                    "assign",
                    f"{a_where}.keep",
                    "keep: true goes with the rule fewest_open or round_robin",
                )
            when = checker.condition(item.get("when"), node, "assign", f"{a_where}.when")
            result.append(Assign(str(person).lower() if person else None, role, rule, when, keep is True))
        if isinstance(raw, list) and result and result[-1].when is not None:
            self.p.add(
                node, "assign", f"{where}.assign", "the last branch must have no when: (it is the default)"
            )
        return tuple(result)

    def documents(self, node: yamlio.LineDict, where: str, checker: RefChecker) -> tuple[Document, ...]:
        """``documents:``: files written from templates/documents/, at a path inside the store."""
        result = []
        for i, item in enumerate(
            self._list(node, "documents", where, "expected a list of {template:, path:}")
        ):
            d_where = f"{where}.documents[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("template"), str):
                self.p.add(node, "documents", d_where, "expected {template: NAME, path: 'folder/{id}.md'}")
                continue
            path = str(item.get("path", ""))
            problem = document_path_problem(path)
            if problem:
                self.p.add(node, "documents", f"{d_where}.path", problem)
            when = checker.condition(item.get("when"), node, "documents", f"{d_where}.when")
            result.append(Document(item["template"], path, when))
        return tuple(result)

    def linked(self, node: yamlio.LineDict, where: str, checker: RefChecker) -> tuple[LinkedTicket, ...]:
        """``create:`` on a transition; the other type's fields are checked once every type is known."""
        result = []
        expected = "expected a list of {type: TYPE, link: RELATION, ...}"
        for i, item in enumerate(self._list(node, "create", where, expected)):
            c_where = f"{where}.create[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                self.p.add(
                    node, "create", c_where, "expected {type: TYPE, link: RELATION, copy: [...], set: {...}}"
                )
                continue
            unknown = set(item) - {"type", "link", "copy", "map", "set", "description", "when"}
            if unknown:
                self.p.add(node, "create", c_where, f"unknown key {sorted(unknown)[0]!r}")
            link = str(item.get("link", "relates"))
            if link not in LINK_INVERSE:
                self.p.add(
                    node,
                    "create",
                    c_where,
                    f"unknown relation {link!r} (expected one of: {', '.join(LINK_INVERSE)})",
                )
            copy = self._names(node, "create", f"{c_where}.copy", item.get("copy"))
            for name in copy:
                checker.field(name, node, "create", f"{c_where}.copy")
            mapping = item.get("map") or {}
            if not isinstance(mapping, dict):
                self.p.add(node, "create", f"{c_where}.map", "expected new_field: this_field")
                mapping = {}
            for source in mapping.values():
                checker.field(str(source), node, "create", f"{c_where}.map")
            sets = item.get("set") or {}
            if not isinstance(sets, dict):
                self.p.add(node, "create", f"{c_where}.set", "expected field: value")
                sets = {}
            when = checker.condition(item.get("when"), node, "create", f"{c_where}.when")
            result.append(
                LinkedTicket(
                    item["type"],
                    link,
                    copy,
                    {str(k): str(v) for k, v in mapping.items()},
                    plain(sets),
                    bool(item.get("description", True)),
                    when,
                    node.line_of("create"),
                )
            )
        return tuple(result)

    def requires(self, node: yamlio.LineDict, where: str, checker: RefChecker) -> tuple[Requirement, ...]:
        plain: list[str] = []
        result: list[Requirement] = []
        for i, item in enumerate(self._list(node, "requires", where)):
            if isinstance(item, str):
                checker.field(item, node, "requires", f"{where}.requires[{i}]")
                plain.append(item)
            elif isinstance(item, dict) and isinstance(item.get("fields"), list):
                for f in item["fields"]:
                    checker.field(str(f), node, "requires", f"{where}.requires[{i}].fields")
                when = checker.condition(item.get("when"), node, "requires", f"{where}.requires[{i}].when")
                result.append(Requirement(tuple(str(f) for f in item["fields"]), when))
            else:
                self.p.add(
                    node,
                    "requires",
                    f"{where}.requires[{i}]",
                    "expected a field name or {when: ..., fields: [...]}",
                )
        return (Requirement(tuple(plain)),) + tuple(result) if plain else tuple(result)

    def emails(self, node: yamlio.LineDict, where: str, checker: RefChecker) -> tuple[EmailSpec, ...]:
        result = []
        for i, item in enumerate(self._list(node, "emails", where)):
            if isinstance(item, str):
                result.append(EmailSpec(item, line=node.line_of("emails")))
            elif isinstance(item, dict) and isinstance(item.get("template"), str):
                when = checker.condition(item.get("when"), node, "emails", f"{where}.emails[{i}].when")
                line = (
                    item.line_of("template") if isinstance(item, yamlio.LineDict) else node.line_of("emails")
                )
                result.append(EmailSpec(item["template"], when, str(item.get("to") or "customer"), line))
            else:
                self.p.add(
                    node,
                    "emails",
                    f"{where}.emails[{i}]",
                    "expected a template name or {template: ..., when: ...}",
                )
        return tuple(result)
