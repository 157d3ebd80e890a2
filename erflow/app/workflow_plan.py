"""``erflow workflow plan NEW``: what a new workflow.yaml (a file, or ``REV:workflow.yaml`` of the
store's git) would do to every ticket, from the index's front-matter (no ticket file is read):
tickets stranded, gates that now refuse, timers that would fire at once, SLA budgets breached,
emails whose template changes, and roles nobody holds. erflow.core.impact does the judging."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.app.context import Context
from erflow.core.errors import InvalidData, NotFound, UsageError
from erflow.core.impact import BREAKING, KINDS, Comparison, Finding, Meta
from erflow.core.workflow import Workflow
from erflow.store.ticketfile import Indexed

EXAMPLES = 3  # ticket ids named per kind in the summary


@dataclass
class NewWorkflow:
    """The workflow to compare with the store's: where it comes from (a file, or a revision), its
    bytes, and what it loads to."""

    label: str  # a path, or REV:workflow.yaml
    data: bytes
    workflow: Workflow
    revision: str | None = None  # the commit, when NEW named one


@dataclass
class PlanResult:
    """The findings, workflow-wide ones first, then per ticket in the index's order."""

    new: str
    tickets: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def breaking(self) -> list[str]:
        """The kinds found that break something (stranded, gate, sla), in KINDS order."""
        present = {f.kind for f in self.findings}
        return [kind for kind in BREAKING if kind in present]

    def summary(self) -> list[dict[str, Any]]:
        rows = []
        for kind in KINDS:
            found = [f for f in self.findings if f.kind == kind]
            tickets = list(dict.fromkeys(f.ticket for f in found if f.ticket))
            rows.append(
                {
                    "kind": kind,
                    "count": len(found),
                    "tickets": len(tickets),
                    "examples": tickets[:EXAMPLES],
                    "breaking": kind in BREAKING,
                }
            )
        return rows

    def as_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "tickets": self.tickets,
            "breaking": self.breaking,
            "summary": self.summary(),
            "findings": [f.as_json() for f in self.findings],
        }


def plan(ctx: Context, new: str, templates: Path | None = None) -> PlanResult:
    """Compare the store's workflow (and templates) with ``new`` (a file, or a git revision of the
    store) and ``templates`` (a folder of NAME.j2; without it, a revision's own templates/)."""
    loaded = read_new(ctx, new)
    if templates is not None:
        changed = _folder_changes(ctx, templates)
    elif loaded.revision is not None:
        changed = _revision_changes(ctx, loaded.revision)
    else:
        changed = {}
    return analyse(ctx, loaded.workflow, changed, loaded.label)


def analyse(ctx: Context, new: Workflow, templates: dict[str, str], label: str) -> PlanResult:
    """Every ticket of the index judged against ``new``; ``templates`` maps a template's name to
    what changes in its text."""
    comparison = Comparison(ctx.workflow, new, ctx.now, templates)
    result = PlanResult(label, 0, comparison.workflow_findings())
    for item in ctx.store.indexed():
        head = item.head
        if head is None:
            continue  # a file that cannot be read: erflow check names it
        result.tickets += 1
        ticket_id, type_name, state = str(head["id"]), str(head["type"]), str(head["state"])
        result.findings += comparison.ticket(ticket_id, type_name, state, _meta_of(item))
    return result


def _meta_of(item: Indexed) -> Meta:
    return lambda: item.meta


def read_new(ctx: Context, new: str) -> NewWorkflow:
    """NEW as a file when one is there, else as a revision of the store's git (its workflow.yaml
    beside the store's own); NotFound when it is neither, InvalidData when it does not load."""
    path = Path(new)
    if path.is_dir():
        raise UsageError(f"{new}: a folder; give a workflow.yaml file or a git revision")
    if path.is_file():
        return NewWorkflow(new, path.read_bytes(), _load(path.read_bytes(), path))
    from erflow.store.git import GitError, run_bytes

    commit = (
        ""
        if new.startswith("-")
        else ctx.git.run("rev-parse", "-q", "--verify", f"{new}^{{commit}}", check=False)
    )
    if not commit.strip():
        raise NotFound(
            f"{new}: no such file, nor a revision of the store's git", hint="e.g. HEAD~1, a branch"
        )
    commit = commit.strip()
    label = f"{new}:workflow.yaml"
    try:
        data = run_bytes(ctx.git, ["cat-file", "blob", f"{commit}:./workflow.yaml"])
    except GitError:
        raise NotFound(f"{label}: the revision {new} holds no workflow.yaml in the store's folder") from None
    return NewWorkflow(label, data, _load(data, Path(label)), commit)


def _load(data: bytes, source: Path) -> Workflow:
    from erflow.core.loader import load_bytes

    workflow, problems = load_bytes(data, source)
    if workflow is None or problems:
        more = f" (and {len(problems) - 1} more; run erflow check on it)" if len(problems) > 1 else ""
        raise InvalidData((problems[0] if problems else f"{source}: does not load") + more)
    return workflow


def _what_changed(before: bytes | None, after: bytes) -> str | None:
    """How a template's text changes: its subject, its body, both; None when it does not."""
    if before is None:
        return "is new"
    if before == after:
        return None
    old_subject, _, old_body = before.partition(b"\n")
    new_subject, _, new_body = after.partition(b"\n")
    parts = [
        name
        for name, differs in (("subject", old_subject != new_subject), ("body", old_body != new_body))
        if differs
    ]
    return f"{' and '.join(parts)} changed"


def _store_template(ctx: Context, name: str) -> bytes | None:
    try:
        return (ctx.store.templates_dir / f"{name}.j2").read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _folder_changes(ctx: Context, folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise NotFound(f"--templates {folder}: no such folder")
    changed = {}
    for path in sorted(folder.glob("*.j2")):
        what = _what_changed(_store_template(ctx, path.stem), path.read_bytes())
        if what is not None:
            changed[path.stem] = what
    return changed


def _revision_changes(ctx: Context, commit: str) -> dict[str, str]:
    """The templates of the revision whose text differs from the store's (by git blob id first,
    so that only those are read)."""
    from erflow.store.git import tree_files

    files = [(path, blob) for path, blob in tree_files(ctx.git, commit, "templates") if _top_level(path)]
    differing = {}
    for path, blob in files:
        name = Path(path).stem
        mine = _store_template(ctx, name)
        if mine is None or _blob_id(mine) != blob:
            differing[name] = (mine, blob)
    texts = ctx.git.blobs([blob for _, blob in differing.values()])
    changed = {}
    for name, (mine, blob) in differing.items():
        what = _what_changed(mine, texts.get(blob, b""))
        if what is not None:
            changed[name] = what
    return changed


def _top_level(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 2 and parts[1].endswith(".j2")


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def stranded_examples(findings: Iterable[Finding]) -> dict[str, list[str]]:
    """Stranded tickets by reason."""
    found: dict[str, list[str]] = {}
    for finding in findings:
        if finding.kind == "stranded" and finding.ticket:
            found.setdefault(finding.detail, []).append(finding.ticket)
    return found
