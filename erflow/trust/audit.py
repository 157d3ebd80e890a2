"""The audit: replay git history and prove every change to a ticket file was erflow's own, legal
under the workflow.yaml in force at that commit, by an actor whose roles allowed it.

Each commit is judged against its own parents only, so the order commits are read in does not
matter and a second run can start where the last one ended (the cache lives in the git folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow import __version__
from erflow.store.commits import read_commits
from erflow.store.files import write_atomic
from erflow.store.git import Git, ObjectReader, is_ancestor
from erflow.trust.parallel import run_full, run_length
from erflow.trust.replay import Replay, Rules
from erflow.trust.verdicts import CommitJudge, Violation, judge_records

CACHE_VERSION = 2  # 2: the rules in force (hand edits of workflow.yaml) are kept too
BATCH = 2000  # commits whose ticket files are read and parsed together
PARALLEL_MIN = 2000  # commits in a history that make a full audit spread over processes
WORKFLOWS_KEPT = 4096  # the workflow.yaml blob of the latest commits judged (older ones: ask git)

Progress = Callable[[int, int], None]
"""Told ``(commits judged, commits to judge)`` as the audit goes; the total comes first, with 0."""


@dataclass
class AuditResult:
    commits: int  # commits verified in all, this run and the runs it continues
    violations: list[Violation]
    new_commits: int = 0  # commits read by this run
    resumed_from: str | None = None  # the commit a cached run had verified up to

    def as_json(self) -> dict[str, Any]:
        return {"commits": self.commits, "violations": [v.as_json() for v in self.violations]}


def run(
    root: Path,
    git: Git,
    git_dir: Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    chunk: int | None = None,
) -> AuditResult:
    """Audit the history of the store at ``root``, continuing from the cache unless ``full``;
    ``progress`` hears how far it has got. A whole history (``full``, or no cache) is judged by
    ``workers`` processes (default: one a CPU, for a history of ``PARALLEL_MIN`` commits or more),
    ``chunk`` commits at a time (default: a quarter of each worker's share, within bounds)."""
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

    if since is None and head is not None:
        on_total(int(git.run("rev-list", "--count", "HEAD").strip() or 0))
        if workers is None:
            from erflow.store.pool import cpus

            workers = cpus() if total >= PARALLEL_MIN else 1
        if workers > 1:
            whole = run_full(
                git, prefix, signing, workers=workers, judged=judged, workflows_kept=WORKFLOWS_KEPT,
                batch=BATCH, chunk=chunk or run_length(total, workers),
            )  # fmt: skip
            judged(whole.commits)
            result = AuditResult(whole.commits, whole.violations, whole.commits, None)
            _write_cache(cache_path, head, result, whole.tainted, whole.head_rules)
            return result
    records = read_commits(git, since, signatures=True, on_total=on_total)
    violations = [Violation(**v) for v in cached["violations"]] if since and cached else []
    with ObjectReader(git) as objects:
        replay = Replay(objects, git, prefix, WORKFLOWS_KEPT)
        if since and cached:
            replay.tainted = {c: (r[0], r[1]) for c, r in cached["rules"].items()}
            at_head = cached.get("head_rules")
            if isinstance(at_head, list) and len(at_head) == 2:
                replay.resume_rules(since, (at_head[0], at_head[1]))
        found, count = judge_records(records, replay, CommitJudge(replay, signing), judged, BATCH)
        head_rules = replay.rules_at(head) if head is not None else (None, None)
    violations += found
    verified = (cached["commits"] if since and cached else 0) + count
    result = AuditResult(verified, violations, count, since)
    if head is not None:
        _write_cache(cache_path, head, result, replay.tainted, head_rules)
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
    if not isinstance(data.get("rules"), dict):
        return None
    return data


def _write_cache(
    path: Path, head: str, result: AuditResult, tainted: dict[str, Rules], head_rules: Rules
) -> None:
    payload = {
        "version": [CACHE_VERSION, __version__],
        "head": head,
        "commits": result.commits,
        "violations": [v.as_json() for v in result.violations],
        # the commits that left workflow.yaml other than legitimate: the rules in force after each
        "rules": {commit: list(rules) for commit, rules in tainted.items()},
        # the rules in force after ``head``: where the next run starts (else git is asked for the
        # last commit that changed workflow.yaml, a walk of the whole history in a large store)
        "head_rules": list(head_rules),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(payload) + "\n")
    except OSError:  # a read-only repository can still be audited, only not incrementally
        pass
