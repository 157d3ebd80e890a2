"""A team: three clones of one bare remote, each a person making changes and running ``erflow sync``
while the others do the same. At the end every clone agrees, the audit is clean, ids are unique and
no change is lost.

Each clone is driven by its own Python process running erflow's use cases in a loop (as
test_concurrency does; the CLI's start-up would add time, not contention): it creates tickets,
advances its own, adds notes to its own and to the two tickets every clone shares, and syncs every
few changes, all three at once. A sync that finds the remote moved under it exits 7 (Conflict) and
is retried a bounded number of times. Bounded by count: 3 clones x 30 changes, a sync every 5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from conftest import INTAKE_FLAGS, PM, SUPPORT, Cli, describe, git

CLONES = ("a", "b", "c")
CHANGES = 30
SYNC_EVERY = 5
SYNC_TRIES = 15

WORKER = textwrap.dedent(
    """\
    import json, os, random, sys, time
    from pathlib import Path
    from erflow.app import advance as advancing, create, edit
    from erflow.app.context import open_context
    from erflow.app.sync import sync
    from erflow.core.errors import Conflict

    store, name, shared = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    changes, every, tries = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    SUPPORT, PM = "support@example.com", "destyn@example.com"
    random.seed(name)
    made = {"titles": [], "markers": [], "states": {}, "syncs": 0, "retries": 0}
    own = []

    def ctx(user):
        return open_context(store, {**os.environ, "ERFLOW_USER": user}, Path(store))

    def do_sync():
        for _ in range(tries):
            try:
                sync(ctx(PM))
                made["syncs"] += 1
                return
            except Conflict:  # the remote moved meanwhile (or another sync holds the lock): again
                made["retries"] += 1
                time.sleep(random.uniform(0.05, 0.4))
        raise SystemExit(f"{name}: sync refused {tries} times in a row")

    for i in range(changes):
        marker = f"{name} change {i}"
        step = i % 6
        if step == 0:
            title = f"{name} ticket {i}"
            request = create.NewRequest(
                "enhancement", title, "From the team test.", "Jane Doe", "jane@acme.example", "Acme Corp",
                {"product": "Billing Portal", "priority": "normal", "business_value": "Saves time"},
            )
            own.append((create.new(ctx(SUPPORT), request).id, title))
            made["titles"].append(title)
            made["states"][title] = "intake"
            continue
        if step in (1, 4):
            edit.add_note(ctx(PM), shared[i % len(shared)], marker)
        elif step == 3:
            edit.add_note(ctx(PM), own[-1][0], marker)
        elif step == 2:
            advancing.advance(ctx(SUPPORT), own[-1][0], "submit", note=marker)
            made["states"][own[-1][1]] = "pm_review"
        else:
            sets = {"info_needed": f"Which columns? ({marker})"}
            advancing.advance(ctx(PM), own[-1][0], "request_info", sets, note=marker)
            made["states"][own[-1][1]] = "needs_info"
        made["markers"].append(marker)
        if (i + 1) % every == 0:
            do_sync()
    do_sync()
    print(json.dumps(made))
    """
)


def clone_cli(run: Cli, root: Path, *args: str, user: str = PM) -> str:
    result = run(*args, "--store", str(root), user=user, store=False)
    assert result.exit_code == 0, describe(result)
    return str(result.stdout)


@pytest.fixture
def team(run: Cli, tmp_path: Path) -> tuple[dict[str, Path], list[str]]:
    """A store with two shared tickets pushed to a bare origin and cloned three times."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    roots = {name: tmp_path / name for name in CLONES}
    first = roots["a"]
    run.ok("init", str(first))
    git(first, "remote", "add", "origin", str(origin))
    shared = []
    for title in ("Shared one", "Shared two"):
        flags = list(INTAKE_FLAGS)
        flags[1] = title
        shared.append(clone_cli(run, first, "new", "enhancement", *flags, user=SUPPORT).strip())
    clone_cli(run, first, "advance", shared[0], "submit", user=SUPPORT)
    clone_cli(run, first, "sync")
    for name in CLONES[1:]:
        git(tmp_path, "clone", "-q", str(origin), str(roots[name]))
        clone_cli(run, roots[name], "sync")  # sets up erflow's merge driver in the clone
    return roots, shared


