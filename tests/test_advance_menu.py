"""The advance menu: pick any transition (the blocked ones too), answer each field it needs, checked
as you go, see the emails it will send, confirm, commit. "n", Ctrl-C or the end of input change
nothing. CliRunner's input is not a terminal: the hidden ``--interactive`` flag offers the menu."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import CUSTOMER_EMAIL, NICK, PM, SUPPORT, Cli, describe

MENU = ("--interactive",)


def test_a_blocked_transition_is_offered_and_its_missing_field_asked(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run("advance", ticket_id, *MENU, user=PM, input="1\nThe CSV columns you need\ny\n")
    assert result.exit_code == 0, describe(result)
    assert "1. request_info → needs_info: PM review: more info needed  (needs info_needed)" in result.stderr
    assert "info_needed — Information needed from the customer (text)" in result.stderr
    assert "it is quoted in the email to them" in result.stderr  # the field's help: from workflow.yaml
    assert f"email to {CUSTOMER_EMAIL}: [{ticket_id}]" in result.stderr
    assert result.stderr.index("email to") < result.stderr.index("Commit this change?")
    shown = run.show(ticket_id)
    assert shown["state"] == "needs_info"
    assert shown["info_needed"] == "The CSV columns you need"
    assert run.git("log", "-1", "--format=%s").startswith(f"{ticket_id} advance request_info")


def test_a_bad_answer_is_asked_again_with_one_line_why(run: Cli, store: Path) -> None:
    ticket_id = run.new("--title", "Export", "--customer-email", CUSTOMER_EMAIL)
    answers = "1\nBilling Portal\nhgh\nhigh\nSaves an hour a day\ny\n"
    result = run("advance", ticket_id, *MENU, user=SUPPORT, input=answers)
    assert result.exit_code == 0, describe(result)
    assert "priority — Priority (one of: low, normal, high, urgent)" in result.stderr
    assert "priority: 'hgh' is not one of low, normal, high, urgent (did you mean high?)" in result.stderr
    shown = run.show(ticket_id)
    assert (shown["state"], shown["priority"], shown["product"]) == ("pm_review", "high", "Billing Portal")


def test_the_field_a_failing_rule_reads_is_asked_too(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    answers = "2\nOnly on screen\nCSV download\nOne click\nmaybe\nyes\ny\n"
    result = run("advance", ticket_id, *MENU, user=PM, input=answers)
    assert result.exit_code == 0, describe(result)
    assert "config_checked — Checked: existing configuration cannot fulfil the request (yes or no)" in (
        result.stderr
    )
    assert "config_checked: 'maybe' is not true or false" in result.stderr
    shown = run.show(ticket_id)
    assert (shown["state"], shown["config_checked"], shown["scope"]) == (
        "product_board",
        True,
        "CSV download",
    )


def test_an_empty_answer_to_a_needed_field_is_asked_again(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run("advance", ticket_id, *MENU, user=PM, input="1\n\n  \nThe columns\ny\n")
    assert result.exit_code == 0, describe(result)
    assert result.stderr.count("info_needed: a value is needed") == 2
    assert run.show(ticket_id)["info_needed"] == "The columns"


def test_no_at_the_confirmation_changes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("advance", ticket_id, *MENU, user=PM, input="1\nThe columns\nn\n")
    assert result.exit_code == 1, describe(result)
    assert result.stderr.rstrip().splitlines()[-1].endswith("erflow: not done; nothing changed")
    assert run.snapshot() == before


def test_the_end_of_input_midway_changes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("advance", ticket_id, *MENU, user=PM, input="2\nOnly on screen\n")
    assert result.exit_code == 130, describe(result)
    assert result.stderr.rstrip().endswith("erflow: no more input; nothing changed")
    assert run.snapshot() == before


def test_no_transition_of_yours_is_a_usage_error(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    before = run.snapshot()
    result = run("advance", ticket_id, *MENU, user=NICK, input="1\n")
    assert result.exit_code == 2, describe(result)
    assert "no transition is open to you now" in result.stderr
    assert run.snapshot() == before


def test_a_transition_not_yours_is_refused_and_asked_again_then_a_required_note(run: Cli) -> None:
    ticket_id = run.ticket_at("scheduling")
    answers = "1\n2\nAdd a PDF export\nThe customer asked on the call\ny\n"
    result = run("advance", ticket_id, *MENU, user=NICK, input=answers)
    assert result.exit_code == 0, describe(result)
    assert "1. plan → scheduled: " in result.stderr and "(not yours to take)" in result.stderr
    assert "  plan: nick@example.com (" in result.stderr and "; pick another" in result.stderr
    assert "Note (required" in result.stderr
    shown = run.show(ticket_id)
    assert (shown["state"], shown["change_description"]) == ("scheduling", "Add a PDF export")
    assert "The customer asked on the call" in run.path(ticket_id).read_text()


def test_a_dry_run_from_the_menu_asks_renders_and_writes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("advance", ticket_id, "--dry-run", *MENU, user=PM, input="1\nThe columns\n")
    assert result.exit_code == 0, describe(result)
    assert "Commit this change?" not in result.stderr
    assert f"To: Jane Doe <{CUSTOMER_EMAIL}>" in result.stdout and f" [{ticket_id}] " in result.stdout
    assert "The columns" in result.stdout
    assert run.snapshot() == before


def test_the_menu_on_a_real_terminal(run: Cli) -> None:
    """Under a pseudo-terminal, without --interactive: the whole conversation, then the commit."""
    import pty

    ticket_id = run.ticket_at("pm_review")
    argv = [sys.executable, "-m", "erflow", "advance", ticket_id, "--store", str(run.root)]
    master, terminal = pty.openpty()
    env = dict(os.environ, ERFLOW_USER=PM)
    proc = subprocess.Popen(argv, stdin=terminal, stderr=terminal, stdout=subprocess.PIPE, env=env)
    os.close(terminal)
    seen = b""

    def until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        assert text in seen, seen.decode(errors="replace")

    try:
        for prompt, answer in [
            (b"Which", b"1\n"),
            (b"info_needed: ", b"hgh? no: the columns\n"),
            (b"Commit this change?", b"y\n"),
        ]:
            until(prompt)
            os.write(master, answer)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert b"email to " + CUSTOMER_EMAIL.encode() in seen
    assert run.show(ticket_id)["info_needed"] == "hgh? no: the columns"
