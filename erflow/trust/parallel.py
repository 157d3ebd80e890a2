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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from erflow.store import tickets as store
from erflow.store.commits import read_commits, read_listed
from erflow.store.git import Git, ObjectReader, stream
from erflow.trust import rules
from erflow.trust.replay import Replay, Rules
from erflow.trust.verdicts import CommitJudge, Violation, judge_records

CHUNK = 4000  # commits a worker judges at a time
NO_RULES: Rules = (None, None)


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
    chunk: int = CHUNK,
) -> FullAudit:
    """Judge every commit reachable from HEAD with ``workers`` processes (1: in this one);
    ``judged`` hears how many are done as runs end."""
    pool = None
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, wait

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        wait([pool.submit(_ready) for _ in range(workers)])  # forked now, while this process is small
    try:
        runs, tainted, head_rules = _first_pass(git, prefix, workflows_kept, chunk)
        task = (git.root, prefix, signing, workflows_kept, batch)
        results: list[tuple[list[Violation], int, bool]] = []
        if pool is None:
            done = 0
            for run in runs:
                results.append(_judge_run(*task, False, run))
                done += results[-1][1]
                judged(done)
        else:
            results = _judge_runs(pool, task, runs, judged)
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


def _ready() -> None:
    """Nothing: a task that makes the pool start its workers."""


def _judge_runs(
    pool: object, task: tuple[Path, str, bool, int, int], runs: list[Run], judged: Callable[[int], None]
) -> list[tuple[list[Violation], int, bool]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    assert isinstance(pool, ProcessPoolExecutor)
    futures = [pool.submit(_judge_run, *task, False, run) for run in runs]
    done = 0
    for future in as_completed(futures):
        done += future.result()[1]
        judged(done)
    return [f.result() for f in futures]


def _judge_run(
    root: Path, prefix: str, signing: bool, workflows_kept: int, batch: int, signed_seen: bool, run: Run
) -> tuple[list[Violation], int, bool]:
    """A run's violations, its number of commits, and whether a signed commit was seen by its end."""
    git = Git(root)
    with ObjectReader(git) as objects:
        replay = Replay(objects, git, prefix, workflows_kept, fixed=run.fixed)
        judge = CommitJudge(replay, signing, signed_seen)
        records = read_listed(git, run.commits, signatures=True)
        found, count = judge_records(records, replay, judge, lambda _: None, batch)
    return found, count, judge.signed_seen


def _first_pass(
    git: Git, prefix: str, workflows_kept: int, chunk: int
) -> tuple[list[Run], dict[str, Rules], Rules]:
    """The runs to judge, each with the rules in force after its commits' parents; the commits that
    left workflow.yaml hand-edited, and the rules in force after HEAD."""
    paths = [f":(top){prefix}{store.WORKFLOW}", f":(top){prefix}{store.TEMPLATES}"]
    with ObjectReader(git) as objects:
        replay = Replay(objects, git, prefix, workflows_kept)
        changing = {
            r.commit: r
            for r in read_commits(git, None, signatures=False, paths=paths)
            if replay.rules_changes(r)
        }
        anchor: dict[str, str | None] = {}  # commit -> the nearest rules change on its first-parent line
        after: dict[str | None, Rules] = {None: NO_RULES}  # rules change -> the rules it left
        runs: list[Run] = []
        parents_anchor: list[dict[str, str | None]] = []
        for line in stream(git, ["rev-list", "--reverse", "--topo-order", "--parents", "HEAD"]):
            commit, *parents = line.decode("ascii").split()
            if not runs or len(runs[-1].commits) == chunk:
                runs.append(Run())
                parents_anchor.append({})
            runs[-1].commits.append(commit)
            kept = parents_anchor[-1]
            for parent in parents:
                kept[parent] = anchor.get(parent)
            record = changing.get(commit)
            if record is not None:
                replay.fixed.update((p, after[anchor.get(p)]) for p in parents)
                rules.judge(replay, record)
                after[commit] = replay.rules_at(commit)
            anchor[commit] = commit if record is not None else anchor.get(parents[0]) if parents else None
        head = git.head()
        head_rules = after[anchor.get(head)] if head is not None else NO_RULES
        del anchor
        for run, kept in zip(runs, parents_anchor, strict=True):
            run.fixed = {p: after[a] for p, a in kept.items()}
        return runs, replay.tainted, head_rules
