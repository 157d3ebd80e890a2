"""erflow killed (``kill -9``) at any point of a change: the next command finishes or undoes it.

The killed command is always a real ``python -m erflow`` process: told by ERFLOW_FAILPOINT to kill
itself at a named point (erflow/faults.py), killed by a git hook, or killed by the test after a
random delay. What follows it runs in-process (the same code, without a process start each time).
After every kill: ``check`` passes, the next write recovers (git status clean, no journal left,
``audit`` passes), the change landed exactly once or not at all, and the ticket moves on as usual.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import CUSTOMER_EMAIL, PM, SUPPORT, Cli, Mailbox, describe, git

from erflow.store import faults, journal

ERFLOW = [sys.executable, "-m", "erflow"]
KILLED = -signal.SIGKILL

NEW = (
    "new", "support", "--title", "Printer on fire", "--customer-name", "Jane Doe",
    "--customer-email", CUSTOMER_EMAIL, "--customer-org", "Acme Corp",
)  # fmt: skip
# Moves the request to resolved and creates a linked bug: one changed file and one new one.
RESOLVE = (
    "advance", "{id}", "resolve", "--set", "resolution=defect",
    "--set", "resolution_notes=The export drops rows with a null date", "--set", "defect_severity=high",
)  # fmt: skip

_TEMPLATES: dict[str, tuple[Path, str]] = {}


# ---------------------------------------------------------------------------------------------
# Helpers


def erflow(root: Path, *args: str, user: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start erflow as a process of its own, pointed at ``root``."""
    full_env = {**os.environ, "ERFLOW_USER": user, **(env or {})}
    return subprocess.Popen(
        [*ERFLOW, *args, "--store", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


def killed_at(root: Path, point: str, *args: str, user: str) -> None:
    """Run erflow told to kill itself at ``point``; it must die there."""
    proc = erflow(root, *args, user=user, env={faults.ENV: point})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == KILLED, f"exit {proc.returncode}\n{out}\n{err}"


def journal_file(root: Path) -> Path:
    return journal.location(root / ".git")


def assert_every_ticket_lists(run: Cli) -> None:
    """Every ticket file parses: ``list`` shows them all and skips none."""
    result = run.ok("list", "--json")
    assert "skipped" not in result.stderr, describe(result)
    files = sorted(p.stem for p in (run.root / "tickets").rglob("*.md"))
    assert sorted(t["id"] for t in json.loads(result.stdout)) == files


def assert_store_sound(root: Path) -> None:
    """What every recovery leaves: check and audit pass, every ticket lists, a clean git status and
    no journal."""
    run = Cli(root, root)
    run.ok("check")
    assert_every_ticket_lists(run)
    run.ok("audit")
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not journal_file(root).exists()
    assert not list(journal_file(root).parent.glob("*.tmp"))


def subjects(root: Path, since: str) -> list[str]:
    return git(root, "log", "--format=%s", f"{since}..HEAD").splitlines()


def request_in_scoping(run: Cli) -> str:
    """``run.root``: a store holding one support request in scoping (built once, then copied); its id."""
    if "scoping" not in _TEMPLATES:
        built = Cli(run.cache_dir / "faults" / "store", run.cache_dir)
        built.init()
        ticket_id = built.json(*NEW, user=SUPPORT)["id"]
        classify = ("--set", "classification=Bug Fix", "--set", "product=Billing Portal")
        built.ok("advance", ticket_id, "classify", *classify, user=PM)
        _TEMPLATES["scoping"] = (built.root, ticket_id)
    source, ticket_id = _TEMPLATES["scoping"]
    shutil.copytree(source, run.root, symlinks=True)
    return ticket_id


# ---------------------------------------------------------------------------------------------
# Every failpoint, for a new ticket and for a transition that creates a linked ticket

CASES = [
    *[pytest.param(point, "advance", False, id=f"advance-{point}") for point in faults.WRITE_POINTS],
    *[pytest.param(point, "new", False, id=f"new-{point}") for point in faults.WRITE_POINTS],
    pytest.param("files-written", "advance", True, id="advance-files-written-with-emails"),
    pytest.param("committed", "advance", True, id="advance-committed-with-emails"),
    pytest.param("committed", "new", True, id="new-committed-with-emails"),
]  # the points of delivery (after the journal is gone): tests/test_outbox.py


@pytest.mark.parametrize(("point", "command", "send"), CASES)
def test_a_change_killed_at_any_failpoint_lands_once_or_not_at_all_and_the_store_moves_on(
    run: Cli, request: pytest.FixtureRequest, point: str, command: str, send: bool
) -> None:
    mailbox: Mailbox | None = request.getfixturevalue("smtp_server") if send else None
    ticket = request_in_scoping(run)
    root = run.root
    before = run.snapshot()
    args = [a.format(id=ticket) for a in (RESOLVE if command == "advance" else NEW)]
    killed_at(root, point, *args, *(["--send"] if send else []), user=PM)
    assert journal_file(root).exists()

    run.ok("check")
    assert_every_ticket_lists(run)
    # The next write recovers first, whatever it then does (this one is refused: exit 3).
    refused = run("advance", ticket, "start_work", user=PM)
    assert refused.exit_code == 3, describe(refused)
    assert run.git("status", "--porcelain", "--untracked-files=all") == ""
    assert_store_sound(root)

    # A change lands with its emails queued in the outbox, or not at all; none is sent before it lands,
    # nor by the recovery (``erflow outbox flush`` delivers them: tests/test_outbox.py).
    expected = 1 if point == "committed" else 0
    made = [s for s in subjects(root, before.head) if s.startswith(f"{ticket} advance resolve")]
    if command == "new":
        made = [s for s in subjects(root, before.head) if " new (Printer on fire)" in s]
    assert len(made) == expected
    if expected == 0:
        assert run.snapshot() == before  # HEAD, every file and git status as before the change
    if mailbox is not None:
        assert mailbox.envelopes == []
        waiting = run.json("outbox")
        assert {w["status"] for w in waiting} == ({"pending"} if expected else set())

    # And the store moves on: the ticket (or a new one) advances as if nothing had happened.
    if command == "advance":
        if expected:
            run.ok("advance", ticket, "close", user=PM)
            assert run.state(ticket) == "closed"
        else:
            data = run.json(*args, user=PM)
            assert run.state(ticket) == "resolved" and len(data["created"]) == 1
        assert len([s for s in subjects(root, before.head) if s.startswith(f"{ticket} advance resolve")]) == 1
    else:
        fresh = [p.stem for p in (root / "tickets").rglob("*.md") if p.stem != ticket]
        assert len(fresh) == expected
        created = fresh[0] if fresh else run.json(*NEW, user=SUPPORT)["id"]
        classify = ("--set", "classification=Bug Fix", "--set", "product=Billing Portal")
        run.ok("advance", created, "classify", *classify, user=PM)
    assert_store_sound(root)


def test_a_document_written_by_a_killed_transition_goes_again_with_its_folder(run: Cli) -> None:
    ticket = request_in_scoping(run)
    root = run.root
    run.ok(*[a.format(id=ticket) for a in RESOLVE], user=PM)
    before = run.snapshot()
    publish = ("advance", ticket, "publish_article", "--set", "article_summary=Null dates drop rows")
    killed_at(root, "files-written", *publish, user=PM)
    assert (root / "knowledge" / f"{ticket}.md").is_file()

    refused = run("advance", ticket, "start_work", user=PM)

    assert refused.exit_code == 3, describe(refused)
    assert run.snapshot() == before
    assert not (root / "knowledge").exists()
    run.ok(*publish, user=PM)
    assert (root / "knowledge" / f"{ticket}.md").is_file()
    assert_store_sound(root)


# ---------------------------------------------------------------------------------------------
# git itself outliving erflow, or killed with it

ORPHAN_HOOK = """#!/bin/sh
# Once: kill erflow (git's parent), then let git finish the commit on its own.
if [ -e "{marker}" ]; then
  rm -f "{marker}"
  kill -9 $(ps -o ppid= -p $PPID)
  sleep 0.3
fi
exit 0
"""

KILL_BOTH_HOOK = """#!/bin/sh
# Once: kill erflow and git together (as a kill of the process group would), leaving index.lock.
if [ -e "{marker}" ]; then
  rm -f "{marker}"
  kill -9 $(ps -o ppid= -p $PPID) $PPID
fi
exit 0
"""


def install_hook(root: Path, script: str) -> None:
    marker = root.parent / "kill-once"
    marker.touch()
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(script.format(marker=marker), encoding="utf-8")
    hook.chmod(0o755)


def test_a_git_commit_that_outlives_a_killed_erflow_is_awaited_and_its_commit_kept(run: Cli) -> None:
    ticket = request_in_scoping(run)
    root = run.root
    before = run.head()
    install_hook(root, ORPHAN_HOOK)

    proc = erflow(root, *[a.format(id=ticket) for a in RESOLVE], user=PM)
    proc.communicate(timeout=60)
    assert proc.returncode == KILLED
    left = journal.load(root / ".git")
    assert left is not None and left.stage == "committing" and left.git_pid is not None
    assert journal.running_git(left.git_pid)  # git sleeps in its hook, erflow is gone

    started = time.monotonic()
    run.ok("note", ticket, "after the kill", user=PM)  # waits for the orphan, then keeps its commit
    waited = time.monotonic() - started
    assert not journal.running_git(left.git_pid)
    made = [s for s in subjects(root, before) if s.startswith(f"{ticket} advance resolve")]
    assert len(made) == 1
    assert run.state(ticket) == "resolved"
    assert len(subjects(root, before)) == 2  # the resolve and the note
    assert_store_sound(root)
    print(f"the next command waited {waited:.2f} s for the orphaned git")


def test_a_git_killed_with_erflow_leaves_index_lock_which_is_reported_never_removed(run: Cli) -> None:
    ticket = request_in_scoping(run)
    root = run.root
    before = run.snapshot()
    install_hook(root, KILL_BOTH_HOOK)

    # A change of tracked files only: git commits them by path, holding index.lock during the hook
    # (a change that adds files commits the index, whose lock is released before the hook).
    proc = erflow(root, "note", ticket, "killed with git", user=PM)
    proc.communicate(timeout=60)
    assert proc.returncode == KILLED
    index_lock = root / ".git" / "index.lock"
    assert index_lock.exists()

    refused = run("note", ticket, "after the kill", user=PM)
    assert refused.exit_code == 7, describe(refused)
    assert "index.lock exists" in refused.stderr and "remove that file" in refused.stderr
    assert index_lock.exists() and journal_file(root).exists()

    index_lock.unlink()  # what the message tells a person to do
    run.ok("note", ticket, "after the kill", user=PM)
    assert subjects(root, before.head) == [f"{ticket} note"]
    assert_store_sound(root)


def test_a_commit_made_by_hand_on_top_of_an_interrupted_change_stops_every_change(run: Cli) -> None:
    ticket = request_in_scoping(run)
    root = run.root
    killed_at(root, "committed", *[a.format(id=ticket) for a in RESOLVE], user=PM)
    (root / "README.txt").write_text("a hand edit\n", encoding="utf-8")
    run.commit_all("hand edit")
    before = run.snapshot()

    refused = run("note", ticket, "after the kill", user=PM)

    assert refused.exit_code == 7, describe(refused)
    assert "journal.json" in refused.stderr and "HEAD has moved on" in refused.stderr
    assert run.snapshot() == before


def test_a_git_process_that_does_not_end_makes_the_next_change_give_up_after_the_lock_timeout(
    run: Cli, tmp_path: Path
) -> None:
    ticket = request_in_scoping(run)
    stand_in = tmp_path / "git-stand-in"  # a process named like git, which will not end by itself
    shutil.copy(shutil.which("sleep") or "/bin/sleep", stand_in)
    sleeper = subprocess.Popen([str(stand_in), "30"])
    try:
        journal.save(run.root / ".git", journal.Journal(run.head(), "x", {}, "committing", 0, sleeper.pid))
        started = time.monotonic()
        refused = run("note", ticket, "blocked", user=PM, env={"ERFLOW_LOCK_TIMEOUT": "0.3"})
        assert refused.exit_code == 7, describe(refused)
        assert f"git process {sleeper.pid}" in refused.stderr
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        sleeper.kill()
        sleeper.wait()
    run.ok("note", ticket, "unblocked", user=PM)
    assert_store_sound(run.root)


# ---------------------------------------------------------------------------------------------
# Kills at random moments

RUNS = 30


def test_kills_at_random_moments_never_lose_a_change_nor_leave_the_store_unusable(run: Cli) -> None:
    ticket = request_in_scoping(run)
    root = run.root

    def step(n: int) -> list[str]:
        if run.state(ticket) == "scoping":
            return ["advance", ticket, "request_clarification", "--set", f"clarification_needed=Which? {n}"]
        return ["advance", ticket, "clarification_received", "--set", f"clarification_response=This {n}"]

    started = time.monotonic()
    proc = erflow(root, *step(0), user=PM)
    out, err = proc.communicate(timeout=60)
    duration = time.monotonic() - started
    assert proc.returncode == 0, err

    base = run.head()
    rng = random.Random(4)
    delays = [(i + rng.random()) * duration / RUNS for i in range(RUNS)]  # one in each 30th of it
    outcomes: Counter[str] = Counter()
    stages: Counter[str] = Counter()  # what the journal said right after each kill
    landed = writes = 0
    for n, delay in enumerate(delays, start=1):
        state = run.state(ticket)
        proc = erflow(root, *step(n), user=PM)
        time.sleep(delay)
        proc.kill()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, KILLED), err
        left = journal.load(root / ".git")
        stages[left.stage if left else "no journal"] += 1

        run.ok("check")
        run.ok("note", ticket, f"after kill {n}", user=PM)  # the next write recovers, then succeeds
        writes += 1
        moved = run.state(ticket) != state
        landed += moved
        if proc.returncode == 0:
            outcomes["after the process had finished"] += 1
        else:
            outcomes["after the commit" if moved else "before the commit"] += 1
        made = subjects(root, base)
        assert len([s for s in made if " advance " in s]) == landed
        assert len(made) == landed + writes
        assert_store_sound(root)

    print(f"one advance took {duration:.3f} s; {RUNS} kills landed: {dict(outcomes)}")
    print(f"the journal right after each kill: {dict(stages)}")
    assert sum(outcomes.values()) == RUNS
