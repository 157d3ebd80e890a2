"""Clones that merge: PMs work offline on clones of one repository and ``erflow sync`` brings them together.

Each test has a bare origin and two clones (``a`` and ``b``) in tmp_path, driven through the real CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import APPROVE, BOARD, INTAKE_FLAGS, PM, SUPPORT, Cli, describe, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erflow.store import tickets as store


@dataclass
class Clone:
    run: Cli
    root: Path

    def __call__(self, *args: str, user: str | None = PM, env: dict[str, str | None] | None = None) -> Any:
        result = self.run(*args, "--store", str(self.root), user=user, env=env, store=False)
        return result

    def ok(self, *args: str, user: str | None = PM, env: dict[str, str | None] | None = None) -> Any:
        result = self(*args, user=user, env=env)
        assert result.exit_code == 0, describe(result)
        return result

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.ok("show", ticket_id, "--json").stdout)
        return data

    def text(self, ticket_id: str) -> str:
        return next(self.root.joinpath("tickets").rglob(f"{ticket_id}.md")).read_text(encoding="utf-8")

    def git(self, *args: str) -> str:
        return git(self.root, *args)


@pytest.fixture
def clones(run: Cli, tmp_path: Path) -> tuple[Clone, Clone]:
    """A store pushed to a bare origin, cloned twice; one ticket in pm_review in both."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    a = Clone(run, tmp_path / "a")
    run.ok("init", str(a.root))
    a.git("remote", "add", "origin", str(origin))
    ticket_id = a.ok("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT).stdout.strip()
    a.ok("advance", ticket_id, "submit", user=SUPPORT)
    a.ok("sync")
    git(tmp_path, "clone", "-q", str(origin), str(tmp_path / "b"))
    b = Clone(run, tmp_path / "b")
    b.ok("sync")
    a.ticket_id = ticket_id  # type: ignore[attr-defined]
    return a, b


def ticket_of(a: Clone) -> str:
    return str(a.ticket_id)  # type: ignore[attr-defined]


def test_tickets_created_offline_in_two_clones_all_arrive_in_both(clones: tuple[Clone, Clone]) -> None:
    a, b = clones
    made_a = [a.ok("new", "enhancement", "--title", f"A{i}", user=SUPPORT).stdout.strip() for i in range(3)]
    made_b = [b.ok("new", "enhancement", "--title", f"B{i}", user=SUPPORT).stdout.strip() for i in range(3)]

    a.ok("sync")
    synced = b.ok("sync", "--json")
    a.ok("sync")

    assert json.loads(synced.stdout)["fetched"] == 3
    ids_a = {t["id"] for t in json.loads(a.ok("list", "--json").stdout)}
    ids_b = {t["id"] for t in json.loads(b.ok("list", "--json").stdout)}
    assert ids_a == ids_b == {ticket_of(a), *made_a, *made_b}
    assert a.git("rev-parse", "HEAD") == b.git("rev-parse", "HEAD")
    for clone in clones:
        clone.ok("audit")


def test_different_fields_and_notes_on_one_ticket_merge_without_a_conflict(
    clones: tuple[Clone, Clone],
) -> None:
    a, b = clones
    ticket_id = ticket_of(a)
    a.ok("set", ticket_id, "priority=high")
    a.ok("note", ticket_id, "Called Jane: the export is urgent")
    b.ok("set", ticket_id, "product=Billing Portal v2", env={"ERFLOW_NOW": "2026-11-02T10:00:00+00:00"})
    b.ok("note", ticket_id, "Checked the portal logs", env={"ERFLOW_NOW": "2026-11-02T10:05:00+00:00"})
    a.ok("sync")

    result = b.ok("sync", "--json")

    assert json.loads(result.stdout)["conflicts"] == []
    shown = b.ticket(ticket_id)
    assert (shown["priority"], shown["product"]) == ("high", "Billing Portal v2")
    body = shown["body"]
    assert "Called Jane" in body and "Checked the portal logs" in body
    assert "<<<<<<<" not in b.text(ticket_id)
    assert body.index("Called Jane") < body.index("Checked the portal logs")  # 09:00 before 10:05
    assert b.git("status", "--porcelain") == ""
    b.ok("audit")
    a.ok("sync")
    assert a.text(ticket_id) == b.text(ticket_id)
    a.ok("audit")


def test_two_different_states_are_a_conflict_resolved_by_the_later_change_and_reported(
    clones: tuple[Clone, Clone],
) -> None:
    a, b = clones
    ticket_id = ticket_of(a)
    later = {"ERFLOW_NOW": "2026-11-03T10:00:00+00:00"}
    b.ok("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?")
    sets = [x for k, v in APPROVE[2].items() for x in ("--set", f"{k}={v}")]
    a.ok("advance", ticket_id, "approve", *sets, env=later)
    b.ok("sync")

    result = a.ok("sync")

    assert re.search(
        rf"conflict resolved by rule: {ticket_id}: state: kept 'product_board' over 'needs_info'",
        result.stderr,
    ), result.stderr
    assert a.ticket(ticket_id)["state"] == "product_board"
    assert "erflow merge: conflict on state: kept product_board over needs_info" in a.text(ticket_id)
    last = json.loads(a.ok("history", ticket_id, "--json").stdout)[-1]
    assert (last["action"], last["actor"], last["to"]) == ("sync", PM, "product_board")
    assert "info_needed" in last["changes"]  # what the merge brought in from b
    a.ok("audit")
    a.ok("advance", ticket_id, "approve_no_quote", "--set", "board_rationale=Small", user=BOARD)
    a.ok("audit")
    a.ok("sync")
    b.ok("sync")
    assert b.ticket(ticket_id)["state"] == "leadership"
    b.ok("audit")


def test_the_merge_result_does_not_depend_on_which_clone_merges(
    clones: tuple[Clone, Clone], tmp_path: Path
) -> None:
    a, b = clones
    ticket_id = ticket_of(a)
    a.ok("set", ticket_id, "priority=high", env={"ERFLOW_NOW": "2026-11-02T11:00:00+00:00"})
    b.ok("set", ticket_id, "priority=low", env={"ERFLOW_NOW": "2026-11-02T10:00:00+00:00"})
    b.ok("note", ticket_id, "b's note")
    for clone in (a, b):
        clone.git("fetch", "-q", str(tmp_path / ("b" if clone is a else "a")), "main:other")
    a.git("-c", "user.email=x@example.com", "merge", "-q", "--no-edit", "other")
    b.git("-c", "user.email=x@example.com", "merge", "-q", "--no-edit", "other")

    assert a.text(ticket_id) == b.text(ticket_id)
    assert a.ticket(ticket_id)["priority"] == "high"  # the later change


def test_a_hand_edited_merge_result_fails_the_audit(clones: tuple[Clone, Clone]) -> None:
    a, b = clones
    ticket_id = ticket_of(a)
    a.ok("note", ticket_id, "from a")
    b.ok("note", ticket_id, "from b")
    a.ok("sync")
    b.ok("sync")
    path = next(b.root.joinpath("tickets").rglob(f"{ticket_id}.md"))
    path.write_text(
        path.read_text(encoding="utf-8").replace("priority: normal", "priority: high"), encoding="utf-8"
    )
    b.git("-c", "user.email=x@example.com", "commit", "-q", "--amend", "--no-edit", "-a")

    result = b("audit", "--json")

    rel = path.relative_to(b.root).as_posix()
    assert result.exit_code == 3
    assert json.loads(result.stdout)["violations"] == [
        {
            "commit": b.git("rev-parse", "HEAD").strip(),
            "ticket": ticket_id,
            "reason": f"the merge changed {rel} beyond erflow's merge of its two parents",
        }
    ]


def test_sync_refuses_with_uncommitted_changes_and_changes_nothing(clones: tuple[Clone, Clone]) -> None:
    a, _ = clones
    path = next(a.root.joinpath("tickets").rglob(f"{ticket_of(a)}.md"))
    path.write_text(path.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    head = a.git("rev-parse", "HEAD")

    result = a("sync")

    assert result.exit_code == 7
    rel = path.relative_to(a.root).as_posix()
    assert result.stderr.startswith(f"erflow: sync: uncommitted changes in {rel}"), result.stderr
    assert a.git("rev-parse", "HEAD") == head


def test_a_change_under_an_uncommitted_workflow_is_refused(clones: tuple[Clone, Clone]) -> None:
    a, _ = clones
    workflow = a.root / "workflow.yaml"
    workflow.write_text(workflow.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    before = a.text(ticket_of(a))

    result = a("note", ticket_of(a), "under a workflow nobody committed")

    assert result.exit_code == 7
    assert result.stderr.startswith("erflow: workflow.yaml has changes not committed"), result.stderr
    assert a.text(ticket_of(a)) == before


def test_sync_without_a_remote_is_a_usage_error(run: Cli, store: Path) -> None:
    result = run("sync", user=PM)

    assert result.exit_code == 2
    assert "no remote to sync with" in result.stderr


def test_init_installs_the_merge_driver_for_ticket_files(run: Cli, store: Path) -> None:
    attributes = (store / ".git" / "info" / "attributes").read_text(encoding="utf-8")

    assert "/tickets/**/*.md merge=erflow" in attributes
    assert "-m erflow merge-file %O %A %B %P" in git(store, "config", "merge.erflow.driver")


# ---------------------------------------------------------------------------------------------
# Property: two clones merge to the same result in either order

Op = tuple[str, int, str]  # what, minutes after the pinned clock, a value

OPS = st.tuples(
    st.sampled_from(["note", "priority", "request_info", "approve", "new", "log_time", "label"]),
    st.integers(0, 3000),
    st.sampled_from(["low", "normal", "high", "x", "y"]),
)


def apply(clone: Clone, ticket_id: str, op: Op) -> None:
    what, minutes, value = op
    now = (dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes)).isoformat()
    env: dict[str, str | None] = {"ERFLOW_NOW": now}
    args = {
        "note": ["note", ticket_id, f"note {value} at {minutes}"],
        "priority": ["set", ticket_id, f"priority={value if value in ('low', 'normal', 'high') else 'high'}"],
        "request_info": ["advance", ticket_id, "request_info", "--set", f"info_needed=Which {value}?"],
        "approve": ["advance", ticket_id, "approve"]
        + [x for k, v in APPROVE[2].items() for x in ("--set", f"{k}={v} {value}")],
        "new": ["new", "enhancement", "--title", f"New {value} {minutes}"],
        "log_time": ["log-time", ticket_id, "1.5", "--note", value],
        "label": ["set", ticket_id, f"labels={value}"],
    }[what]
    clone(*args, env=env)  # a refused step (say, approve after request_info) changes nothing


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops_a=st.lists(OPS, min_size=1, max_size=4), ops_b=st.lists(OPS, min_size=1, max_size=4))
def test_random_work_in_two_clones_merges_to_the_same_tree_in_either_order(
    clones: tuple[Clone, Clone], ops_a: list[Op], ops_b: list[Op]
) -> None:
    a0, b0 = clones
    scratch = Path(tempfile.mkdtemp(dir=a0.root.parent))
    a, b = (Clone(a0.run, scratch / name) for name in ("a", "b"))
    shutil.copytree(a0.root, a.root, symlinks=True)
    shutil.copytree(b0.root, b.root, symlinks=True)
    ticket_id = ticket_of(a0)
    for op in ops_a:
        apply(a, ticket_id, op)
    for op in ops_b:
        apply(b, ticket_id, op)

    for clone, other in ((a, b), (b, a)):
        clone.git("fetch", "-q", str(other.root), "main:other")
        clone.git("-c", "user.email=x@example.com", "merge", "-q", "--no-edit", "other")

    assert a.git("rev-parse", "HEAD^{tree}") == b.git("rev-parse", "HEAD^{tree}")
    assert "<<<<<<<" not in "".join(p.read_text(encoding="utf-8") for p in a.root.rglob("*.md"))
    for clone in (a, b):
        assert clone.git("status", "--porcelain") == ""
        clone.ok("audit")


def test_one_id_given_to_two_tickets_in_two_clones_is_renumbered_and_links_follow(
    clones: tuple[Clone, Clone], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = clones
    monkeypatch.setattr(store, "new_code", lambda: "SAME42")  # both clones draw the same id
    made_a = a.ok("new", "enhancement", "--title", "Made in a", user=SUPPORT).stdout.strip()
    later = {"ERFLOW_NOW": "2026-11-02T09:30:00+00:00"}
    made_b = b.ok("new", "enhancement", "--title", "Made in b", user=SUPPORT, env=later).stdout.strip()
    monkeypatch.undo()
    assert made_a == made_b == "ER-SAME42"
    other = b.ok("new", "enhancement", "--title", "Linked in b", user=SUPPORT).stdout.strip()
    b.ok("link", other, "relates", made_b)
    a.ok("sync")

    result = b.ok("sync", "--json")

    (renumbered,) = json.loads(result.stdout)["renumbered"]
    new_id = renumbered["to"]
    assert renumbered["from"] == "ER-SAME42" and new_id.startswith("ER-") and new_id != "ER-SAME42"
    assert b.ticket("ER-SAME42")["title"] == "Made in a"
    assert b.ticket(new_id)["title"] == "Made in b"
    assert "erflow sync: renumbered from ER-SAME42" in b.ticket(new_id)["body"]
    assert b.ticket(other)["links"] == [f"relates {new_id}"]
    b.ok("audit")
    a.ok("sync")
    assert {t["title"] for t in json.loads(a.ok("list", "--json").stdout)} >= {"Made in a", "Made in b"}
    a.ok("audit")