def test_three_clones_syncing_at_once_agree_and_lose_nothing(
    run: Cli, team: tuple[dict[str, Path], list[str]]
) -> None:
    roots, shared = team
    env = {**os.environ, "ERFLOW_LOCK_TIMEOUT": "120"}
    env.pop("ERFLOW_NOW")  # the real clock: changes made at once in three clones, as a team would
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(root),
                name,
                ",".join(shared),
                str(CHANGES),
                str(SYNC_EVERY),
                str(SYNC_TRIES),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for name, root in roots.items()
    }
    made = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err}"
        made[name] = json.loads(out)
    for _ in range(2):  # a final round: the last clone to sync had everything; the others catch up
        for root in roots.values():
            clone_cli(run, root, "sync")

    trees = {name: git(root, "rev-parse", "HEAD^{tree}").strip() for name, root in roots.items()}
    assert len(set(trees.values())) == 1, trees
    for root in roots.values():
        assert git(root, "status", "--porcelain") == ""
        result = run("audit", "--full", "--store", str(root), store=False)
        assert result.exit_code == 0 and "ok: " in result.stderr, describe(result)

    tickets = json.loads(clone_cli(run, roots["b"], "list", "--json"))
    ids = [t["id"] for t in tickets]
    assert len(ids) == len(set(ids))
    titles = Counter(t["title"] for t in tickets)
    expected_titles = ["Shared one", "Shared two", *(t for m in made.values() for t in m["titles"])]
    assert titles == Counter(expected_titles)
    states = {t["title"]: t["state"] for t in tickets}
    for m in made.values():
        for title, state in m["states"].items():
            assert states[title] == state, title

    text = "".join(p.read_text(encoding="utf-8") for p in sorted((roots["c"] / "tickets").rglob("*.md")))
    markers = [marker for m in made.values() for marker in m["markers"]]
    assert len(markers) == len(CLONES) * (CHANGES - CHANGES // 6)
    # Each marker in exactly one Notes entry (a note's text, or an advance's note): none lost, none
    # doubled by a merge.
    counts = {marker: text.count(f"\n  {marker}\n") for marker in markers}
    assert {marker: n for marker, n in counts.items() if n != 1} == {}
    syncs = sum(m["syncs"] for m in made.values())
    retries = sum(m["retries"] for m in made.values())
    print(f"team: {len(markers)} changes, {syncs} syncs, {retries} retried, trees {set(trees.values())}")


def test_a_clone_that_pushes_during_a_sync_makes_it_pull_again_and_push(
    run: Cli, team: tuple[dict[str, Path], list[str]], tmp_path: Path
) -> None:
    """The race of the test above, made certain: clone b's pre-push hook has clone a push first, so
    the remote moves between b's fetch and b's push; the remote refuses b's push ("! [remote
    rejected] ... (failed to update ref)", not git's last line) and sync pulls again and pushes,
    rather than failing with exit 1."""
    roots, shared = team
    a, b = roots["a"], roots["b"]
    clone_cli(run, a, "note", shared[1], "from a, pushed during b's sync")
    clone_cli(run, b, "note", shared[1], "from b")
    ran = tmp_path / "hook-ran"
    hook = b / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e '{ran}' ] && exit 0\n"
        f"touch '{ran}'\n"
        f"env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE git -C '{a}' push -q origin main\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)

    synced = json.loads(clone_cli(run, b, "sync", "--json"))

    assert ran.exists()
    assert synced["pushed"] >= 1 and synced["fetched"] >= 1, synced
    clone_cli(run, a, "sync")
    assert git(a, "rev-parse", "HEAD") == git(b, "rev-parse", "HEAD")
    text = next((a / "tickets").rglob(f"{shared[1]}.md")).read_text(encoding="utf-8")
    assert "from a, pushed during b's sync" in text and "from b" in text
