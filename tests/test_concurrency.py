"""Many erflow processes on one store: every change lands as exactly one commit, none is lost.

Each worker is a separate Python process running erflow's own use cases in a loop (the CLI's start-up
would only make the test slower, not the contention different). Bounded by count: 8 x 25 changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import PM, Cli, git

WORKERS = 8
CHANGES = 25

WORKER = textwrap.dedent(
    """\
    import json, os, sys
    from pathlib import Path
    from erflow.app.context import open_context
    from erflow.app.edit import add_note
    from erflow.core.errors import ErflowError

    store, worker, tickets, changes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
    done, refused = 0, []
    for i in range(changes):
        ctx = open_context(store, os.environ, Path(store))
        ticket = tickets[(worker + i) % len(tickets)]
        try:
            add_note(ctx, ticket, f"worker {worker} change {i}")
            done += 1
        except ErflowError as exc:
            refused.append([exc.exit_code, exc.message])
    print(json.dumps({"done": done, "refused": refused}))
    """
)


def run_workers(root: Path, tickets: list[str]) -> tuple[int, list[list[object]]]:
    """Run the workers at once; how many changes succeeded, and every refusal."""
    env = {**os.environ, "ERFLOW_USER": PM, "ERFLOW_LOCK_TIMEOUT": "120"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), str(n), ",".join(tickets), str(CHANGES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(WORKERS)
    ]
    succeeded, refused = 0, []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        result = json.loads(out)
        succeeded += int(result["done"])
        refused += result["refused"]
    return succeeded, refused


@pytest.mark.parametrize("spread", ["one ticket", "many tickets"])
def test_concurrent_changes_each_land_as_exactly_one_commit(run: Cli, store: Path, spread: str) -> None:
    tickets = [run.new() for _ in range(1 if spread == "one ticket" else WORKERS)]
    before = int(git(store, "rev-list", "--count", "HEAD"))
    succeeded, refused = run_workers(store, tickets)

    requested = WORKERS * CHANGES
    landed = {t: run.path(t).read_text(encoding="utf-8").count(": note\n  worker ") for t in tickets}
    commits = int(git(store, "rev-list", "--count", "HEAD")) - before
    total = sum(landed.values())
    print(f"{spread}: requested {requested}, succeeded {succeeded}, landed {total}, commits {commits}")
    assert refused == []
    assert succeeded == requested
    assert total == succeeded
    assert commits == succeeded
    assert git(store, "status", "--porcelain") == ""
    assert not (store / ".git" / "index.lock").exists()
    run.ok("check")
    assert "ok: " in run.ok("audit").stderr
    for ticket, count in landed.items():
        assert len([e for e in run.json("history", ticket) if e["action"] == "note"]) == count
