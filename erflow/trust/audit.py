"""The audit: replay git history and prove every change to a ticket file was erflow's own, legal
under the workflow.yaml in force at that commit, by an actor whose roles allowed it.

Each commit is judged against its own parents only, so the order commits are read in does not
matter and a second run can start where the last one ended (the cache lives in the git folder).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from erflow import __version__
from erflow.core import engine, model, timers
from erflow.core.errors import ErflowError
from erflow.core.loader import load_bytes
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType, Workflow
from erflow.store import tickets as store
from erflow.store.git import (
    CommitRecord,
    FileChange,
    Git,
    ObjectReader,
    is_ancestor,
    merge_base,
    read_commits,
)

CACHE_VERSION = 1
# Kept by erflow's clock, not by the transition: never compared against a replayed plan.
CLOCK_FIELDS = frozenset(
    {"updated", "state_entered", "responded", "resolved", "sla_paused_minutes", "timers_fired"}
)
# What each edit outside transitions may change in the front-matter (besides ``updated``).
EDIT_FIELDS: Mapping[str, frozenset[str]] = {
    "note": frozenset(),
    "log-time": frozenset(),
    "email": frozenset(),
    "assign": frozenset({"owner"}),
    "link": frozenset({"links"}),
}
PERMISSION = {"set": "set", "note": "note", "log-time": "log_time", "assign": "assign", "link": "link"}
BAD_SIGNATURES = {"B": "its signature is bad", "R": "it is signed with a revoked key"}
BATCH = 2000  # commits whose ticket files are read and parsed together
WORKFLOWS_KEPT = 4096  # the workflow.yaml blob of the latest commits judged (older ones: ask git)

Progress = Callable[[int, int], None]
"""Told ``(commits judged, commits to judge)`` as the audit goes; the total comes first, with 0."""


@dataclass(frozen=True)
class Violation:
    commit: str
    ticket: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"commit": self.commit, "ticket": self.ticket, "reason": self.reason}


@dataclass
class AuditResult:
    commits: int  # commits verified in all, this run and the runs it continues
    violations: list[Violation]
    new_commits: int = 0  # commits read by this run
    resumed_from: str | None = None  # the commit a cached run had verified up to

    def as_json(self) -> dict[str, Any]:
        return {"commits": self.commits, "violations": [v.as_json() for v in self.violations]}


def run(
    root: Path, git: Git, git_dir: Path, *, full: bool = False, progress: Progress | None = None
) -> AuditResult:
    """Audit the history of the store at ``root``, continuing from the cache unless ``full``;
    ``progress`` hears how far it has got."""
    cache_path = git_dir / "erflow" / "audit.json"
    cached = None if full else _read_cache(cache_path)
    head = git.head()
    since = None
    if cached is not None and head is not None and is_ancestor(git, cached["head"], head):
        since = cached["head"]
    signing = (git.config("commit.gpgsign") or "").lower() == "true"
    prefix = _store_prefix(git)
    total = 0

    def on_total(count: int) -> None:
        nonlocal total
        total = count
        if progress is not None:
            progress(0, count)

    def judged(count: int) -> None:
        if progress is not None:
            progress(count, max(total, count))

    records = read_commits(git, since, signatures=True, on_total=on_total)
    violations = [Violation(**v) for v in cached["violations"]] if since and cached else []
    with ObjectReader(git) as objects:
        found, count = _Auditor(objects, git, prefix, signing).judge(records, judged)
    violations += found
    verified = (cached["commits"] if since and cached else 0) + count
    result = AuditResult(verified, violations, count, since)
    if head is not None:
        _write_cache(cache_path, head, result)
    return result


def _store_prefix(git: Git) -> str:
    """Where the store sits inside its repository ('' at the top, else 'sub/dir/')."""
    return git.run("rev-parse", "--show-prefix").strip()


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != [CACHE_VERSION, __version__]:
        return None
    if not isinstance(data.get("head"), str) or not isinstance(data.get("violations"), list):
        return None
    return data


def _write_cache(path: Path, head: str, result: AuditResult) -> None:
    payload = {
        "version": [CACHE_VERSION, __version__],
        "head": head,
        "commits": result.commits,
        "violations": [v.as_json() for v in result.violations],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        store.write_atomic(path, json.dumps(payload) + "\n")
    except OSError:  # a read-only repository can still be audited, only not incrementally
        pass


# ---------------------------------------------------------------------------------------------
# Judging commits


@dataclass
class _Side:
    """One ticket file in one commit: before and after, parsed."""

    path: str
    ticket_id: str
    old: Ticket | None
    new: Ticket | None


@dataclass
class _Auditor:
    objects: ObjectReader
    git: Git
    prefix: str
    signing: bool
    workflows: dict[str, tuple[Workflow | None, str]] = field(default_factory=dict)
    workflow_at: dict[str, str | None] = field(default_factory=dict)  # commit -> its workflow.yaml blob
    parsed: dict[str, Ticket | str] = field(default_factory=dict)  # blob id -> ticket, or its problem
    signed_seen: bool = False

    def judge(
        self, records: Iterable[CommitRecord], judged: Callable[[int], None]
    ) -> tuple[list[Violation], int]:
        """Every violation in these commits, and how many commits there were; ``judged`` is told
        the count so far every few hundred commits."""
        found: list[Violation] = []
        count = 0
        for batch in _batches(records, BATCH):  # blobs are read a batch at a time, never all at once
            self._load_blobs(batch)
            for record in batch:
                found += self._judge_commit(record)
                self._remember_workflow(record.commit, self._workflow_blob(record))
                count += 1
                if count % 250 == 0:
                    judged(count)
        judged(count)
        return found, count

    def _ticket_changes(self, record: CommitRecord) -> list[FileChange]:
        tickets = self.prefix + store.TICKETS + "/"
        return [c for c in record.changes if c.path.startswith(tickets) and c.path.endswith(".md")]

    def _load_blobs(self, records: Sequence[CommitRecord]) -> None:
        """Parse the ticket files these commits hold, each once: a file a commit leaves is often
        the file a commit of the batch before left (kept from it, not parsed again)."""
        wanted: list[str] = []
        for record in records:
            for change in self._ticket_changes(record):
                wanted += [b for b in (change.old, change.new) if b]
        earlier, self.parsed = self.parsed, {}
        for blob in wanted:
            if blob in earlier:
                self.parsed[blob] = earlier[blob]
        for blob, data in self.objects.blobs(b for b in wanted if b not in self.parsed).items():
            self.parsed[blob] = _parse_blob(data, blob)

    def ticket(self, blob: str | None, path: str) -> Ticket | None:
        if blob is None:
            return None
        found = self.parsed.get(blob)
        if found is None:
            found = _parse_blob(self.objects.blobs([blob]).get(blob, b""), blob)
        if isinstance(found, str):
            raise _Bad(f"{path} does not parse: {found}")
        return found

    def _workflow_blob(self, record: CommitRecord) -> str | None:
        """The workflow.yaml blob a commit holds: changed by it, else its first parent's."""
        path = self.prefix + store.WORKFLOW
        for change in record.changes:
            if change.path == path:
                return change.new
        return self._blob_at(record.parents[0]) if record.parents else None

    def _blob_at(self, commit: str) -> str | None:
        if commit not in self.workflow_at:  # before this run's range, or judged long ago: ask git
            name = f"{commit}:{self.prefix}{store.WORKFLOW}"
            found = self.objects.read([name]).get(name)
            self._remember_workflow(commit, found[0] if found else None)
        return self.workflow_at[commit]

    def _remember_workflow(self, commit: str, blob: str | None) -> None:
        """Keep the latest commits' workflow.yaml blobs: a commit's first parent is nearly always
        among them, and half a million of them would not fit the memory the audit may use."""
        self.workflow_at[commit] = blob
        if len(self.workflow_at) > WORKFLOWS_KEPT:
            del self.workflow_at[next(iter(self.workflow_at))]

    def workflow_for(self, record: CommitRecord) -> tuple[Workflow | None, str]:
        """The workflow.yaml in force when a commit was made: the one its first parent holds."""
        blob_id = self._blob_at(record.parents[0]) if record.parents else None
        if not blob_id:
            return None, "there was no workflow.yaml"
        if blob_id not in self.workflows:
            data = self.objects.blobs([blob_id]).get(blob_id, b"")
            loaded, problems = load_bytes(data, Path(store.WORKFLOW))
            self.workflows[blob_id] = (loaded, problems[0] if problems else "")
        return self.workflows[blob_id]

    def _judge_commit(self, record: CommitRecord) -> list[Violation]:
        changes = self._ticket_changes(record)
        found = self._judge_signature(record, changes)
        if not changes:
            return found
        if len(record.parents) > 1:
            return found + self._judge_merge(record, changes)
        trailers = record.trailers
        if "action" not in trailers:
            return found + [
                Violation(
                    record.commit, _id_of(c.path), f"changed outside erflow: {c.path} (no Erflow trailers)"
                )
                for c in changes
            ]
        try:
            return found + _judge_change(self, record, trailers, changes)
        except _Bad as exc:
            named = trailers.get("ticket", ["?"])[0]
            return found + [Violation(record.commit, named, exc.reason)]

    def _judge_signature(self, record: CommitRecord, changes: Sequence[FileChange]) -> list[Violation]:
        sign = record.signature or "N"
        if sign != "N":
            self.signed_seen = True
        ticket = _id_of(changes[0].path) if changes else ""
        if sign in BAD_SIGNATURES:
            return [Violation(record.commit, ticket, BAD_SIGNATURES[sign])]
        if sign == "E":
            return [
                Violation(
                    record.commit,
                    ticket,
                    "its signature cannot be checked (a missing key, or no gpg.ssh.allowedSignersFile)",
                )
            ]
        if sign == "N" and (self.signing or self.signed_seen) and changes:
            return [
                Violation(record.commit, ticket, "it is not signed, though this repository signs commits")
            ]
        return []

    def _judge_merge(self, record: CommitRecord, changes: Sequence[FileChange]) -> list[Violation]:
        """A merge may only hold, for each ticket, one parent's file or erflow's merge of both."""
        from erflow.trust.merge import merge_ticket

        if len(record.parents) > 2:
            return [
                Violation(
                    record.commit, _id_of(c.path), "an octopus merge of ticket files cannot be verified"
                )
                for c in changes
            ]
        ours, theirs = record.parents
        base = merge_base(self.git, ours, theirs)
        workflow, _ = self.workflow_for(record)
        names = [f"{theirs}:{c.path}" for c in changes] + (
            [f"{base}:{c.path}" for c in changes] if base else []
        )
        blobs = self.objects.blobs(
            names + [c.new for c in changes if c.new] + [c.old for c in changes if c.old]
        )
        found = []
        for change in changes:
            after = blobs.get(change.new or "", None)
            theirs_text = blobs.get(f"{theirs}:{change.path}")
            if after is None or after == theirs_text:
                continue  # deleted on a side (judged where it was deleted) or theirs taken as it is
            before = blobs.get(change.old or "")
            base_text = blobs.get(f"{base}:{change.path}") if base else None
            type_fields = _type_fields(workflow, after)
            try:
                expected = merge_ticket(
                    _text(base_text),
                    _text(before),
                    _text(theirs_text),
                    path=change.path,
                    type_fields=type_fields,
                ).text
            except ErflowError as exc:
                found.append(Violation(record.commit, _id_of(change.path), f"merge: {exc.message}"))
                continue
            if expected != _text(after):
                found.append(
                    Violation(
                        record.commit,
                        _id_of(change.path),
                        f"the merge changed {change.path} beyond erflow's merge of its two parents",
                    )
                )
        return found


