"""The audit of a whole history spread over processes, each judging its own runs of commits.

A commit is judged against its parents and the rules in force after its first parent; only those
rules and whether a signed commit came before it tie it to the rest of the history. A first pass
finds the rules: it judges the few commits that change workflow.yaml or templates/ (in order), and
each commit's rules are those its nearest such commit on its first-parent line left. The commits,
in the order a serial audit reads them, are then cut into runs that workers judge at once; their
verdicts, put back in that order, are the serial audit's. A run that a signed commit before it
would have judged otherwise is judged again, knowing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.core.workflow import Workflow
from erflow.store import tickets as store
from erflow.store.commits import read_commits, read_listed
from erflow.store.git import Git, ObjectReader
from erflow.store.git_stream import stream
from erflow.trust import rules
from erflow.trust.replay import Replay, Rules
from erflow.trust.verdicts import CommitJudge, Violation, judge_records

RUN = (2000, 20000)  # the fewest and most commits a worker judges at a time
NO_RULES: Rules = (None, None)
# Each workflow.yaml blob a process has parsed (a worker judges many runs, mostly under one of them).
_WORKFLOWS: dict[str, tuple[Workflow | None, str]] = {}


@dataclass
class Run:
    """A run of consecutive commits (in the serial order) and the rules in force after each of
    their parents."""

    commits: list[str] = field(default_factory=list)
    fixed: dict[str, Rules] = field(default_factory=dict)


@dataclass
class FullAudit:
    """What judging the whole history found."""

    violations: list[Violation]
    commits: int
    tainted: dict[str, Rules]  # as Replay.tainted: the commits that left workflow.yaml hand-edited
    head_rules: Rules  # the rules in force after HEAD


def run_full(
    git: Git,
    prefix: str,
    signing: bool,
    *,
    workers: int,
    judged: Callable[[int], None],
    workflows_kept: int,
    batch: int,
    chunk: int,
) -> FullAudit:
    """Judge every commit reachable from HEAD with ``workers`` processes (1: in this one);
    ``judged`` hears how many are done as runs end."""
    pool = None
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor, wait

        from erflow.store.pool import context

        pool = ProcessPoolExecutor(workers, mp_context=context())
        wait([pool.submit(_ready) for _ in range(workers)])  # forked now, while this process is small
    try:
        task = (git.root, prefix, signing, workflows_kept, batch)
        runs: list[Run] = []
        results: list[tuple[list[Violation], int, bool]] = []
        pending = []
        with ObjectReader(git) as objects:
            first = FirstPass(Replay(objects, git, prefix, workflows_kept))
            for run in first.runs(git, chunk):  # each run judged as soon as the first pass has it
                runs.append(run)
                if pool is not None:
                    pending.append(pool.submit(_judge_run, *task, False, run))
                else:
                    results.append(_judge_run(*task, False, run))
                    judged(sum(r[1] for r in results))
            tainted, head_rules = first.replay.tainted, first.rules_after(git.head())
        if pool is not None:
            results = _results(pending, judged)
        seen = signing
        found: list[Violation] = []
        for run, (verdicts, _, signed) in zip(runs, results, strict=True):
            if seen and not signing:  # a signed commit came before this run: unsigned ones now count
                verdicts, _, signed = _judge_run(*task, True, run)
            found += verdicts
            seen = seen or signed
    finally:
        if pool is not None:
            pool.shutdown()
    return FullAudit(found, sum(r[1] for r in results), tainted, head_rules)


def run_length(commits: int, workers: int) -> int:
    """How many commits a worker judges at a time: a quarter of its share, so that the workers end
    together, but not so few that starting git and parsing the first ticket files dominate."""
    return min(max(commits // (workers * 4), RUN[0]), RUN[1])


def _ready() -> None:
    """Nothing: a task that makes the pool start its workers."""


def _results(pending: list[Any], judged: Callable[[int], None]) -> list[tuple[list[Violation], int, bool]]:
    """The runs' results in their order; ``judged`` hears the commits done as each ends."""
    from concurrent.futures import as_completed

    done = 0
    for future in as_completed(pending):
        done += future.result()[1]
        judged(done)
    return [f.result() for f in pending]


def _judge_run(
    root: Path, prefix: str, signing: bool, workflows_kept: int, batch: int, signed_seen: bool, run: Run
) -> tuple[list[Violation], int, bool]:
    """A run's violations, its number of commits, and whether a signed commit was seen by its end."""
    git = Git(root)
    with ObjectReader(git) as objects:
        replay = Replay(objects, git, prefix, workflows_kept, fixed=run.fixed, workflows=_WORKFLOWS)
        judge = CommitJudge(replay, signing, signed_seen)
        records = read_listed(git, run.commits, signatures=True)
        found, count = judge_records(records, replay, judge, lambda _: None, batch)
    return found, count, judge.signed_seen


class FirstPass:
    """The commits in the serial audit's order, cut into runs, with the rules in force after each:
    the commits that change the rules judged on the way (in order), every other commit holding the
    rules its nearest such commit on its first-parent line left."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.anchor: dict[str, str | None] = {}  # commit -> the nearest rules change on its line
        self.after: dict[str | None, Rules] = {None: NO_RULES}  # rules change -> the rules it left

    def runs(self, git: Git, chunk: int) -> Iterator[Run]:
        """Runs of ``chunk`` commits, each given as soon as its last commit is read."""
        prefix = self.replay.prefix
        paths = [f":(top){prefix}{store.WORKFLOW}", f":(top){prefix}{store.TEMPLATES}"]
        changing = {
            r.commit: r
            for r in read_commits(git, None, signatures=False, paths=paths)
            if self.replay.rules_changes(r)
        }
        run, parents_anchor = Run(), dict[str, str | None]()
        for line in stream(git, ["rev-list", "--reverse", "--topo-order", "--parents", "HEAD"]):
            commit, *parents = line.decode("ascii").split()
            if len(run.commits) == chunk:
                yield self._resolved(run, parents_anchor)
                run, parents_anchor = Run(), {}
            run.commits.append(commit)
            for parent in parents:
                parents_anchor[parent] = self.anchor.get(parent)
            record = changing.get(commit)
            if record is not None:
                self.replay.fixed.update((p, self.after[self.anchor.get(p)]) for p in parents)
                rules.judge(self.replay, record)
                self.after[commit] = self.replay.rules_at(commit)
            self.anchor[commit] = (
                commit if record is not None else self.anchor.get(parents[0]) if parents else None
            )
        if run.commits:
            yield self._resolved(run, parents_anchor)

    def _resolved(self, run: Run, parents_anchor: dict[str, str | None]) -> Run:
        run.fixed = {p: self.after[a] for p, a in parents_anchor.items()}
        return run

    def rules_after(self, commit: str | None) -> Rules:
        return self.after[self.anchor.get(commit)] if commit is not None else NO_RULES
