"""`erflow report board|aging|funnel` with --type, --since, --until and --as-of, and `graph --counts`.

One store, three requests made and moved at pinned instants (ERFLOW_NOW), read on 2026-11-02:

    2026-10-01 09:00  A and B made (intake)
    2026-10-03 09:00  A submitted (pm_review)
    2026-10-10 09:00  A approved (product_board)
    2026-10-12 09:00  B submitted (pm_review)
    2026-10-20 09:00  C made (intake)
    2026-11-01 09:00  the intake state relabelled "Triage" in workflow.yaml (a hand commit)
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import APPROVE, INTAKE_FLAGS, PM, SUBMIT, SUPPORT, Cli, one_line_error

NOW = "2026-11-02T09:00:00+00:00"


def at(day: str) -> dict[str, str | None]:
    return {"ERFLOW_NOW": f"{day}T09:00:00+00:00"}


_BUILT: dict[str, Any] = {}


@pytest.fixture
def story(run: Cli, walk_cache: Path) -> dict[str, str]:
    """The store of the module's story, made once and copied (with its history) for each test."""
    if not _BUILT:
        built = Cli(walk_cache / "report-story", walk_cache)
        _BUILT["ids"] = tell(built, built.init())
        _BUILT["root"] = built.root
    shutil.copytree(_BUILT["root"], run.root, symlinks=True)
    ids: dict[str, str] = _BUILT["ids"]
    return ids


