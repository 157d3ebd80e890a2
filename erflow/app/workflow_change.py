"""``erflow workflow apply``: a new workflow.yaml (and any templates given with it) landed as one
erflow commit by an actor the current workflow lets change the rules, with the tickets whose state
the new workflow drops moved as ``--map OLD=NEW`` says, in the same commit. The audit holds every
other change of workflow.yaml or templates/ to be a hand edit (erflow.trust.rules)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.app import transaction
from erflow.app.context import Context, require_actor
from erflow.app.transaction import Pending
from erflow.core import impact, model, rules
from erflow.core.errors import Conflict, InvalidData, NotFound, NotPermitted, Refused, UsageError
from erflow.core.workflow import Workflow
from erflow.store.commits import RulesChange


@dataclass
class ApplyResult:
    commit: str | None  # None: the files given are what the store holds already
    changes: list[str]
    files: list[str]
    moved: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what else the plan finds that breaks

    def as_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "changes": self.changes,
            "files": self.files,
            "moved": self.moved,
            "warnings": self.warnings,
        }


def apply(ctx: Context, source: Path, maps: Mapping[str, str], templates: Mapping[str, Path]) -> ApplyResult:
    """Check everything, then write and commit it as one change; nothing is written when any check
    fails."""
    actor = require_actor(ctx)
    data = _read(source, "workflow file")
    new = _load(data, source)
    texts = {name: _template(name, path) for name, path in templates.items()}
    with transaction.writing(ctx) as began:  # (refused if workflow.yaml has changes not committed)
        current = ctx.workflow  # the committed one: who may change it is asked of it
        if not rules.may_change(current, actor):
            roles = ", ".join(rules.allowed_roles(current))
            raise NotPermitted(
                f"{actor} may not change the workflow: it takes the role {roles} "
                f"(permissions.{rules.PERMISSION} in workflow.yaml)"
            )
        pending, moves = _moves(ctx, new, maps)
        documents = [(ctx.store.workflow_path, data)] + [
            (ctx.store.templates_dir / f"{name}.j2", text) for name, text in texts.items()
        ]
        documents = [(path, text) for path, text in documents if _differs(path, text)]
        phrases = rules.changes(current, new)
        files = [ctx.store.relative(path) for path, _ in documents]
        result = ApplyResult(None, phrases, files, [{"id": t, "from": a, "to": b} for t, a, b in moves])
        result.warnings = _warnings(ctx, new, {t for t, _, _ in moves})
        if not documents and not pending:
            return result
        used = tuple(
            (old, new_state) for old, new_state in maps.items() if any(a == old for _, a, _ in moves)
        )
        change = RulesChange(actor, tuple(phrases), tuple(files), tuple(moves), used)
        texts_out = [(path, text.decode("utf-8")) for path, text in documents]
        result.commit = transaction.commit(ctx, began, pending, change, documents=texts_out)
    return result


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: a folder, not a {what}") from None


def _load(data: bytes, source: Path) -> Workflow:
    from erflow.core.loader import load_bytes

    workflow, problems = load_bytes(data, source)
    if workflow is None or problems:
        more = f" (and {len(problems) - 1} more; run erflow check on it)" if len(problems) > 1 else ""
        raise InvalidData((problems[0] if problems else f"{source}: does not load") + more)
    return workflow


def _template(name: str, path: Path) -> bytes:
    """A template's bytes, checked as ``check`` checks the store's (syntax, Subject line)."""
    import tempfile

    from erflow.mail.templates import TemplateSet

    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"--template {name}=...: a template name is letters, digits, _ and -")
    data = _read(path, "template file")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{name}.j2").write_bytes(data)
        try:
            problems = TemplateSet(Path(folder)).problems()
        except InvalidData as exc:
            problems = [exc.message]
    if problems:
        raise InvalidData(f"{path} (as templates/{name}.j2): {problems[0]}")
    return data


def _differs(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() != data
    except FileNotFoundError:
        return True


def _moves(
    ctx: Context, new: Workflow, maps: Mapping[str, str]
) -> tuple[list[Pending], list[tuple[str, str, str]]]:
    """The tickets in a state (or of a type) the new workflow drops, or in a state it leaves with
    no way out, each moved as ``maps`` says; refused, naming them, when one would be stranded."""
    stranded: Counter[tuple[str, str]] = Counter()  # (type.state, or type X), a note
    examples: dict[str, list[str]] = {}
    wanted: list[tuple[str, str]] = []  # ticket id, to-state
    for item in ctx.store.indexed():
        head = item.head
        if head is None:
            continue  # a file that cannot be read: erflow check names it
        type_name, state = str(head["type"]), str(head["state"])
        ticket_type = new.types.get(type_name)
        if ticket_type is None:
            stranded[(f"type {type_name}", "")] += 1
            examples.setdefault(f"type {type_name}", []).append(str(head["id"]))
            continue
        stuck = impact.dead_end(ticket_type, state)
        if state in ticket_type.states and not stuck:
            continue
        target = maps.get(state)
        if target is None:
            what, note = f"{type_name}.{state}", ", no way out" if stuck else ""
            stranded[(what, note)] += 1
            examples.setdefault(what + note, []).append(str(head["id"]))
        elif target not in ticket_type.states:
            raise UsageError(
                f"--map {state}={target}: the new workflow has no state {target!r} in {type_name}"
            )
        else:
            wanted.append((str(head["id"]), target))
    if stranded:
        listed = "; ".join(
            f"{what} ({count}{note}): {_few(examples[what + note])}"
            for (what, note), count in sorted(stranded.items())
        )
        raise Refused(
            f"the new workflow strands tickets: {listed}",
            hint="add --map OLD=NEW for each dropped state or state with no way out (a dropped type "
            "cannot be mapped); nothing was changed",
        )
    pending, moves = [], []
    for ticket_id, target in wanted:
        path = ctx.store.find(ticket_id)
        dirty = ctx.git.dirty([ctx.store.relative(path)])
        if dirty:
            raise Conflict(
                f"{dirty[0]} has changes not committed by erflow",
                hint="commit or discard them, then retry; nothing was changed",
            )
        data, parsed = ctx.store.read_file(path)
        ticket = parsed.ticket
        before = ticket.state
        ticket.meta["state"] = target
        ticket.meta["state_entered"] = model.timestamp(ctx.now)
        ticket.add_entry(
            "Notes", model.entry(ctx.now, f"{ctx.actor}: workflow apply moved it from {before} to {target}")
        )
        pending.append(Pending(ticket, new.types[ticket.type], path, data))
        moves.append((ticket.id, before, target))
    return pending, moves


def _few(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def _warnings(ctx: Context, new: Workflow, moved: set[str]) -> list[str]:
    """What else the plan finds that breaks (gates that now refuse, SLA budgets breached): told,
    not refused, since it is what a change of the rules means to do."""
    from erflow.app.workflow_plan import analyse

    findings = analyse(ctx, new, {}, str(ctx.store.workflow_path)).findings
    found: dict[str, list[str]] = {}
    for finding in findings:
        if finding.kind in (impact.GATE, impact.SLA) and finding.ticket and finding.ticket not in moved:
            found.setdefault(finding.kind, []).append(finding.ticket)
    what = {
        impact.GATE: "a transition it could take is refused now",
        impact.SLA: "an SLA budget becomes breached",
    }
    return [
        f"{kind}: {len(set(ids))} ticket(s), {what[kind]}: {_few(list(dict.fromkeys(ids)))}"
        for kind, ids in found.items()
    ]
