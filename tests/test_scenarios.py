"""``erflow test``: scenario tests as data, each played on a throwaway copy of the store.

The shipped scenarios (erflow/defaults/scenarios/, copied by ``erflow init``) run here too, so the
suite covers them, and every transition of the default workflow must be taken by one of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import Cli, Mailbox, describe

from erflow.app.setup import DEFAULTS
from erflow.store import workflow_file

PASSING = """\
- name: submitted to PM review
  new:
    type: enhancement
    title: Export invoices
    customer_name: Jane Doe
    customer_email: jane@acme.example
    set: {product: Portal, priority: normal}
  expect: {state: intake, emails: [{template: intake_acknowledgement, to: jane@acme.example}]}
  steps:
    - as: support@example.com
      advance: submit
      expect: {refused: {code: 3, reason: business_value}}
    - as: support@example.com
      advance: submit
      set: {business_value: Saves time}
      expect: {state: pm_review, owner: destyn@example.com, fields: {business_value: Saves time}}
"""

FAILING = """\
- name: wrong state expected
  new: {type: bug, title: Crash, customer_name: Jane, customer_email: j@acme.example, set: {severity: high}}
  steps:
    - as: triage@example.com
      advance: triage
      expect: {state: on_call, emails: [bug_prioritized]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenarios_pass_and_take_every_transition(run: Cli, store: Path) -> None:
    """What CI runs: `erflow test` over the scenarios `erflow init` copied; and every transition
    of the default workflow (each definition, by name and source state) is taken by one of them."""
    shipped = sorted(p.name for p in (DEFAULTS / "scenarios").glob("*.yaml"))
    assert sorted(p.name for p in (store / "scenarios").glob("*.yaml")) == shipped
    result = run("test", "--json")
    report = json.loads(result.stdout)
    failures = [s for s in report["scenarios"] if s["status"] != "passed"]
    assert result.exit_code == 0 and not failures, json.dumps(failures, indent=1)
    assert report["passed"] >= 20 and report["failed"] == 0
    taken = {tuple(item) for s in report["scenarios"] for item in s["transitions"]}
    workflow = workflow_file.load(DEFAULTS / "workflow.yaml")
    missing = [
        f"{ticket_type.name}.{transition.name} from {'/'.join(transition.sources)} (line {transition.line})"
        for ticket_type in workflow.types.values()
        for transition in ticket_type.transitions
        if not any((ticket_type.name, transition.name, source) in taken for source in transition.sources)
    ]
    assert not missing, "no shipped scenario takes: " + "; ".join(missing)


def test_pass_and_fail_with_a_diff(run: Cli, store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    write(folder, "a_pass.yaml", PASSING)
    bad = write(folder, "b_fail.yaml", FAILING)
    result = run("test", str(folder))
    assert result.exit_code == 1, describe(result)
    lines = result.stdout.splitlines()
    assert lines[0] == ".F"
    assert f"{bad}:1: scenario 'wrong state expected'" in result.stdout
    assert f"{bad}:4: step: triage@example.com advance triage" in result.stdout
    assert "state: expected 'on_call', got 'discovery'" in result.stdout
    assert "-template=bug_prioritized" in result.stdout
    assert lines[-1].startswith("1 passed, 1 failed in ") and lines[-1].endswith("s")


def test_refused_expectations(run: Cli, store: Path, tmp_path: Path) -> None:
    """A refusal expected and got passes; one not got, or with another code, fails and says so."""
    text = """\
- name: taken though refusal expected
  new: {type: bug, title: Crash, customer_name: J, customer_email: j@acme.example, set: {severity: high}}
  steps:
    - {as: triage@example.com, advance: triage, expect: {refused: {code: 3}}}
- name: refused with another code
  new: {type: bug, title: Crash, customer_name: J, customer_email: j@acme.example, set: {severity: high}}
  steps:
    - {as: dev@example.com, advance: triage, expect: {refused: {code: 3, reason: nope}}}
- name: refused unexpectedly
  new: {type: bug, title: Crash, customer_name: J, customer_email: j@acme.example, set: {severity: high}}
  steps:
    - {as: dev@example.com, advance: triage}
"""
    write(tmp_path / "cases", "refusals.yaml", text)
    report = json.loads(run("test", str(tmp_path / "cases"), "--json").stdout)
    assert (report["passed"], report["failed"]) == (0, 3)
    diffs = [s["failure"]["diff"] for s in report["scenarios"]]
    assert diffs[0] == ["expected a refusal (exit 3), but the step was taken"]
    assert diffs[1][0].startswith("exit code: expected 3, got 5")
    assert diffs[1][1].startswith("reason: expected it to contain 'nope'")
    assert diffs[2][0].startswith("refused (exit 5): ") and "may not take triage" in diffs[2][0]


def test_bad_scenario_files_exit_2_naming_file_line_and_field(run: Cli, store: Path, tmp_path: Path) -> None:
    cases = {
        "advnce: submit": ("unknown key 'advnce'", "did you mean 'advance'?"),
        "advance: submt": ("unknown transition 'submt'", "did you mean 'submit'?"),
        "advance: triage": ("unknown transition 'triage'", ""),
        "set: {bussiness_value: x}": (
            "unknown enhancement field 'bussiness_value'",
            "did you mean 'business_value'?",
        ),
    }
    for number, (step, (problem, hint)) in enumerate(cases.items()):
        folder = tmp_path / f"bad{number}"
        text = "name: typo\nnew: {type: enhancement, title: T}\nsteps:\n  - as: support@example.com\n"
        text += f"    {step}\n"
        path = write(folder, "typo.yaml", text)
        result = run("test", str(folder))
        assert result.exit_code == 2, describe(result)
        assert result.stdout == ""
        line = result.stderr.strip()
        assert (
            "\n" not in line and line.startswith(f"erflow: {path}:5: ") and problem in line and hint in line
        )
    write(tmp_path / "bad9", "x.yaml", "name: x\nnew: {type: enhancment}\n")
    result = run("test", str(tmp_path / "bad9"))
    assert result.exit_code == 2 and "unknown type 'enhancment'; did you mean 'enhancement'?" in result.stderr


def test_json_and_k_select_scenarios(run: Cli, store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    write(folder, "a.yaml", PASSING)
    path = write(folder, "b.yaml", FAILING)
    report = json.loads(run("test", str(folder), "--json", "-k", "WRONG").stdout)
    assert report["passed"] == 0 and report["failed"] == 1
    [only] = report["scenarios"]
    assert (only["name"], only["file"], only["line"], only["status"]) == (
        "wrong state expected", str(path), 1, "failed",
    )  # fmt: skip
    assert only["failure"]["line"] == 4 and only["failure"]["step"] == "triage@example.com advance triage"
    result = run("test", str(folder), "-k", "submitted")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "."
    assert result.stdout.splitlines()[-1].startswith("1 passed in ")


def test_the_real_store_is_untouched(run: Cli, store: Path) -> None:
    """Scenarios play on copies: the store's files, HEAD and git status are as they were, and no
    ticket was made in it."""
    shutil.rmtree(store / "scenarios")
    write(store / "scenarios", "one.yaml", PASSING)
    run.commit_all("a scenario of our own")
    before = run.snapshot()
    result = run("test")
    assert result.exit_code == 0, describe(result)
    assert run.snapshot() == before
    assert not list((store / "tickets").rglob("*.md"))


def test_no_scenarios_is_not_a_failure(run: Cli, store: Path) -> None:
    """An old store (made before erflow test) has no scenarios/: said on stderr, exit 0."""
    shutil.rmtree(store / "scenarios")
    result = run("test")
    assert result.exit_code == 0, describe(result)
    assert "no scenarios found" in result.stderr
    missing = run("test", str(store / "nowhere"))
    assert missing.exit_code == 2 and "no such folder" in missing.stderr


def test_a_store_that_sends_emails_sends_none_from_a_scenario(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    """With send_emails: true (and an SMTP server at hand), a scenario's emails are logged, never sent."""
    workflow = store / "workflow.yaml"
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text(text.replace("  send_emails: false\n", "  send_emails: true\n"), encoding="utf-8")
    shutil.rmtree(store / "scenarios")
    write(store / "scenarios", "one.yaml", PASSING)
    run.commit_all("send emails; a scenario of our own")
    result = run("test")
    assert result.exit_code == 0, describe(result)
    assert smtp_server.envelopes == []


def test_workflow_plays_the_scenarios_against_a_change_not_applied_yet(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "cases"
    write(folder, "a_pass.yaml", PASSING)
    changed = tmp_path / "new.yaml"
    text = (store / "workflow.yaml").read_text(encoding="utf-8")
    gate = "requires: [product, priority, business_value, customer_email]"
    changed.write_text(text.replace(gate, "requires: [product, priority, customer_email]"), encoding="utf-8")
    before = run.snapshot()

    result = run("test", str(folder), "--workflow", str(changed))
    assert result.exit_code == 1, describe(result)  # the dropped gate no longer refuses submit
    assert "expected a refusal (exit 3), but the step was taken" in result.stdout
    assert run("test", str(folder)).exit_code == 0  # the store's own workflow still passes
    assert run.snapshot() == before
    missing = run("test", str(folder), "--workflow", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "nope.yaml: no such file" in missing.stderr


def test_the_readme_example_scenario_passes(run: Cli, store: Path, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scenario tests: `erflow test`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```\n", 1)[0]
    write(tmp_path / "cases", "readme.yaml", example)
    result = run("test", str(tmp_path / "cases"))
    assert result.exit_code == 0, describe(result)
    assert result.stdout.splitlines()[-1].startswith("1 passed in ")