def tell(run: Cli, store: Path) -> dict[str, str]:
    a = run.ok("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT, env=at("2026-10-01")).stdout.strip()
    b = run.ok("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT, env=at("2026-10-01")).stdout.strip()
    run.ok("advance", a, "submit", user=SUPPORT, env=at("2026-10-03"))
    sets = [x for k, v in APPROVE[2].items() for x in ("--set", f"{k}={v}")]
    run.ok("advance", a, "approve", *sets, user=PM, env=at("2026-10-10"))
    run.ok("advance", b, SUBMIT[0], user=SUPPORT, env=at("2026-10-12"))
    c = run.ok("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT, env=at("2026-10-20")).stdout.strip()
    flow = store / "workflow.yaml"
    text = flow.read_text(encoding="utf-8")
    old = "intake: {owner: support, label: Intake, stage: Intake}"
    assert old in text
    flow.write_text(
        text.replace(old, "intake: {owner: support, label: Triage, stage: Intake}"), encoding="utf-8"
    )
    run.git("add", "workflow.yaml")
    run.git("-c", "user.name=PM", "-c", f"user.email={PM}", "commit", "-q", "-m", "Relabel intake")
    return {"A": a, "B": b, "C": c}


def report(run: Cli, name: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = run.json("report", name, *args, env={"ERFLOW_NOW": NOW})
    return data


def by_state(data: dict[str, Any], type_name: str = "enhancement") -> dict[str, dict[str, Any]]:
    return {r["state"]: r for r in data["rows"] if r["type"] == type_name}


# --- board -------------------------------------------------------------------------------------


def test_board_counts_every_state_of_each_type_in_workflow_order_with_owners(
    run: Cli, story: dict[str, str]
) -> None:
    data = report(run, "board")
    assert data["columns"] == ["type", "stage", "state", "label", "terminal", "tickets", "owners"]
    rows = by_state(data)
    assert list(rows)[:4] == ["intake", "pm_review", "needs_info", "product_board"]
    assert (rows["intake"]["tickets"], rows["intake"]["owners"]) == (1, {"support@example.com": 1})
    assert (rows["pm_review"]["tickets"], rows["pm_review"]["owners"]) == (1, {PM: 1})
    assert (rows["product_board"]["tickets"], rows["product_board"]["stage"]) == (1, "Decision")
    assert rows["intake"]["label"] == "Triage"
    assert sum(r["tickets"] for r in data["rows"]) == 3
    assert {r["type"] for r in data["rows"]} == {
        "enhancement",
        "bug",
        "support",
        "doc_change",
        "implementation",
        "config",
    }
    assert data["params"] == {"now": NOW}


def test_board_takes_type_since_and_until(run: Cli, story: dict[str, str]) -> None:
    only = report(run, "board", "--type", "enhancement")
    assert {r["type"] for r in only["rows"]} == {"enhancement"}
    early = by_state(report(run, "board", "--type", "enhancement", "--until", "2026-10-05"))
    assert sum(r["tickets"] for r in early.values()) == 2  # A and B; C came on the 20th
    late = by_state(report(run, "board", "--type", "enhancement", "--since", "2026-10-15"))
    assert [s for s, r in late.items() if r["tickets"]] == ["intake"]
    data = report(run, "board", "--type", "bug", "--since", "2026-10-01", "--until", "2026-10-31")
    assert data["params"]["since"] == "2026-10-01T00:00:00+00:00"
    assert data["params"]["until"] == "2026-10-31T23:59:59+00:00"
    assert sum(r["tickets"] for r in data["rows"]) == 0


def test_board_as_of_a_past_date_reads_the_store_and_workflow_of_then(
    run: Cli, story: dict[str, str]
) -> None:
    data = report(run, "board", "--type", "enhancement", "--as-of", "2026-10-11")
    rows = by_state(data)
    assert {s: r["tickets"] for s, r in rows.items() if r["tickets"]} == {"intake": 1, "product_board": 1}
    assert rows["intake"]["label"] == "Intake"  # relabelled only on 2026-11-01
    assert data["params"]["as_of"] == data["params"]["now"] == "2026-10-11T23:59:59+00:00"
    approval = run.git("log", "--format=%H", "--grep", "approve: pm_review -> product_board").split()
    assert data["params"]["commit"] == approval[0]  # the last commit on or before the 11th
    # to the second: A's approval at 09:00:00 is in, a second earlier it is not
    assert (
        by_state(report(run, "board", "--as-of", "2026-10-10T09:00:00+00:00"))["product_board"]["tickets"]
        == 1
    )
    assert (
        by_state(report(run, "board", "--as-of", "2026-10-10T08:59:59+00:00"))["product_board"]["tickets"]
        == 0
    )


def test_board_csv_and_table(run: Cli, story: dict[str, str]) -> None:
    result = run.ok("report", "board", "--type", "enhancement", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0] == {
        "type": "enhancement",
        "stage": "Intake",
        "state": "intake",
        "label": "Triage",
        "terminal": "false",
        "tickets": "1",
        "owners": "support@example.com 1",
    }
    table = run.ok("report", "board", "--type", "enhancement").stdout
    assert "product_board" in table and "destyn@example.com 1" in table


# --- aging -------------------------------------------------------------------------------------


def test_aging_lists_open_tickets_by_state_and_owner_oldest_in_state_first(
    run: Cli, story: dict[str, str]
) -> None:
    rows = report(run, "aging", "--type", "enhancement")["rows"]
    assert [(r["state"], r["tickets"], r["oldest_days_in_state"], r["oldest_age_days"]) for r in rows] == [
        ("product_board", 1, 23.0, 32.0),  # A: approved 10-10, made 10-01
        ("pm_review", 1, 21.0, 32.0),  # B: submitted 10-12
        ("intake", 1, 13.0, 13.0),  # C: made 10-20
    ]
    assert [r["oldest_ticket"] for r in rows] == [story["A"], story["B"], story["C"]]
    assert rows[1]["owner"] == PM


def test_aging_as_of_counts_time_up_to_that_date(run: Cli, story: dict[str, str]) -> None:
    rows = report(run, "aging", "--as-of", "2026-10-11T09:00:00+00:00")["rows"]
    assert [(r["state"], r["oldest_days_in_state"], r["oldest_age_days"]) for r in rows] == [
        ("intake", 10.0, 10.0),  # B, still in intake then
        ("product_board", 1.0, 10.0),  # A
    ]


# --- funnel ------------------------------------------------------------------------------------


def test_funnel_counts_how_far_requests_got_and_the_median_days_between_stages(
    run: Cli, story: dict[str, str]
) -> None:
    rows = {r["stage"]: r for r in report(run, "funnel", "--type", "enhancement")["rows"]}
    assert list(rows)[:4] == ["Intake", "Review", "Decision", "Quote"]
    assert [rows[s]["reached"] for s in ("Intake", "Review", "Decision", "Quote")] == [3, 2, 1, 0]
    assert [rows[s]["now_in_stage"] for s in ("Intake", "Review", "Decision")] == [1, 1, 1]
    assert rows["Review"]["percent"] == 66.7
    assert rows["Review"]["median_days_from_previous"] == 6.5  # A 2 days, B 11 days
    assert rows["Decision"]["median_days_from_previous"] == 7.0
    assert rows["Intake"]["median_days_from_previous"] is None


def test_funnel_takes_the_cohort_that_entered_in_the_period_and_as_of(
    run: Cli, story: dict[str, str]
) -> None:
    late = {
        r["stage"]: r["reached"]
        for r in report(run, "funnel", "--type", "enhancement", "--since", "2026-10-15")["rows"]
    }
    assert (late["Intake"], late["Review"]) == (1, 0)
    then = {
        r["stage"]: r for r in report(run, "funnel", "--type", "enhancement", "--as-of", "2026-10-11")["rows"]
    }
    assert [then[s]["reached"] for s in ("Intake", "Review", "Decision")] == [2, 1, 1]  # B not yet submitted
    assert then["Review"]["median_days_from_previous"] == 2.0


# --- graph --counts ----------------------------------------------------------------------------


def test_graph_counts_shows_tickets_per_state_in_mermaid_and_dot(run: Cli, story: dict[str, str]) -> None:
    mermaid = run.ok("graph", "--type", "enhancement", "--counts").stdout
    assert "    intake : Triage (1 ticket)\n" in mermaid
    assert "    quote_scope : Quote - scope confirmation (0 tickets)\n" in mermaid
    assert "title: Enhancement request (ER-) - 3 tickets\n" in mermaid
    dot = run.ok("graph", "--type", "enhancement", "--format", "dot", "--counts").stdout
    assert '"product_board" [label="Product Board (1 ticket)"];' in dot
    plain = run.ok("graph", "--type", "enhancement").stdout
    assert "ticket" not in plain


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("board", "--since", "2026-13-01"), 2, "--since '2026-13-01': expected a date"),
        (("board", "--until", "yesterday"), 2, "--until 'yesterday'"),
        (("board", "--since", "2026-10-20", "--until", "2026-10-01"), 2, "is after --until"),
        (("aging", "--as-of", "2030-01-01"), 2, "is in the future"),
        (("funnel", "--as-of", "2020-01-01"), 4, "no commit at or before then"),
        (("board", "--type", "nope"), 4, "nope"),
        (("nope",), 4, "no report 'nope'"),
    ],
)
def test_bad_report_options_are_refused_in_one_line(
    run: Cli, story: dict[str, str], args: tuple[str, ...], code: int, words: str
) -> None:
    result = run("report", *args, env={"ERFLOW_NOW": NOW})
    assert result.exit_code == code, result.stderr
    assert words in one_line_error(result)
    assert result.stdout == ""


def test_a_ticket_that_cannot_be_read_is_named_and_the_others_still_counted(
    run: Cli, story: dict[str, str]
) -> None:
    broken = run.path(story["C"])
    broken.write_text("not a ticket\n", encoding="utf-8")
    result = run("report", "board", "--type", "enhancement", "--json", env={"ERFLOW_NOW": NOW})
    assert result.exit_code == 0
    assert f"{story['C']}.md:1: expected '---'" in result.stderr
    assert sum(r["tickets"] for r in json.loads(result.stdout)["rows"]) == 2


# --- git's memory ------------------------------------------------------------------------------


def test_git_runs_with_small_pack_windows_and_keeps_configuration_given_in_the_environment(
    run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erflow.store.git import Git

    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.email")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "Support@example.com")
    git = Git(store)
    assert git.config("core.packedGitWindowSize") == "16m"
    assert git.config("core.packedGitLimit") == "128m"
    assert git.config("user.email") == "Support@example.com"
    run.ok("new", "enhancement", *INTAKE_FLAGS)  # no ERFLOW_USER: the actor is git's user.email
    assert run.git("log", "-1", "--format=%ae").strip() == SUPPORT


def test_board_aging_and_funnel_pages_carry_their_charts_and_owners_as_text(
    run: Cli, story: dict[str, str], tmp_path: Path
) -> None:
    for name, title in (
        ("board", "Enhancement request: tickets per state"),
        ("aging", "Open tickets by days in their current state"),
        ("funnel", "Enhancement request: requests reaching each stage"),
    ):
        page = tmp_path / f"{name}.html"
        run.ok("report", name, "--type", "enhancement", "--html", str(page), env={"ERFLOW_NOW": NOW})
        text = page.read_text(encoding="utf-8")
        assert title in text and "<svg" in text, name
    board = (tmp_path / "board.html").read_text(encoding="utf-8")
    assert "support@example.com 1" in board and "{" not in board.split("<table", 1)[1].split("</table>")[0]
