"""erflow as a real process (``python -m erflow``): help, usage errors, exit codes, --debug, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NICK, SUPPORT, Cli, answer_menu, describe, one_line_error

from erflow.cli.root import CLOSED_PIPE

IMPLEMENTED = [
    "init",
    "demo",
    "new",
    "show",
    "list",
    "transitions",
    "advance",
    "set",
    "note",
    "assign",
    "link",
    "email",
    "history",
    "check",
    "graph",
    "log-time",
    "sweep",
    "report",
    "audit",
    "sync",
]


def erflow(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if user is not None:
        env["ERFLOW_USER"] = user
    return subprocess.run(
        [sys.executable, "-m", "erflow", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def commands_in_help(text: str) -> list[str]:
    listed = text.split("Commands:", 1)[1]
    return [line.split()[0] for line in listed.splitlines() if line.startswith("  ") and line.strip()]


def test_help_lists_every_command_and_exits_0() -> None:
    proc = erflow("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for command in IMPLEMENTED:
        assert command in commands_in_help(proc.stdout)
    assert "--debug" in proc.stdout


@pytest.mark.parametrize("command", IMPLEMENTED)
def test_every_command_has_help(bare: Cli, command: str) -> None:
    result = bare(command, "--help")
    assert result.exit_code == 0, describe(result)
    assert result.stdout.startswith("Usage: ")
    assert len(result.stdout.splitlines()) > 3


def test_unknown_command_exits_2_with_one_line_on_stderr() -> None:
    proc = erflow("frobnicate")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "frobnicate" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_option_exits_2_with_one_line_on_stderr(bare: Cli) -> None:
    result = bare("list", "--frobnicate")
    assert result.exit_code == 2, describe(result)
    assert "--frobnicate" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("show", "ER-ZZZZZZ"), 4),
        (("advance", "{id}", "close"), 3),
        (("advance", "{id}", "submit", "--set", "product"), 2),
        (("advance", "{id}", "teleport"), 4),
    ],
)
def test_an_error_exits_with_the_contract_code_and_one_stderr_line(
    run: Cli, store: Path, args: tuple[str, ...], code: int
) -> None:
    ticket_id = run.new()
    proc = erflow(*(a.format(id=ticket_id) for a in args), "--store", str(store), user=SUPPORT)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("erflow: ")
    assert "Traceback" not in proc.stderr


def test_an_error_line_shows_the_input_as_typed(store: Path) -> None:
    proc = erflow("show", ":smile:", "--store", str(store))
    assert proc.returncode == 4
    assert proc.stderr == "erflow: ':smile:' is not a ticket id (ids look like ER-4K7M2Q)\n"


def test_debug_shows_the_traceback(store: Path) -> None:
    proc = erflow("--debug", "show", "ER-ZZZZZZ", "--store", str(store))
    assert proc.returncode == 4
    assert "Traceback (most recent call last)" in proc.stderr
    assert "NotFound" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("erflow: no ticket ER-ZZZZZZ")


def test_long_values_are_not_wrapped_when_piped(run: Cli, store: Path) -> None:
    title = "A very long title " * 12 + "[bold]not markup[/bold]"
    ticket_id = run.new("--title", title.strip())
    proc = erflow("show", ticket_id, "--json", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == title.strip()
    listing = erflow("list", "--store", str(store))
    assert "[bold]not markup[/bold]" in listing.stdout.replace("\n", "")


def test_actor_falls_back_to_git_user_email(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    run.git("config", "user.email", "destyn@example.com")
    proc = erflow("note", ticket_id, "from git identity", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    assert run.git("log", "-1", "--format=%ae").strip() == "destyn@example.com"


def test_advance_without_a_transition_offers_a_menu_on_a_terminal(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    env = dict(os.environ, ERFLOW_USER=NICK)
    argv = [sys.executable, "-m", "erflow", "advance", ticket_id, "--store", str(run.root)]
    assert answer_menu(argv, env, expect=b"1. schedule") == 0
    assert run.state(ticket_id) == "scheduling"
    assert run.git("log", "-1", "--format=%ae").strip() == NICK


def erflow_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """erflow writing to a pipe whose reader has gone before erflow writes anything."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "erflow", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args", [("list", "--json"), ("list", "--csv"), ("list",), ("show", "{id}", "--json"), ("show", "{id}")]
)
def test_a_closed_pipe_ends_erflow_quietly(run: Cli, store: Path, args: tuple[str, ...]) -> None:
    ticket_id = run.new()
    proc = erflow_into_a_closed_pipe(*(a.format(id=ticket_id) for a in args), "--store", str(store))
    assert proc.stderr == ""
    assert proc.returncode == CLOSED_PIPE


def test_list_json_into_head_prints_one_line_and_nothing_on_stderr(run: Cli, store: Path) -> None:
    for number in range(3):
        run.new("--title", f"request {number} " + "x" * 30_000)
    script = f'"{sys.executable}" -m erflow list --json --store "{store}" | head -1'
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert proc.stdout == "[\n"
    assert proc.stderr == ""
