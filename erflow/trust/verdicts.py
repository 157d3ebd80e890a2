"""Each commit of the store's history judged: its signature, a merge against erflow's merge of its
two parents, and an erflow commit's author, trailers and the ticket files it changed (judge.py
judges each change under the workflow in force)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from erflow.core import engine
from erflow.core.errors import ErflowError
from erflow.core.workflow import Workflow
from erflow.store import ticketfile
from erflow.store.commits import CommitRecord, FileChange
from erflow.store.git import merge_base
from erflow.store.ticketfile import id_of
from erflow.trust import rules
from erflow.trust.judge import Judge, Side, kept_history
from erflow.trust.replay import Replay, Unreadable, batches

BAD_SIGNATURES = {"B": "its signature is bad", "R": "it is signed with a revoked key"}


@dataclass(frozen=True)
class Violation:
    commit: str
    ticket: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"commit": self.commit, "ticket": self.ticket, "reason": self.reason}


@dataclass
class CommitJudge:
    """Judges commits in any order, each against its parents; remembers whether any was signed."""

    replay: Replay
    signing: bool  # the repository signs its commits (commit.gpgsign)
    signed_seen: bool = False

    def judge(self, record: CommitRecord) -> list[Violation]:
        changes = self.replay.ticket_changes(record)
        found = self._signature(record, changes)
        found += [Violation(record.commit, t, r) for t, r in rules.judge(self.replay, record)]
        if not changes:
            return found
        if len(record.parents) > 1:
            return found + self._merge(record, changes)
        trailers = record.trailers
        if "action" not in trailers:
            return found + [
                Violation(
                    record.commit, id_of(c.path), f"changed outside erflow: {c.path} (no Erflow trailers)"
                )
                for c in changes
            ]
        if trailers["action"][0] == rules.ACTION:
            verdicts = rules.judge_moves(self.replay, record, changes)
            return found + [Violation(record.commit, t, r) for t, r in verdicts]
        try:
            return found + _judge_change(self.replay, record, trailers, changes)
        except Unreadable as exc:
            named = trailers.get("ticket", ["?"])[0]
            return found + [Violation(record.commit, named, exc.reason)]

    def _signature(self, record: CommitRecord, changes: Sequence[FileChange]) -> list[Violation]:
        sign = record.signature or "N"
        if sign != "N":
            self.signed_seen = True
        ticket = id_of(changes[0].path) if changes else ""
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

    def _merge(self, record: CommitRecord, changes: Sequence[FileChange]) -> list[Violation]:
        """A merge may only hold, for each ticket, one parent's file or erflow's merge of both."""
        from erflow.trust.merge import merge_ticket

        if len(record.parents) > 2:
            return [
                Violation(record.commit, id_of(c.path), "an octopus merge of ticket files cannot be verified")
                for c in changes
            ]
        ours, theirs = record.parents
        base = merge_base(self.replay.git, ours, theirs)
        workflow, _ = self.replay.workflow_for(record)
        names = [f"{theirs}:{c.path}" for c in changes] + (
            [f"{base}:{c.path}" for c in changes] if base else []
        )
        blobs = self.replay.objects.blobs(
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
                found.append(Violation(record.commit, id_of(change.path), f"merge: {exc.message}"))
                continue
            if expected != _text(after):
                found.append(
                    Violation(
                        record.commit,
                        id_of(change.path),
                        f"the merge changed {change.path} beyond erflow's merge of its two parents",
                    )
                )
        return found


def judge_records(
    records: Iterable[CommitRecord],
    replay: Replay,
    commits: CommitJudge,
    judged: Callable[[int], None],
    size: int,
) -> tuple[list[Violation], int]:
    """Every violation in these commits, and how many commits there were; ``judged`` is told
    the count so far every few hundred commits."""
    found: list[Violation] = []
    count = 0
    for batch in batches(records, size):  # blobs are read a batch at a time, never all at once
        replay.load(batch)
        for record in batch:
            found += commits.judge(record)
            replay.judged(record)
            count += 1
            if count % 250 == 0:
                judged(count)
    judged(count)
    return found, count


def _judge_change(
    replay: Replay, record: CommitRecord, trailers: Mapping[str, list[str]], changes: Sequence[FileChange]
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
        return found + _judge_renumber(replay, record, trailers, changes)
    sides: dict[str, Side] = {}
    for change in changes:
        ticket_id = id_of(change.path)
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
            side = Side(
                change.path,
                ticket_id,
                replay.ticket(change.old, change.path),
                replay.ticket(change.new, change.path),
            )
        except Unreadable as exc:
            found.append(Violation(commit, ticket_id, exc.reason))
            continue
        if side.new is not None and side.new.id != ticket_id:
            found.append(Violation(commit, ticket_id, f"{change.path} holds id {side.new.id!r}"))
            continue
        sides[ticket_id] = side
    if primary not in sides:
        return found
    workflow, problem = replay.workflow_for(record)
    if workflow is None:
        return [Violation(commit, primary, f"the workflow.yaml in force does not load: {problem}")]
    verdicts = Judge(workflow, record, trailers, actor, sides).run(action, primary)
    hand_edit = replay.hand_edit_for(record)
    if verdicts and hand_edit:  # legal under the hand-edited workflow.yaml alone: say so
        actual, _ = replay.actual_workflow_for(record)
        if actual is not None and not Judge(actual, record, trailers, actor, sides).run(action, primary):
            verdicts = [
                (t, f"{r} (allowed only by the hand edit of workflow.yaml in {hand_edit[:12]})")
                for t, r in verdicts
            ]
    found += [Violation(commit, t, r) for t, r in verdicts]
    return found


def _judge_renumber(
    replay: Replay, record: CommitRecord, trailers: Mapping[str, list[str]], changes: Sequence[FileChange]
) -> list[Violation]:
    """``sync`` gave a ticket a new id (the other clone had the old one): the file moved to the new
    id, nothing else in it changed but a Notes entry; other tickets only had their links follow."""
    commit = record.commit
    old = trailers.get("renumbered", [""])[0]
    new = trailers.get("ticket", [""])[0]
    gone = [c for c in changes if c.new is None]
    made = [c for c in changes if c.old is None]
    if [id_of(c.path) for c in gone] != [old] or [id_of(c.path) for c in made] != [new]:
        return [Violation(commit, new, f"a renumber must move {old}'s file to {new}'s, and nothing else")]
    if old.split("-", 1)[0] != new.split("-", 1)[0]:
        return [Violation(commit, new, f"a renumber keeps the type's prefix ({old} -> {new})")]
    try:
        before = replay.ticket(gone[0].old, gone[0].path)
        after = replay.ticket(made[0].new, made[0].path)
    except Unreadable as exc:
        return [Violation(commit, new, exc.reason)]
    assert before is not None and after is not None
    found = [Violation(commit, new, p) for p in kept_history(before, after)]
    extra = [k for k in engine.diff(before.meta, after.meta) if k != "id"]
    if after.id != new or extra:
        found.append(Violation(commit, new, f"a renumber changed {', '.join(extra) or 'the id'} too"))
    for change in changes:
        if change in gone or change in made:
            continue
        try:
            one, two = replay.ticket(change.old, change.path), replay.ticket(change.new, change.path)
        except Unreadable as exc:
            found.append(Violation(commit, id_of(change.path), exc.reason))
            continue
        expected = [str(x).replace(old, new) for x in (one.meta.get("links") or [])] if one else []
        if (
            one is None
            or two is None
            or {**one.meta, "links": expected} != {**two.meta, "links": two.meta.get("links") or []}
            or (one.description, one.sections) != (two.description, two.sections)
        ):
            found.append(
                Violation(commit, id_of(change.path), f"a renumber of {old} changed more than its links")
            )
    return found


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data is not None else ""


def _type_fields(workflow: Workflow | None, data: bytes) -> list[str]:
    if workflow is None:
        return []
    try:
        ticket = ticketfile.parse(_text(data), Path("merged"))
    except ErflowError:
        return []
    ticket_type = workflow.types.get(ticket.ticket.type)
    return list(ticket_type.fields) if ticket_type else []
