"""check: every problem in workflow.yaml, the templates and the ticket files; and the audit of the
store's git history."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erflow.app.context import Context
from erflow.core.conditions import is_set
from erflow.core.errors import ErflowError, InvalidData, UsageError
from erflow.core.workflow import TicketType, Workflow
from erflow.store import ticketfile, workflow_file
from erflow.store import tickets as store

if TYPE_CHECKING:
    from erflow.mail.templates import TemplateSet
    from erflow.trust.audit import AuditResult, Progress


def check(ctx: Context) -> list[str]:
    """Every problem in workflow.yaml, the templates and every ticket, each with file and line."""
    wf, problems = workflow_file.load_with_problems(ctx.store.workflow_path)
    problems = [_relative(ctx, p) for p in problems]
    from erflow.mail.templates import TemplateSet

    templates = TemplateSet(ctx.store.templates_dir, ctx.store.root)
    from erflow.mail.templates import DocumentSet

    documents = DocumentSet(ctx.store.templates_dir / "documents", ctx.store.root)
    template_problems = templates.problems() + documents.problems()
    problems += template_problems
    from erflow.store import paths

    problems += [
        link
        for folder in (store.TEMPLATES, ticketfile.TICKETS)
        for link in paths.links(ctx.store.root, folder)
        if link not in problems
    ]
    if wf is None:
        return problems + _raw_template_references(ctx, templates)
    try:
        broken = {name for name in templates.names() if any(f"/{name}.j2:" in p for p in template_problems)}
        problems += _check_template_references(ctx, wf, templates, broken)
        problems += _check_documents(wf, documents)
    except InvalidData as exc:  # templates/ itself a symlink: named above, its templates not read
        if exc.message not in problems:
            problems.append(exc.message)
    return problems + _tickets_problems(ctx, wf, problems)


def _tickets_problems(ctx: Context, wf: Workflow, shown: list[str] | None = None) -> list[str]:
    """The problems of every ticket file, in path order. Each is judged from its index row (no YAML
    parsed); only a file whose row has a problem is read and parsed again, for the lines to name.
    ``shown``: lines listed already (a symlink is named once)."""
    verdicts = Verdicts()
    suspects = []
    for row in ctx.store.indexed():
        meta = None if row.problem else row.meta
        if meta is None or _ticket_problems(wf, meta, _NO_LINES, "", verdicts):
            suspects.append(row.path)
    return _files_problems(ctx, wf, sorted(suspects, key=str), shown or [], verdicts)


def _files_problems(
    ctx: Context,
    wf: Workflow,
    files: Iterable[Path],
    shown: list[str],
    verdicts: Verdicts,
) -> list[str]:
    """The problems of these ticket files, each read and parsed for its lines (not in ``shown``)."""
    problems: list[str] = []
    for path in files:
        rel = ctx.store.relative(path)
        try:
            parsed = ctx.store.read_path(path)
        except ErflowError as exc:
            if exc.message not in problems and exc.message not in shown:  # a symlink, already named
                problems.append(exc.message)
            continue
        problems += _ticket_problems(wf, parsed.ticket.meta, parsed.lines, rel, verdicts)
    return problems


def _check_documents(wf: Workflow, documents: TemplateSet) -> list[str]:
    problems = []
    for ticket_type in wf.types.values():
        for transition in ticket_type.transitions:
            for doc in transition.documents:
                if not documents.exists(doc.template):
                    where = f"{store.WORKFLOW}:{transition.line}: types.{ticket_type.name}"
                    problems.append(
                        f"{where}: document template {doc.template!r} not found in templates/documents/"
                    )
    return problems


def _relative(ctx: Context, problem: str) -> str:
    prefix = str(ctx.store.root) + os.sep
    return problem[len(prefix) :] if problem.startswith(prefix) else problem


def _raw_template_references(ctx: Context, templates: TemplateSet) -> list[str]:
    """With a workflow.yaml too broken to load, still name every email template it needs that is
    missing (read from the raw YAML: ``emails:`` lists and timers' ``email:``)."""
    from erflow.core import yamlio
    from erflow.store import paths

    try:
        paths.inside(ctx.store.root, ctx.store.workflow_path)  # not read through a symlink outside
        raw = yamlio.load(ctx.store.workflow_path.read_text(encoding="utf-8"))
        templates.names()
    except (ErflowError, yamlio.YamlError, OSError, UnicodeDecodeError):
        return []
    found: list[str] = []

    def missing(name: Any, line: int) -> None:
        if isinstance(name, str) and not templates.exists(name):
            found.append(f"{store.WORKFLOW}:{line}: email template {name!r} not found in {store.TEMPLATES}/")

    def walk(node: Any) -> None:
        if isinstance(node, yamlio.LineDict):
            for key, value in node.items():
                if key == "emails" and isinstance(value, list):
                    for item in value:
                        if isinstance(item, yamlio.LineDict):
                            missing(item.get("template"), item.line_of("template"))
                        else:
                            missing(item, node.line_of("emails"))
                elif key == "email":
                    missing(value, node.line_of("email"))
                elif key != "documents":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(raw)
    return found


def _check_template_references(
    ctx: Context, wf: Workflow, templates: TemplateSet, broken: set[str]
) -> list[str]:
    problems = []
    builtin = {"link", "sender_name", "type_label", "state_label", "now"}
    for ticket_type in wf.types.values():
        specs = [(t.line, s) for t in ticket_type.transitions for s in t.emails]
        specs += [(0, s) for s in ticket_type.create.emails]
        known = {f.name for f in ticket_type.all_fields()} | builtin
        for line, spec in specs:
            line = spec.line or line
            where = f"{store.WORKFLOW}:{line}: " if line else f"{store.WORKFLOW}: "
            if not templates.exists(spec.template):
                missing = f"email template {spec.template!r} not found in {store.TEMPLATES}/"
                problems.append(f"{where}types.{ticket_type.name}: {missing}")
                continue
            if spec.template in broken:
                continue  # its syntax error is already listed
            unknown = sorted(templates.variables(spec.template) - known)
            for name in unknown:
                lacking = f"which type {ticket_type.name} has no field for"
                problems.append(f"{store.TEMPLATES}/{spec.template}.j2: uses {name!r}, {lacking}")
    for index, rule in enumerate(wf.notifications.rules):
        if not templates.exists(rule.template):
            where = f"{store.WORKFLOW}:{rule.line}: notifications.rules[{index}].template"
            problems.append(f"{where}: template {rule.template!r} not found in {store.TEMPLATES}/")
    return sorted(set(problems), key=problems.index)


_NO_LINES: Mapping[str, int] = {}


_UNSEEN = object()


class Verdicts:
    """What was wrong with a value under a key in a ticket of a type (an unknown field, or what the
    field's own check said), kept per (type, key, value) for text values and unset ones: owners,
    states and enums repeat from ticket to ticket. Past ``size`` values the memo starts again, so
    that unique values (titles, times) do not pile up."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.seen: dict[tuple[str, str, str | None], str | None] = {}

    def of(self, ticket_type: TicketType, key: Any, value: Any) -> str | None:
        """The problem of ``value`` under ``key`` in a ticket of ``ticket_type``, or None."""
        remembered = type(key) is str and (value is None or type(value) is str)
        if remembered:
            found = self.seen.get((ticket_type.name, key, value), _UNSEEN)
            if found is not _UNSEEN:
                return found  # type: ignore[return-value]
        declared = ticket_type.field(key)
        problem: str | None
        if declared is None:
            problem = f"unknown field {key!r} for type {ticket_type.name}"
        else:
            problem = declared.problem(value)
        if remembered:
            if len(self.seen) >= self.size:
                self.seen.clear()
            self.seen[(ticket_type.name, key, value)] = problem
        return problem


def _ticket_problems(
    wf: Workflow, meta: dict[str, Any], lines: Mapping[str, int], rel: str, verdicts: Verdicts
) -> list[str]:
    """The problems of one ticket's front-matter ``meta``, each as ``rel:line: ...`` (``lines``: each
    key's line in the file; line 2 for a key it lacks)."""
    problems = []

    def add(key: str, message: str) -> None:
        problems.append(f"{rel}:{lines.get(key, 2)}: {message}")

    kind = str(meta.get("type", ""))
    ticket_type = wf.types.get(kind)
    if ticket_type is None:
        add("type", f"unknown type {kind!r}")
        return problems
    ticket_id = str(meta.get("id", ""))
    if not ticket_id.startswith(ticket_type.prefix + "-"):
        add("id", f"id {ticket_id!r} lacks the prefix {ticket_type.prefix}- of type {ticket_type.name}")
    state = str(meta.get("state", ""))
    if state not in ticket_type.states:
        add("state", f"unknown state {state!r} for type {ticket_type.name}")
    for key in ("title", "created"):
        if not is_set(meta.get(key)):
            add(key, f"missing {key}")
    owner = meta.get("owner")
    if isinstance(owner, str) and owner and owner.lower() not in wf.people and owner not in wf.roles:
        from erflow.core.names import hint

        said = hint(owner.lower(), [*wf.people, *wf.roles])
        add(
            "owner",
            f"owner {owner!r} is neither a person under people nor a role" + (f" ({said})" if said else ""),
        )
    for key, value in meta.items():
        problem = verdicts.of(ticket_type, key, value)
        if problem:
            add(key, problem)
    return problems


def audit(ctx: Context, *, full: bool = False, progress: Progress | None = None) -> AuditResult:
    """Replay the store's git history and list every change that erflow did not make legally;
    ``progress`` is told ``(commits judged, commits to judge)`` as it goes."""
    from erflow.trust import audit as auditing

    try:
        git_dir = ctx.git.git_dir()
    except ErflowError:
        raise UsageError(f"{ctx.store.root} is not in a git work tree") from None
    return auditing.run(ctx.store.root, ctx.git, git_dir, full=full, progress=progress)
