"""Start-up: a run of erflow imports the module of the command it runs, and only what that command
needs (no rich for --json, no use cases for --help)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PM, Cli

from erflow.cli import root
from erflow.cli.main import app

# Runs erflow's main() with the given arguments, then names every module imported, on stderr's last line.
_PROBE = """
import sys
from erflow.cli.main import main
sys.argv = ["erflow", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def modules_imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60, check=False
    )
    return set(proc.stderr.splitlines()[-1].split())


def command_modules(modules: set[str]) -> set[str]:
    every = {f"erflow.cli.{module}" for module in root.COMMANDS.values()}
    return modules & every


def test_each_command_is_defined_in_the_module_the_command_table_names() -> None:
    defined = {
        info.name or info.callback.__name__.replace("_", "-"): info.callback.__module__
        for info in app.registered_commands
        if info.callback is not None
    }
    for group in app.registered_groups:  # a command group: a Typer of its own, with its module's commands
        sub = group.typer_instance
        assert sub is not None and group.name
        first = sub.registered_callback or (sub.registered_commands[0] if sub.registered_commands else None)
        assert first is not None and first.callback is not None
        defined[group.name] = first.callback.__module__
    assert defined == {name: f"erflow.cli.{module}" for name, module in root.COMMANDS.items()}


def test_help_imports_every_command_module_but_no_use_case_and_no_rich() -> None:
    modules = modules_imported("--help")
    assert command_modules(modules) == {f"erflow.cli.{module}" for module in root.COMMANDS.values()}
    assert not {m for m in modules if m.startswith("erflow.app")}
    assert "rich" not in modules


@pytest.mark.parametrize("json_out", [True, False])
def test_show_into_a_pipe_imports_its_own_command_module_only_and_neither_rich_nor_yaml(
    run: Cli, json_out: bool
) -> None:
    ticket_id = run.ticket_at("intake")
    run.ok("list")  # the index holds the ticket's front-matter: show need not parse the YAML
    modules = modules_imported("show", ticket_id, "--store", str(run.root), *(["--json"] if json_out else []))
    assert command_modules(modules) == {"erflow.cli.tickets"}
    assert "rich" not in modules
    assert "yaml" not in modules
    assert not {"erflow.app.advance", "erflow.app.sweep", "erflow.app.check"} & modules


def test_show_into_a_pipe_says_what_the_terminal_view_says(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    lines = run.ok("show", ticket_id, user=PM).stdout.splitlines()
    assert lines[0] == f"{ticket_id}  Export invoices to CSV"
    assert lines[1] == "Enhancement request · PM review"
    assert "state           pm_review" in lines
    assert any(line.startswith("unset: ") for line in lines)
    nxt = lines.index("Next")
    assert lines[nxt + 1].split() == ["Transition", "To", "Label", "/", "why", "not"]
    rows = [line.split()[:3] for line in lines[nxt + 2 :] if not line.startswith(" ")]
    assert [row[:2] for row in rows] == [
        ["request_info", "needs_info"],
        ["approve", "product_board"],
        ["config_solves_it", "closed"],
    ]
    assert {row[2] for row in rows} <= {"✓", "✗"}
    reasons = [line.strip() for line in lines[nxt + 2 :] if line.startswith(" ")]
    why_not = ("missing: ", "check first that existing configuration cannot fulfil the request")
    assert reasons and all(reason.startswith(why_not) for reason in reasons)


def test_list_json_imports_no_rich(run: Cli, store: Path) -> None:
    run.new()
    modules = modules_imported("list", "--json", "--store", str(store))
    assert command_modules(modules) == {"erflow.cli.tickets"}
    assert "rich" not in modules
