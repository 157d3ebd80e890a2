"""Tests of ``erflow workflow lint`` (erflow.core.lint): each kind of finding with a small workflow that
has it and one that does not, the output, the exit code, and the default workflow linting clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import erflow
from erflow.app.lint import lint_file
from erflow.core.lint import KINDS
from tests.conftest import Cli, describe

DEFAULTS = Path(erflow.__file__).parent / "defaults"

BASE = """\
version: 1
roles: [agent, boss, customer]
people:
  a@example.com: {name: A, roles: [agent]}
types:
  req:
    prefix: RQ
    initial: open
    fields:
      reason: {type: text}
    states:
      open: {}
      done: {terminal: true}
    transitions:
      - {name: finish, from: open, to: done, roles: [agent]}
"""


def lint(tmp_path: Path, text: str, templates: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """The (line, kind) of every finding in the workflow ``text``, with ``templates`` (NAME: source)."""
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    for name, source in (templates or {}).items():
        (folder / f"{name}.j2").write_text(source, encoding="utf-8")
    return [(f.line, f.kind) for f in lint_file(path, folder)]


def line_of(text: str, fragment: str) -> int:
    """The last line of ``text`` that holds ``fragment``."""
    return max(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_the_base_workflow_is_clean(tmp_path: Path) -> None:
    assert lint(tmp_path, BASE) == []


def test_a_state_no_path_enters_is_unreachable(tmp_path: Path) -> None:
    text = BASE.replace("      done:", "      limbo: {}\n      done:") + (
        "      - {name: out, from: limbo, to: done, roles: [agent]}\n"
    )
    assert lint(tmp_path, text) == [(line_of(text, "limbo: {}"), "unreachable")]
    entered = text + "      - {name: park, from: open, to: limbo, roles: [agent]}\n"
    assert lint(tmp_path, entered) == []


def test_a_state_with_no_way_to_a_terminal_state(tmp_path: Path) -> None:
    text = BASE.replace("      done:", "      loop: {}\n      done:") + (
        "      - {name: spin, from: loop, to: loop, roles: [agent]}\n"
        "      - {name: go, from: open, to: loop, roles: [agent]}\n"
    )
    assert lint(tmp_path, text) == [(line_of(text, "loop: {}"), "no_terminal")]
    way_out = text + "      - {name: end, from: loop, to: done, roles: [agent]}\n"
    assert lint(tmp_path, way_out) == []


def test_a_transition_whose_roles_nobody_holds(tmp_path: Path) -> None:
    text = BASE + "      - {name: overrule, from: open, to: done, roles: [boss]}\n"
    assert lint(tmp_path, text) == [(line_of(text, "overrule"), "unheld_role")]
    by_customer = BASE + "      - {name: overrule, from: open, to: done, roles: [boss, customer]}\n"
    assert lint(tmp_path, by_customer) == []


IMPOSSIBLE = BASE.replace(
    "      reason: {type: text}",
    "      reason: {type: text}\n      sign_off: {type: text, set_by: [approve]}",
).replace(
    "      - {name: finish, from: open, to: done, roles: [agent]}",
    "      - {name: finish, from: open, to: done, roles: [agent], requires: [sign_off]}\n"
    "      - {name: approve, from: APPROVE_FROM, roles: [agent]}",
)


def test_a_gate_on_a_field_only_a_later_transition_sets_can_never_be_met(tmp_path: Path) -> None:
    text = IMPOSSIBLE.replace("APPROVE_FROM", "done")
    assert lint(tmp_path, text) == [(line_of(text, "name: finish"), "impossible_gate")]
    approved_first = IMPOSSIBLE.replace("APPROVE_FROM", "open")
    assert lint(tmp_path, approved_first) == []
    given_by_set = text.replace(", requires: [sign_off]", ", requires: [reason]")
    assert lint(tmp_path, given_by_set) == []


BYE = "Subject: {{ id }} done\n\nHi,\n\n{{ reason }}\n\n{{ link }} {{ sender_name }} {{ title }}\n"


def test_a_template_using_a_field_not_set_on_every_path(tmp_path: Path) -> None:
    text = BASE.replace("to: done, roles: [agent]}", "to: done, roles: [agent], emails: [bye]}")
    assert lint(tmp_path, text, {"bye": BYE}) == [(line_of(text, "emails: [bye]"), "template_field")]
    required = text.replace("emails: [bye]}", "emails: [bye], requires: [reason]}")
    assert lint(tmp_path, required, {"bye": BYE}) == []
    guarded = BYE.replace("{{ reason }}", "{% if reason is defined %}{{ reason }}{% endif %}")
    assert lint(tmp_path, text, {"bye": guarded}) == []


def test_a_field_set_on_one_path_only_is_not_set_on_every_path(tmp_path: Path) -> None:
    text = BASE.replace("      done:", "      mid: {}\n      done:").replace(
        "      - {name: finish, from: open, to: done, roles: [agent]}",
        "      - {name: explain, from: open, to: mid, roles: [agent], set: {reason: explained}}\n"
        "      - {name: skip, from: open, to: mid, roles: [agent]}\n"
        "      - {name: finish, from: mid, to: done, roles: [agent], emails: [bye]}",
    )
    assert lint(tmp_path, text, {"bye": BYE}) == [(line_of(text, "emails: [bye]"), "template_field")]
    both = text.replace("{name: skip, from: open, to: mid, roles: [agent]}", "{name: skip, from: open, "
                        "to: mid, roles: [agent], set: {reason: skipped}}")  # fmt: skip
    assert lint(tmp_path, both, {"bye": BYE}) == []


def test_a_timer_on_a_state_it_can_never_leave(tmp_path: Path) -> None:
    timers = "    timers:\n      - {name: poke, state: STATE, after: 1d, note: still here}\n"
    text = BASE.replace("    transitions:", timers.replace("STATE", "done") + "    transitions:")
    assert lint(tmp_path, text) == [(line_of(text, "name: poke"), "stuck_timer")]
    on_open = BASE.replace("    transitions:", timers.replace("STATE", "open") + "    transitions:")
    assert lint(tmp_path, on_open) == []


def test_a_timer_whose_transition_is_not_taken_from_one_of_its_states(tmp_path: Path) -> None:
    timers = "    timers:\n      - {name: expire, states: [open, mid], after: 1d, transition: finish}\n"
    text = BASE.replace("      done:", "      mid: {}\n      done:").replace(
        "    transitions:", timers + "    transitions:"
    ) + (
        "      - {name: go, from: open, to: mid, roles: [agent]}\n"
        "      - {name: leave, from: mid, to: done, roles: [agent]}\n"
    )
    assert lint(tmp_path, text) == [(line_of(text, "name: expire"), "stuck_timer")]
    from_both = text.replace("{name: finish, from: open,", "{name: finish, from: [open, mid],")
    assert lint(tmp_path, from_both) == []


ROUTES = "intake:\n  routes:\n    - {to: desk@example.com, type: req}\n    - LATER\n"


@pytest.mark.parametrize(
    "later",
    ["{to: desk@example.com, type: req}", "{to: desk@example.com, subject: urgent, type: req}"],
    ids=["identical", "narrower"],
)
def test_a_later_intake_route_an_earlier_one_always_catches(tmp_path: Path, later: str) -> None:
    text = BASE + ROUTES.replace("LATER", later)
    assert lint(tmp_path, text) == [(line_of(text, later), "shadowed_route")]


def test_intake_routes_that_each_catch_their_own_mail(tmp_path: Path) -> None:
    text = BASE + ROUTES.replace("LATER", "{subject: urgent, type: req}")
    assert lint(tmp_path, text) == []


def test_the_default_workflow_lints_clean() -> None:
    assert lint_file(DEFAULTS / "workflow.yaml", DEFAULTS / "templates") == []


def test_the_cli_prints_file_line_kind_and_exits_3(run: Cli, tmp_path: Path) -> None:
    text = BASE + "      - {name: overrule, from: open, to: done, roles: [boss]}\n"
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("workflow", "lint", str(path), store=False)
    assert result.exit_code == 3, describe(result)
    line = line_of(text, "overrule")
    assert result.stdout.startswith(f"{path}:{line}: unheld_role: types.req: nobody under people: holds")
    result = run("workflow", "lint", str(path), "--json", store=False)
    assert result.exit_code == 3, describe(result)
    document = json.loads(result.stdout)
    assert document["ok"] is False
    [finding] = document["findings"]
    assert set(finding) == {"file", "line", "kind", "message"}
    assert (finding["file"], finding["line"], finding["kind"]) == (str(path), line, "unheld_role")
    assert set(KINDS) >= {finding["kind"]}


def test_the_cli_on_the_stores_workflow_and_check_warns_without_failing(run: Cli, store: Path) -> None:
    result = run("workflow", "lint", "--json")
    assert result.exit_code == 0, describe(result)
    assert json.loads(result.stdout) == {"ok": True, "findings": []}
    workflow = store / "workflow.yaml"
    text = workflow.read_text(encoding="utf-8")
    anchor = "      cancelled: {label: Cancelled, stage: Done, terminal: true}\n"
    workflow.write_text(text.replace(anchor, anchor + "      limbo: {label: Limbo}\n", 1), encoding="utf-8")
    line = line_of(workflow.read_text(encoding="utf-8"), "limbo: {label: Limbo}")
    result = run("workflow", "lint")
    assert result.exit_code == 3, describe(result)
    assert result.stdout.startswith(f"workflow.yaml:{line}: unreachable: types.enhancement.states.limbo:")
    checked = run("check", "--json")
    assert checked.exit_code == 0, describe(checked)
    warnings = json.loads(checked.stdout)["warnings"]
    assert [w.split(": ")[0:2] for w in warnings] == [[f"workflow.yaml:{line}", "unreachable"]]


def test_an_invalid_workflow_is_invalid_data(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(BASE.replace("initial: open", "initial: nowhere"), encoding="utf-8")
    result = run("workflow", "lint", str(path), store=False)
    assert result.exit_code == 6, describe(result)


def test_a_customer_without_a_name_is_greeted_hello(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    pm = "destyn@example.com"
    assert "\nHi " in run.ok("email", ticket_id, "board_approved_no_quote", user=pm).stdout
    run.ok("set", ticket_id, "customer_name=", user=pm)
    assert "\nHello,\n" in run.ok("email", ticket_id, "board_approved_no_quote", user=pm).stdout


def test_a_relative_path_out_of_the_store_is_the_users_file_to_check(
    run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``erflow workflow lint ../new.yaml`` from inside the store: the file a PM drafted beside it."""
    draft = store.parent / "new.yaml"
    draft.write_text((store / "workflow.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(store)
    result = run("workflow", "lint", "../new.yaml")
    assert result.exit_code == 0, describe(result)
    assert "ok: no findings" in result.stderr