def _batches(records: Iterable[CommitRecord], size: int) -> Iterator[list[CommitRecord]]:
    batch: list[CommitRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data is not None else ""


def _type_fields(workflow: Workflow | None, data: bytes) -> list[str]:
    if workflow is None:
        return []
    try:
        ticket = store.parse(_text(data), Path("merged"))
    except ErflowError:
        return []
    ticket_type = workflow.types.get(ticket.ticket.type)
    return list(ticket_type.fields) if ticket_type else []


def _parse_blob(data: bytes, name: str) -> Ticket | str:
    try:
        if b"\x00" in data:
            return "contains a NUL byte"
        return store.parse(data.decode("utf-8"), Path(name)).ticket
    except UnicodeDecodeError:
        return "not valid UTF-8"
    except ErflowError as exc:
        return exc.message


def _id_of(path: str) -> str:
    return PurePosixPath(path).stem


def _body(message: str) -> str:
    """The commit message's text between the subject and the trailers: the note given."""
    lines = message.strip("\n").split("\n")[1:]
    kept = [line for line in lines if not line.startswith("Erflow-")]
    return "\n".join(kept).strip()


def _judge_change(
    auditor: _Auditor, record: CommitRecord, trailers: Mapping[str, list[str]], changes: Sequence[FileChange]
) -> list[Violation]:
    """An erflow commit: the author is the actor, only named tickets changed, each legally."""
    commit = record.commit
    action = trailers["action"][0]
    actor = trailers.get("actor", [""])[0]
    named = list(dict.fromkeys(trailers.get("ticket", [])))
    primary = named[0] if named else ""
    found: list[Violation] = []
    if actor.lower() != record.author_email.lower():
        found.append(
            Violation(
                commit,
                primary,
                f"impostor: authored by {record.author_email} but claims erflow actor {actor}",
            )
        )
    if action == "renumber":
        return found + _judge_renumber(auditor, record, trailers, changes)
    sides: dict[str, _Side] = {}
    for change in changes:
        ticket_id = _id_of(change.path)
        if ticket_id not in named:
            found.append(
                Violation(commit, ticket_id, f"changed {change.path}, which the commit does not name")
            )
            continue
        if change.new is None:
            found.append(
                Violation(commit, ticket_id, f"deleted {change.path}; erflow never deletes a ticket")
            )
            continue
        try:
            side = _Side(
                change.path,
                ticket_id,
                auditor.ticket(change.old, change.path),
                auditor.ticket(change.new, change.path),
            )
        except _Bad as exc:
            found.append(Violation(commit, ticket_id, exc.reason))
            continue
        if side.new is not None and side.new.id != ticket_id:
            found.append(Violation(commit, ticket_id, f"{change.path} holds id {side.new.id!r}"))
            continue
        sides[ticket_id] = side
    if primary not in sides:
        return found
    workflow, problem = auditor.workflow_for(record)
    if workflow is None:
        return [Violation(commit, primary, f"the workflow.yaml in force does not load: {problem}")]
    judge = _Judge(workflow, record, trailers, actor, sides)
    for ticket_id, reason in judge.run(action, primary):
        found.append(Violation(commit, ticket_id, reason))
    return found


def _judge_renumber(
    auditor: _Auditor, record: CommitRecord, trailers: Mapping[str, list[str]], changes: Sequence[FileChange]
) -> list[Violation]:
    """``sync`` gave a ticket a new id (the other clone had the old one): the file moved to the new
    id, nothing else in it changed but a Notes entry; other tickets only had their links follow."""
    commit = record.commit
    old = trailers.get("renumbered", [""])[0]
    new = trailers.get("ticket", [""])[0]
    gone = [c for c in changes if c.new is None]
    made = [c for c in changes if c.old is None]
    if [_id_of(c.path) for c in gone] != [old] or [_id_of(c.path) for c in made] != [new]:
        return [Violation(commit, new, f"a renumber must move {old}'s file to {new}'s, and nothing else")]
    if old.split("-", 1)[0] != new.split("-", 1)[0]:
        return [Violation(commit, new, f"a renumber keeps the type's prefix ({old} -> {new})")]
    try:
        before = auditor.ticket(gone[0].old, gone[0].path)
        after = auditor.ticket(made[0].new, made[0].path)
    except _Bad as exc:
        return [Violation(commit, new, exc.reason)]
    assert before is not None and after is not None
    found = [Violation(commit, new, p) for p in _kept_history(before, after)]
    extra = [k for k in engine.diff(before.meta, after.meta) if k != "id"]
    if after.id != new or extra:
        found.append(Violation(commit, new, f"a renumber changed {', '.join(extra) or 'the id'} too"))
    for change in changes:
        if change in gone or change in made:
            continue
        try:
            one, two = auditor.ticket(change.old, change.path), auditor.ticket(change.new, change.path)
        except _Bad as exc:
            found.append(Violation(commit, _id_of(change.path), exc.reason))
            continue
        expected = [str(x).replace(old, new) for x in (one.meta.get("links") or [])] if one else []
        if (
            one is None
            or two is None
            or {**one.meta, "links": expected} != {**two.meta, "links": two.meta.get("links") or []}
            or (one.description, one.sections) != (two.description, two.sections)
        ):
            found.append(
                Violation(commit, _id_of(change.path), f"a renumber of {old} changed more than its links")
            )
    return found


@dataclass
class _Judge:
    """One erflow commit's changes judged under the workflow in force."""

    workflow: Workflow
    record: CommitRecord
    trailers: Mapping[str, list[str]]
    actor: str
    sides: dict[str, _Side]
    expect_created: list[str] = field(default_factory=list)  # types of the tickets a plan creates

    def run(self, action: str, primary: str) -> list[tuple[str, str]]:
        side = self.sides[primary]
        assert side.new is not None
        ticket_type = self.workflow.types.get(side.new.type)
        if ticket_type is None:
            return [(primary, f"type {side.new.type!r} is not in the workflow.yaml in force")]
        if action == "new":
            return self._new(side, ticket_type)
        if side.old is None:
            return [(primary, f"{action} created {side.path}; only new and transitions create tickets")]
        problems = _kept_history(side.old, side.new)
        if action == "advance":
            problems += self._advance(side, ticket_type, system=False)
        elif action == "sweep":
            problems += self._sweep(side, ticket_type)
        elif action == "set":
            problems += self._set(side, ticket_type)
        elif action in EDIT_FIELDS:
            problems += self._edit(action, side)
        else:
            problems.append(f"unknown erflow action {action!r}")
        return [(primary, p) for p in problems] + self._others(action, primary)

    # -- each action

    def _permitted(self, action: str) -> list[str]:
        permission = PERMISSION.get(action, action)
        if self.workflow.may(self.actor, permission):
            return []
        return [f"{self.actor} may not {permission} (permissions.{permission})"]

    def _new(self, side: _Side, ticket_type: TicketType) -> list[tuple[str, str]]:
        assert side.new is not None
        problems = self._permitted("new")
        if side.old is not None:
            problems.append("new rewrote an existing ticket file")
        problems += self._fresh(side.new, ticket_type)
        return [(side.ticket_id, p) for p in problems] + self._others("new", side.ticket_id)

    def _fresh(self, ticket: Ticket, ticket_type: TicketType) -> list[str]:
        problems = []
        if not ticket.id.startswith(ticket_type.prefix + "-"):
            problems.append(
                f"id {ticket.id} lacks the prefix {ticket_type.prefix}- of type {ticket_type.name}"
            )
        if ticket.state != ticket_type.initial:
            problems.append(f"created in {ticket.state!r}, not in the initial state {ticket_type.initial!r}")
        return problems

    def _advance(
        self, side: _Side, ticket_type: TicketType, *, system: bool, note: str | None = None
    ) -> list[str]:
        assert side.old is not None and side.new is not None
        transition = self.trailers.get("transition", [""])[0]
        claimed_from = self.trailers.get("from", [None])[0]
        claimed_to = self.trailers.get("to", [None])[0]
        if not transition:
            return ["an advance that names no transition"]
        problems = []
        if claimed_from != side.old.state:
            problems.append(
                f"{transition} claims to leave {claimed_from} but the ticket was in {side.old.state}"
            )
        if claimed_to != side.new.state:
            problems.append(
                f"{transition} claims to reach {claimed_to} but the ticket is in {side.new.state}"
            )
        sets = _sets_of(ticket_type, side.old.meta, side.new.meta, transition)
        dynamic: list[bool] = []

        def workload() -> engine.Workload:
            dynamic.append(True)
            return engine.Workload()

        try:
            plan = engine.plan(
                self.workflow, ticket_type, side.old.meta, transition, self.actor, sets,
                _body(self.record.message) if note is None else note, workload=workload, system=system,
            )  # fmt: skip
        except ErflowError as exc:
            return [*problems, f"illegal {transition}: {exc.message}"]
        if plan.to_state != side.new.state:
            problems.append(
                f"illegal jump: {transition} leads to {plan.to_state}, the ticket went to {side.new.state}"
            )
        skip = CLOCK_FIELDS | {"links"} | ({"owner"} if dynamic else set())
        for key in dict.fromkeys([*plan.values, *side.new.meta]) if not system else ():
            if key in skip:
                continue
            if plan.values.get(key) != side.new.meta.get(key):
                problems.append(
                    f"{transition} set {key}={model.brief(side.new.meta.get(key))!s}, "
                    f"the transition gives {model.brief(plan.values.get(key))!s}"
                )
        self.expect_created = [spec.type for spec in plan.linked]
        return problems

    def _sweep(self, side: _Side, ticket_type: TicketType) -> list[str]:
        assert side.old is not None and side.new is not None
        name = self.trailers.get("timer", [""])[0]
        before = set(map(str, side.old.meta.get(timers.FIRED) or []))
        keys = [str(k) for k in side.new.meta.get(timers.FIRED) or [] if str(k) not in before]
        if len(keys) != 1 or keys[0].partition("@")[0] != name:
            return [f"sweep of timer {name!r} does not record it in {timers.FIRED}"]
        when = dt.datetime.fromisoformat(self.record.date)
        due = [d for d in timers.due(self.workflow, ticket_type, side.old.meta, when) if d.key == keys[0]]
        if not due:
            return [f"timer {keys[0]} was not due at {self.record.date}"]
        if due[0].actions.transition is None:
            if side.new.state != side.old.state:
                return [f"timer {name} has no transition but moved the ticket to {side.new.state}"]
            return []
        return self._advance(side, ticket_type, system=True, note=f"timer {name}")

    def _set(self, side: _Side, ticket_type: TicketType) -> list[str]:
        assert side.old is not None and side.new is not None
        problems = self._permitted("set")
        for key, (_, value) in engine.diff(side.old.meta, side.new.meta).items():
            try:
                declared = engine.check_settable(ticket_type, key)
            except ErflowError as exc:
                problems.append(f"set {key}: {exc.message}")
                continue
            problem = declared.problem(value) if value is not None else None
            if problem:
                problems.append(f"set {key}: {problem}")
        return problems

    def _edit(self, action: str, side: _Side) -> list[str]:
        assert side.old is not None and side.new is not None
        problems = [] if action == "email" else self._permitted(action)
        allowed = EDIT_FIELDS[action]
        for key in engine.diff(side.old.meta, side.new.meta):
            if key not in allowed:
                problems.append(
                    f"{action} changed {key}, which only {'a transition' if key == 'state' else 'set'} may"
                )
        return problems

    def _others(self, action: str, primary: str) -> list[tuple[str, str]]:
        """The other tickets a commit names: tickets a transition created, or a link's other end."""
        created = set(self.trailers.get("created", []))
        expected = list(self.expect_created)
        found = []
        for ticket_id, side in self.sides.items():
            if ticket_id == primary:
                continue
            assert side.new is not None
            if side.old is None:
                ticket_type = self.workflow.types.get(side.new.type)
                if ticket_id not in created or ticket_type is None or ticket_type.name not in expected:
                    found.append(
                        (ticket_id, f"{action} of {primary} created {ticket_id}, which no transition makes")
                    )
                    continue
                expected.remove(ticket_type.name)
                found += [(ticket_id, p) for p in self._fresh(side.new, ticket_type)]
                continue
            extra = [k for k in engine.diff(side.old.meta, side.new.meta) if k != "links"]
            if extra or action not in ("link", "advance", "sweep"):
                what = ", ".join(extra) or "it"
                found.append((ticket_id, f"{action} of {primary} also changed {what} of {ticket_id}"))
            found += [(ticket_id, p) for p in _kept_history(side.old, side.new)]
        return found


def _sets_of(
    ticket_type: TicketType, old: Mapping[str, Any], new: Mapping[str, Any], transition: str
) -> dict[str, Any]:
    """The ``--set`` values a transition must have been given to turn ``old`` into ``new``."""
    chosen = next((t for t in ticket_type.transitions if t.name == transition), None)
    given = set(chosen.sets) if chosen else set()
    fresh = (engine.fresh_fields(chosen) if chosen else set()) - given
    sets: dict[str, Any] = {}
    for key in dict.fromkeys([*new, *old]):
        declared = ticket_type.field(key)
        if declared is None or declared.system or key in given:
            continue
        if old.get(key) != new.get(key) or (key in fresh and key in new):
            sets[key] = new.get(key)
    return sets


def _kept_history(old: Ticket, new: Ticket) -> list[str]:
    """The request text stays; Notes, Time and Communications only grow."""
    problems = []
    if old.description.strip() != new.description.strip():
        problems.append("rewrote the request text")
    for name in model.SECTIONS:
        before, after = old.sections.get(name, []), new.sections.get(name, [])
        if after[: len(before)] != before:
            problems.append(f"rewrote its {name} (entries may only be added)")
    return problems
