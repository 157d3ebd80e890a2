"""The rules judged: a commit that changes workflow.yaml or templates/ is legitimate only when it is
``erflow workflow apply``'s (its ``Erflow-Action: workflow`` trailer, its author the actor) by an
actor whom the workflow in force before it lets change the rules, or when it makes the store (there
was no legitimate workflow.yaml before it). A hand edit is named with what it changed, and the
rules in force stay the last legitimate ones, so that each later ticket change is judged by those.

Tickets that ``workflow apply --map`` moved out of states the new workflow drops are judged here
too. Verdicts are ``(ticket or '', reason)`` pairs; erflow.trust.verdicts makes them violations.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from erflow.core import engine, rules
from erflow.store import tickets as store
from erflow.store.commits import CommitRecord, FileChange
from erflow.trust.judge import kept_history
from erflow.trust.replay import Replay, Rules, Unreadable

ACTION = "workflow"
# What a move of a ticket out of a dropped state may change in its front-matter.
MOVE_FIELDS = frozenset({"state", "state_entered", "updated"})

Verdict = tuple[str, str]


def judge(replay: Replay, record: CommitRecord) -> list[Verdict]:
    """Judge the commit's changes of the rules, and record the rules in force after it."""
    changes = replay.rules_changes(record)
    before: Rules = replay.rules_at(record.parents[0]) if record.parents else (None, None)
    if not changes:
        replay.set_rules(record.commit, before, changed=False, blob=None)
        return []
    workflow_path = replay.prefix + store.WORKFLOW
    touched = next((c for c in changes if c.path == workflow_path), None)
    if touched is not None:
        after_blob = touched.new
    else:
        after_blob = replay.workflow_blob(record.parents[0]) if record.parents else None
    if before[0] is None:  # there was no legitimate workflow.yaml: the commit that makes the store
        replay.set_rules(record.commit, (after_blob, None), changed=touched is not None, blob=after_blob)
        return []
    if len(record.parents) > 1:
        return _merge(replay, record, changes, before, touched, after_blob)
    why = _illegitimate(replay, record, before)
    if why is None:
        replay.set_rules(record.commit, (after_blob, None), changed=touched is not None, blob=after_blob)
        return []
    taint = None if after_blob == before[0] else (record.commit if touched else before[1])
    replay.set_rules(record.commit, (before[0], taint), changed=touched is not None, blob=after_blob)
    found = []
    if touched is not None:
        found.append(("", f"workflow.yaml {why}: {_described(replay, record, touched)}"))
    templates = [c for c in changes if c is not touched]
    if templates:
        files = ", ".join(f"{_relative(replay, c.path)} ({_how(c)})" for c in templates)
        found.append(("", f"templates {why}: {files}"))
    return found


def _illegitimate(replay: Replay, record: CommitRecord, before: Rules) -> str | None:
    """Why a commit may not change the rules, or None when it may."""
    trailers = record.trailers
    action = trailers.get("action", [""])[0]
    actor = trailers.get("actor", [""])[0]
    if action != ACTION:
        return "changed outside erflow (no Erflow-Action: workflow; use erflow workflow apply)"
    if actor.lower() != record.author_email.lower():
        return f"changed by an impostor: authored by {record.author_email} but claims erflow actor {actor}"
    workflow, problem = replay.load_workflow(before[0])
    if workflow is None:
        return f"changed while the workflow.yaml in force does not load ({problem})"
    if not rules.may_change(workflow, actor):
        roles = ", ".join(rules.allowed_roles(workflow))
        return f"changed by {actor}, who may not change the rules (permissions.workflow: {roles})"
    return None


def _merge(
    replay: Replay,
    record: CommitRecord,
    changes: Sequence[FileChange],
    before: Rules,
    touched: FileChange | None,
    after_blob: str | None,
) -> list[Verdict]:
    """A merge may take a rules file from its second parent (judged on its own line), no more."""
    theirs = record.parents[1]
    names = [f"{theirs}:{c.path}" for c in changes]
    held = replay.objects.read(names)
    found: list[Verdict] = []
    for change in changes:
        theirs_blob = held[f"{theirs}:{change.path}"][0] if f"{theirs}:{change.path}" in held else None
        if change.new != theirs_blob:
            what = _relative(replay, change.path)
            found.append(("", f"the merge changed {what} beyond either parent (a hand edit of the rules)"))
    if touched is None:
        after = before
    elif touched.new == (held.get(f"{theirs}:{touched.path}") or (None,))[0]:
        after = replay.rules_at(theirs)
    else:
        after = (before[0], None if after_blob == before[0] else record.commit)
    replay.set_rules(record.commit, after, changed=touched is not None, blob=after_blob)
    return found


def _described(replay: Replay, record: CommitRecord, change: FileChange) -> str:
    """What a commit did to workflow.yaml, against the one its parent holds."""
    if change.new is None:
        return "deleted it"
    new, problem = replay.load_workflow(change.new)
    if new is None:
        return f"it does not load: {problem}"
    old, _ = replay.load_workflow(change.old)
    if old is None:
        return "added it"
    phrases = rules.changes(old, new)
    return "; ".join(phrases) if phrases else "no change to roles, gates, transitions or states"


def _how(change: FileChange) -> str:
    return "added" if change.old is None else "deleted" if change.new is None else "changed"


def _relative(replay: Replay, path: str) -> str:
    return path[len(replay.prefix) :]


def judge_moves(replay: Replay, record: CommitRecord, changes: Sequence[FileChange]) -> list[Verdict]:
    """``workflow apply --map``: each ticket it changed left a state the workflow it applied drops,
    for the state its ``Erflow-Map: OLD=NEW`` names, and nothing else changed but the clock and a
    note."""
    trailers = record.trailers
    named = set(trailers.get("ticket", []))
    maps = dict(m.partition("=")[::2] for m in trailers.get("map", []))
    workflow, problem = replay.load_workflow(replay.rules_at(record.commit)[0])
    before = replay.rules_at(record.parents[0]) if record.parents else (None, None)
    why = _illegitimate(replay, record, before)
    found: list[Verdict] = []
    for change in changes:
        ticket_id = PurePosixPath(change.path).stem
        if ticket_id not in named:
            found.append((ticket_id, f"changed {change.path}, which the commit does not name"))
            continue
        try:
            old, new = replay.ticket(change.old, change.path), replay.ticket(change.new, change.path)
        except Unreadable as exc:
            found.append((ticket_id, exc.reason))
            continue
        if old is None or new is None:
            found.append((ticket_id, "a workflow change may only move tickets, never add or delete one"))
            continue
        if why is not None:
            found.append((ticket_id, f"moved by a workflow change that was not legitimate: {why}"))
            continue
        if workflow is None:
            found.append((ticket_id, f"the workflow.yaml in force does not load: {problem}"))
            continue
        ticket_type = workflow.types.get(new.type)
        if ticket_type is None or new.state not in ticket_type.states:
            found.append((ticket_id, f"moved to {new.state!r}, which the workflow in force lacks"))
            continue
        if old.state in ticket_type.states:
            found.append((ticket_id, f"moved out of {old.state!r}, which the workflow in force keeps"))
        elif maps.get(old.state) != new.state:
            found.append((ticket_id, f"moved from {old.state} to {new.state}, not as its Erflow-Map says"))
        extra = [k for k in engine.diff(old.meta, new.meta) if k not in MOVE_FIELDS]
        if extra:
            found.append((ticket_id, f"a workflow change also changed {', '.join(extra)}"))
        found += [(ticket_id, p) for p in kept_history(old, new)]
    return found
