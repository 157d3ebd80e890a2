"""``erflow workflow plan NEW``: each kind of finding with a workflow that triggers it and one that
does not; a git revision as NEW; exit codes and the --json shape; ``workflow apply`` refusing to
strand tickets in a state with no way out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import PM, Cli, describe, one_line_error

ADMIN = PM
LATER = "2026-11-03T12:00:00+00:00"  # a day and 3 hours after the tickets are made

SUBMIT_GATE = "requires: [product, priority, business_value, customer_email]"
SUBMIT_FROM = "        from: intake\n        to: pm_review"
ENHANCEMENT_TIMERS = "    timers:\n      # Seed 000: a deferred request"


@pytest.fixture
def store(run: Cli) -> tuple[Cli, str]:
    """A store holding one enhancement in intake, everything ``submit`` needs set."""
    run.init()
    return run, run.new()


def variant(run: Cli, tmp_path: Path, old: str, new: str, name: str = "new.yaml") -> Path:
    text = (run.root / "workflow.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def plan(run: Cli, new: Path | str, *extra: str, code: int | None = None, now: str = LATER) -> dict[str, Any]:
    result = run("workflow", "plan", str(new), *extra, "--json", env={"ERFLOW_NOW": now})
    if code is not None:
        assert result.exit_code == code, describe(result)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def kinds(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["kind"] == kind]


def test_the_same_workflow_changes_nothing_and_exits_0(store: tuple[Cli, str]) -> None:
    run, _ = store
    data = plan(run, run.root / "workflow.yaml", code=0)
    assert data["findings"] == [] and data["breaking"] == [] and data["tickets"] == 1
    assert [row["kind"] for row in data["summary"]] == ["stranded", "gate", "sla", "timer", "email", "role"]
    assert all(row["count"] == 0 for row in data["summary"])


def test_a_state_with_no_way_out_strands_its_tickets(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, SUBMIT_FROM, SUBMIT_FROM.replace("intake", "needs_info"))
    data = plan(run, new, code=3)
    (finding,) = kinds(data, "stranded")
    assert finding["ticket"] == ticket and finding["state"] == "intake"
    assert "no way out" in finding["detail"]
    assert data["breaking"] == ["stranded"]
    summary = {row["kind"]: row for row in data["summary"]}
    assert summary["stranded"] == {
        "kind": "stranded",
        "count": 1,
        "tickets": 1,
        "examples": [ticket],
        "breaking": True,
    }
    # A state that keeps a way out strands nothing.
    kept = variant(
        run, tmp_path, SUBMIT_FROM, SUBMIT_FROM.replace("intake", "[intake, needs_info]"), "kept.yaml"
    )
    assert kinds(plan(run, kept, code=0), "stranded") == []


def test_a_dropped_state_strands_its_tickets(run: Cli, tmp_path: Path) -> None:
    ticket = run.ticket_at("pm_review")
    text = (run.root / "workflow.yaml").read_text(encoding="utf-8").replace("pm_review", "product_review")
    (tmp_path / "new.yaml").write_text(text, encoding="utf-8")
    (finding,) = kinds(plan(run, tmp_path / "new.yaml", code=3), "stranded")
    assert (finding["ticket"], finding["state"]) == (ticket, "pm_review")
    assert "drops the state pm_review" in finding["detail"]


def test_a_gate_that_now_refuses_names_the_missing_fields(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, SUBMIT_GATE, SUBMIT_GATE.replace("[product", "[problem, product"))
    data = plan(run, new, code=3)
    (finding,) = kinds(data, "gate")
    assert finding["ticket"] == ticket and finding["state"] == "intake"
    assert finding["detail"].startswith("submit is refused now") and "missing: problem" in finding["detail"]
    assert (
        finding["line"]
        and "- name: submit" in (run.root / "workflow.yaml").read_text().splitlines()[finding["line"] - 1]
    )
    # A gate the ticket still meets (fewer fields) breaks nothing.
    easier = variant(run, tmp_path, SUBMIT_GATE, "requires: [product, priority]", "easier.yaml")
    assert kinds(plan(run, easier, code=0), "gate") == []


SLA = "    sla:\n      clock: calendar\n      targets:\n        - {{response: {0}, resolution: {0}}}\n"


def test_an_sla_budget_that_becomes_breached(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, ENHANCEMENT_TIMERS, SLA.format("4h") + ENHANCEMENT_TIMERS)
    data = plan(run, new, code=3)
    found = kinds(data, "sla")
    assert {f["ticket"] for f in found} == {ticket}
    assert any("resolution SLA (4h) becomes breached" in f["detail"] for f in found), found
    roomy = variant(run, tmp_path, ENHANCEMENT_TIMERS, SLA.format("30d") + ENHANCEMENT_TIMERS, "roomy.yaml")
    assert kinds(plan(run, roomy, code=0), "sla") == []


TIMER = "      - {{name: intake_chaser, state: intake, after: {0}, email: pm_more_info, note: chase}}\n"


def test_a_timer_that_would_fire_at_once_and_its_email(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(
        run,
        tmp_path,
        ENHANCEMENT_TIMERS,
        ENHANCEMENT_TIMERS.split("\n")[0]
        + "\n"
        + TIMER.format("1d")
        + "      # Seed 000: a deferred request",
    )
    data = plan(run, new, code=0)  # a timer is told, it breaks nothing
    (finding,) = kinds(data, "timer")
    assert finding["ticket"] == ticket
    assert (
        "intake_chaser would fire at once" in finding["detail"] and "sends pm_more_info" in finding["detail"]
    )
    later = variant(
        run,
        tmp_path,
        ENHANCEMENT_TIMERS,
        ENHANCEMENT_TIMERS.split("\n")[0]
        + "\n"
        + TIMER.format("3d")
        + "      # Seed 000: a deferred request",
        "later.yaml",
    )
    assert kinds(plan(run, later, code=0), "timer") == []


def test_emails_whose_template_changes_or_is_another(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    folder = tmp_path / "templates"
    folder.mkdir()
    same = run.root / "workflow.yaml"
    shutil.copy(run.root / "templates" / "pm_more_info.j2", folder / "pm_more_info.j2")
    assert kinds(plan(run, same, "--templates", str(folder), code=0), "email") == []

    text = (folder / "pm_more_info.j2").read_text(encoding="utf-8")
    (folder / "pm_more_info.j2").write_text(
        text.replace("Subject: ", "Subject: [Action needed] ", 1), encoding="utf-8"
    )
    (finding,) = kinds(plan(run, same, "--templates", str(folder), code=0), "email")
    assert finding["ticket"] == ticket
    assert "request_info: pm_more_info subject changed" in finding["detail"]

    renamed = variant(run, tmp_path, "emails: [pm_more_info]", "emails: [board_declined]")
    (finding,) = kinds(plan(run, renamed, code=0), "email")
    assert "request_info sends board_declined (was pm_more_info)" in finding["detail"]


def test_a_role_nobody_holds(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, _ = store
    new = variant(run, tmp_path, "{name: QA, roles: [qa]}", "{name: QA, roles: []}")
    data = plan(run, new, code=0)
    (finding,) = kinds(data, "role")
    assert finding["ticket"] is None and "the role qa" in finding["detail"]
    assert kinds(plan(run, run.root / "workflow.yaml", code=0), "role") == []


def test_a_git_revision_as_new_with_its_templates(store: tuple[Cli, str]) -> None:
    run, ticket = store
    assert plan(run, "HEAD", code=0)["findings"] == []
    run.git("checkout", "-q", "-b", "stricter")
    path = run.root / "workflow.yaml"
    path.write_text(
        path.read_text().replace(SUBMIT_GATE, SUBMIT_GATE.replace("[product", "[problem, product"))
    )
    template = run.root / "templates" / "pm_more_info.j2"
    lines = template.read_text().splitlines(keepends=True)
    template.write_text("".join([*lines, "One more line.\n"]))
    run.commit_all("stricter submit")
    run.git("checkout", "-q", "-")

    data = plan(run, "stricter", code=3)

    assert data["new"] == "stricter:workflow.yaml"
    assert [f["ticket"] for f in kinds(data, "gate")] == [ticket]
    (email,) = kinds(data, "email")
    assert "pm_more_info body changed" in email["detail"]


def test_the_table_and_verbose_lines(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, SUBMIT_GATE, SUBMIT_GATE.replace("[product", "[problem, product"))
    result = run("workflow", "plan", str(new), "-v")
    assert result.exit_code == 3, describe(result)
    assert "gate" in result.stdout and ticket in result.stdout
    assert f"gate      {ticket} (intake): submit is refused now" in result.stdout
    assert "would break tickets: gate" in result.stderr


def test_bad_new_is_one_line_with_its_exit_code(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, _ = store
    missing = run("workflow", "plan", "no-such-thing")
    assert missing.exit_code == 4 and "no such file, nor a revision" in one_line_error(missing)
    (tmp_path / "bad.yaml").write_text("types: [\n")
    bad = run("workflow", "plan", str(tmp_path / "bad.yaml"))
    assert bad.exit_code == 6 and "bad.yaml" in one_line_error(bad)
    folder = run("workflow", "plan", str(tmp_path))
    assert folder.exit_code == 2 and "a folder" in one_line_error(folder)
    run.git("rm", "-q", "workflow.yaml")
    run.commit_all("no workflow")
    run.git("checkout", "-q", "HEAD~1", "--", "workflow.yaml")
    norev = run("workflow", "plan", "HEAD")
    assert norev.exit_code == 4 and "holds no workflow.yaml" in one_line_error(norev)


def test_apply_refuses_a_state_with_no_way_out_unless_mapped(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, SUBMIT_FROM, SUBMIT_FROM.replace("intake", "needs_info"))
    before = run.snapshot()

    refused = run("workflow", "apply", str(new), user=ADMIN)

    assert refused.exit_code == 3, describe(refused)
    assert f"enhancement.intake (1, no way out): {ticket}" in one_line_error(refused)
    assert run.snapshot() == before
    done = run("workflow", "apply", str(new), "--map", "intake=pm_review", "--json", user=ADMIN)
    assert done.exit_code == 0, describe(done)
    assert json.loads(done.stdout)["moved"] == [{"id": ticket, "from": "intake", "to": "pm_review"}]
    assert run.state(ticket) == "pm_review"


def test_apply_warns_of_gates_that_now_refuse(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    new = variant(run, tmp_path, SUBMIT_GATE, SUBMIT_GATE.replace("[product", "[problem, product"))
    done = run("workflow", "apply", str(new), "--json", user=ADMIN)
    assert done.exit_code == 0, describe(done)
    (warning,) = json.loads(done.stdout)["warnings"]
    assert warning.startswith("gate: 1 ticket(s)") and ticket in warning


def test_a_policy_a_gate_reads_changing_value_is_compared(store: tuple[Cli, str], tmp_path: Path) -> None:
    run, ticket = store
    rule = (
        "\n        rules:\n          - require: {policy.qa_non_billable: {not: true}}"
        "\n            message: QA for all"
    )
    path = run.root / "workflow.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(SUBMIT_GATE, SUBMIT_GATE + rule, 1), encoding="utf-8"
    )
    unread = variant(run, tmp_path, "  deferred_emails: false", "  deferred_emails: true", "unread.yaml")
    assert plan(run, unread, code=0)["findings"] == []
    new = variant(run, tmp_path, "  qa_non_billable: false", "  qa_non_billable: true")
    (finding,) = kinds(plan(run, new, code=3), "gate")
    assert finding["ticket"] == ticket and "QA for all" in finding["detail"]
