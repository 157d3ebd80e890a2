"""Names a person types are the workflow's own: an unknown state, type, field, transition, person or
report is refused in one line with the closest name offered, and nothing changes; ``me`` is the
actor. The root takes --store before the command; --help, ``report`` and ``graph`` tell what exists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PM, SUPPORT, Cli, describe, one_line_error

from erflow.cli import root


def refused(run: Cli, code: int, *args: str, user: str = PM) -> str:
    """Run a command that must be refused with ``code``, change nothing, and say so in one line."""
    before = run.snapshot()
    result = run(*args, user=user)
    assert result.exit_code == code, describe(result)
    assert run.snapshot() == before
    return one_line_error(result)


def test_set_owner_to_nobody_is_refused_with_the_closest_person(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    line = refused(run, 4, "set", ticket_id, "owner=bob")
    assert "'bob' is neither a person under people nor a role" in line
    line = refused(run, 4, "set", ticket_id, "owner=destyn@exmple.com")
    assert line.endswith("(did you mean destyn@example.com?)")
    line = refused(run, 2, "set", ticket_id, "ownr=pm")
    assert line.endswith("(did you mean owner?)")


def test_owner_me_is_the_actor_and_a_role_is_a_queue(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("set", ticket_id, "owner=pm", user=PM)
    assert run.show(ticket_id)["owner"] == "pm"
    run.ok("set", ticket_id, "owner=me", user=SUPPORT)
    assert run.show(ticket_id)["owner"] == SUPPORT
    run.ok("assign", ticket_id, "me", user=PM)
    assert run.show(ticket_id)["owner"] == PM
    assert [t["id"] for t in run.json("list", "--owner", "me", user=PM)] == [ticket_id]
    assert run.json("list", "--owner", "me", user=SUPPORT) == []
    assert [t["id"] for t in run.json("list", "--where", "owner=me", user=PM)] == [ticket_id]
    line = refused(run, 4, "assign", ticket_id, "supprt")
    assert line.endswith("(did you mean support?)")


def test_list_refuses_unknown_states_types_fields_values_and_people(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    assert [t["id"] for t in run.json("list", "--state", "pm_review")] == [ticket_id]
    line = refused(run, 2, "list", "--state", "pm_reveiw")
    assert line == "erflow: --state pm_reveiw: no state 'pm_reveiw' in any type (did you mean pm_review?)"
    assert "no state 'pm_review' in bug" in refused(run, 2, "list", "--type", "bug", "--state", "pm_review")
    assert refused(run, 4, "list", "--type", "enhancment").endswith("(did you mean enhancement?)")
    assert refused(run, 2, "list", "--where", "prodcut=x").endswith("(did you mean product?)")
    assert refused(run, 2, "list", "--where", "priority=hgh").endswith("(did you mean high?)")
    assert refused(run, 4, "list", "--owner", "destyn").endswith("(did you mean destyn@example.com?)")


def test_unknown_transition_type_report_and_person_offer_the_closest(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    assert refused(run, 4, "advance", ticket_id, "aprove").endswith("(did you mean approve?)")
    line = refused(run, 4, "new", "enhancment", "--title", "x", user=SUPPORT)
    assert line.endswith("(did you mean enhancement?)")
    assert refused(run, 4, "report", "bord").endswith("(did you mean board?)")
    assert refused(run, 4, "graph", "--type", "bgu").endswith("(did you mean bug?)")
    assert refused(run, 4, "reminders", "--for", "destyn@exampel.com").endswith(
        "(did you mean destyn@example.com?)"
    )
    reminders = run.json("reminders", "--for", "me", user=PM)
    assert reminders == run.json("reminders", "--for", PM, user=SUPPORT)


def test_check_names_an_owner_who_is_not_in_people_but_not_a_role(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("check")
    path = run.path(ticket_id)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"owner: {PM}", "owner: pm"), encoding="utf-8")
    run.ok("check")
    path.write_text(text.replace(f"owner: {PM}", "owner: bob@example.com"), encoding="utf-8")
    result = run("check")
    assert result.exit_code == 6, describe(result)
    line = next(line for line in result.stdout.splitlines() if "bob@example.com" in line)
    assert f"{ticket_id}.md:" in line
    assert "owner 'bob@example.com' is neither a person under people nor a role" in line


def test_store_before_the_command_works_in_process_and_from_the_entry_point(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run("--store", str(run.root), "list", "--json", store=False)
    assert [t["id"] for t in json.loads(result.stdout)] == [ticket_id], describe(result)
    for args in (["--store", str(run.root)], [f"--store={run.root}"]):
        proc = subprocess.run(
            [sys.executable, "-m", "erflow", *args, "list", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=Path("/"),
        )
        assert proc.returncode == 0, proc.stderr
        assert [t["id"] for t in json.loads(proc.stdout)] == [ticket_id]


def test_help_lists_every_command_with_its_whole_first_sentence(bare: Cli) -> None:
    out = bare.ok("--help").stdout
    commands = out[out.index("Commands:") :]
    assert "..." not in commands
    for name in root.COMMANDS:
        if name != "merge-file":
            assert f"\n  {name} " in commands, name
    assert "(tickets per state), aging (time in state)" in " ".join(commands.split())


def test_report_alone_lists_the_reports_with_a_line_on_each(bare: Cli) -> None:
    lines = bare.ok("report").stdout.splitlines()
    names = [line.split()[0] for line in lines[:-1]]
    assert names == ["board", "aging", "sla", "workload", "billing", "funnel"]
    assert all(len(line.split()) > 3 for line in lines[:-1])


@pytest.mark.parametrize("how", [["enhancement"], ["--type", "enhancement"]])
def test_graph_takes_the_type_as_a_positional_and_draws_an_outline_as_text(run: Cli, how: list[str]) -> None:
    run.ticket_at("pm_review")
    assert (
        run.ok("graph", *how).stdout == run.ok("graph", "--type", "enhancement", "--format", "mermaid").stdout
    )
    text = run.ok("graph", *how, "--format", "text", "--counts").stdout
    lines = text.splitlines()
    assert lines[0] == "Enhancement request (ER-): 1 ticket"
    assert lines[1] == "  intake: Intake (0 tickets) [start]"
    assert lines[2].startswith("    submit \u2192 pm_review  (support, pm)  needs ")
    assert "  pm_review: PM review (1 ticket)" in lines
    assert "  closed: Closed (0 tickets) [end]" in lines
    assert "Bug report" not in text
    assert refused(run, 2, "graph", "bug", "--type", "support") == (
        "erflow: graph bug --type support: name one type"
    )
