"""The history the audit replays, read a batch of commits at a time: each ticket file they touch
parsed once, and the workflow.yaml in force at each commit: the one the last legitimate change of
the rules left on its first-parent line (a hand edit of workflow.yaml does not count)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from erflow.core.errors import ErflowError
from erflow.core.loader import load_bytes
from erflow.core.model import Ticket
from erflow.core.workflow import Workflow
from erflow.store import ticketfile
from erflow.store import tickets as store
from erflow.store.commits import CommitRecord, FileChange
from erflow.store.git import Git, ObjectReader

# Ticket files kept parsed: at 100k tickets, a run of 20,000 commits parses 21,334 files, not the
# 23,078 it would if it kept only the batch before's (it holds 21,215 distinct ones).
PARSED_KEPT = 8192
Rules = tuple[str | None, str | None]
"""The rules in force after a commit: the legitimate workflow.yaml blob (None: there has never been
one), and the commit that hand-edited the file as it is (None: it is the legitimate one)."""


class Unreadable(Exception):
    """A ticket file a commit holds does not parse: the reason names it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Replay:
    """What the audit reads of each commit: its ticket files (parsed a batch at a time, each blob
    once) and the workflow.yaml in force (kept for the latest commits, else asked of git)."""

    objects: ObjectReader
    git: Git
    prefix: str  # where the store sits in its repository ('' at the top, else 'sub/dir/')
    workflows_kept: int  # how many of the latest commits' workflow.yaml blobs to keep
    workflows: dict[str, tuple[Workflow | None, str]] = field(default_factory=dict)
    workflow_at: dict[str, str | None] = field(default_factory=dict)  # commit -> its workflow.yaml blob
    parsed: dict[str, Ticket | str] = field(default_factory=dict)  # blob id -> ticket, or its problem
    # commit -> the rules in force after it: the legitimate workflow.yaml blob, and the hand edit
    # that left the file otherwise (None when the file is the legitimate one)
    rules: dict[str, Rules] = field(default_factory=dict)
    # the commits that changed workflow.yaml and leave it other than legitimate: what the rules are
    # after each (kept in the audit's cache: a later run reads older commits' rules from them)
    tainted: dict[str, Rules] = field(default_factory=dict)
    # the rules in force after commits, found before the replay (a parallel full audit's first pass)
    fixed: dict[str, Rules] = field(default_factory=dict)

    def rules_changes(self, record: CommitRecord) -> list[FileChange]:
        """The changes of workflow.yaml and of files under templates/."""
        workflow, templates = self._paths[:2]
        return [c for c in record.changes if c.path == workflow or c.path.startswith(templates)]

    def ticket_changes(self, record: CommitRecord) -> list[FileChange]:
        tickets = self._paths[2]
        return [c for c in record.changes if c.path.startswith(tickets) and c.path.endswith(".md")]

    @functools.cached_property
    def _paths(self) -> tuple[str, str, str]:
        """Where workflow.yaml, templates/ and tickets/ sit in the repository."""
        prefix = self.prefix
        return prefix + store.WORKFLOW, prefix + store.TEMPLATES + "/", prefix + ticketfile.TICKETS + "/"

    def load(self, records: Sequence[CommitRecord]) -> None:
        """Parse the ticket files these commits hold, each once: a file a commit leaves is often
        the file an earlier commit left (kept from then, not read nor parsed again: the latest
        PARSED_KEPT files the batches wanted are kept, and every file this batch wants)."""
        wanted: dict[str, None] = {}
        for record in records:
            for change in self.ticket_changes(record):
                if change.old:
                    wanted[change.old] = None
                if change.new:
                    wanted[change.new] = None
        kept = self.parsed
        for blob in wanted:  # the latest wanted last: kept longest
            found = kept.pop(blob, None)
            if found is not None:
                kept[blob] = found
        for blob, data in self.objects.blobs(b for b in wanted if b not in kept).items():
            kept[blob] = _parse_blob(data, blob)
        for _ in range(len(kept) - max(PARSED_KEPT, len(wanted))):
            del kept[next(iter(kept))]

    def ticket(self, blob: str | None, path: str) -> Ticket | None:
        if blob is None:
            return None
        found = self.parsed.get(blob)
        if found is None:
            found = _parse_blob(self.objects.blobs([blob]).get(blob, b""), blob)
        if isinstance(found, str):
            raise Unreadable(f"{path} does not parse: {found}")
        return found

    def judged(self, record: CommitRecord) -> None:
        """A commit has been judged: keep its workflow.yaml blob for the commits made on it."""
        self._remember_workflow(record.commit, self._workflow_blob(record))

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
        if len(self.workflow_at) > self.workflows_kept:
            del self.workflow_at[next(iter(self.workflow_at))]

    def workflow_blob(self, commit: str) -> str | None:
        """The workflow.yaml blob a commit holds (as it is, legitimate or not)."""
        return self._blob_at(commit)

    def rules_at(self, commit: str) -> Rules:
        """The rules in force after ``commit``: judged in this run, else found from git: the newest
        commit on its first-parent line that changed workflow.yaml holds them, unless the audit
        recorded it as leaving them otherwise."""
        known = self.fixed.get(commit)
        if known is not None:
            return known
        if commit not in self.rules:
            path = f":(top){self.prefix}{store.WORKFLOW}"
            last = self.git.run("rev-list", "--first-parent", "-n", "1", commit, "--", path).strip()
            if not last:
                found: Rules = (None, None)
            else:
                found = self.tainted.get(last) or (self._blob_at(last), None)
            self._remember(self.rules, commit, found)
        return self.rules[commit]

    def resume_rules(self, commit: str, rules: Rules) -> None:
        """The rules in force after ``commit`` as an earlier run found them (the audit's cache): a
        run that continues from there need not ask git for the last commit that changed them."""
        self._remember(self.rules, commit, rules)

    def set_rules(self, commit: str, rules: Rules, *, changed: bool, blob: str | None) -> None:
        """A commit has been judged: ``rules`` are in force after it; ``changed`` says whether it
        changed workflow.yaml (whose blob it leaves is ``blob``)."""
        self._remember(self.rules, commit, rules)
        if changed and rules != (blob, None):
            self.tainted[commit] = rules

    def _remember(self, kept: dict[str, Rules], commit: str, rules: Rules) -> None:
        kept[commit] = rules
        if len(kept) > self.workflows_kept:
            del kept[next(iter(kept))]

    def workflow_for(self, record: CommitRecord) -> tuple[Workflow | None, str]:
        """The workflow.yaml in force when a commit was made: the legitimate one after its first
        parent."""
        return self.load_workflow(self.rules_at(record.parents[0])[0] if record.parents else None)

    def hand_edit_for(self, record: CommitRecord) -> str | None:
        """The hand edit that left workflow.yaml otherwise than legitimate before this commit."""
        return self.rules_at(record.parents[0])[1] if record.parents else None

    def actual_workflow_for(self, record: CommitRecord) -> tuple[Workflow | None, str]:
        """The workflow.yaml its first parent holds, hand edits and all."""
        return self.load_workflow(self._blob_at(record.parents[0]) if record.parents else None)

    def load_workflow(self, blob_id: str | None) -> tuple[Workflow | None, str]:
        """A workflow.yaml blob parsed (once), or None and its first problem."""
        if not blob_id:
            return None, "there was no workflow.yaml"
        if blob_id not in self.workflows:
            data = self.objects.blobs([blob_id]).get(blob_id, b"")
            loaded, problems = load_bytes(data, Path(store.WORKFLOW))
            self.workflows[blob_id] = (loaded, problems[0] if problems else "")
        return self.workflows[blob_id]


def batches(records: Iterable[CommitRecord], size: int) -> Iterator[list[CommitRecord]]:
    batch: list[CommitRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _parse_blob(data: bytes, name: str) -> Ticket | str:
    try:
        if b"\x00" in data:
            return "contains a NUL byte"
        return ticketfile.parse(data.decode("utf-8"), name).ticket
    except UnicodeDecodeError:
        return "not valid UTF-8"
    except ErflowError as exc:
        return exc.message
