"""Errors under --json: one JSON object on stdout (error, code, reasons, missing, hint, and ticket and
suggestions where they exist) for a script, the same one line on stderr for a person, the contract's
exit code, nothing changed; without --json, stdout stays empty."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PM, Cli, describe, one_line_error

from erflow.cli import errjson
from erflow.core.errors import NotFound, Refused

KEYS = {"error", "code", "reasons", "missing", "hint"}


def failed(run: Cli, code: int, *args: str, user: str | None = None) -> tuple[dict[str, Any], str]:
    """Run ``args`` with --json, which must fail with ``code`` and change nothing; the object on
    stdout and the line on stderr, which is the line the same run without --json gives."""
    before = run.snapshot()
    result = run(*args, "--json", user=user)
    assert result.exit_code == code, describe(result)
    line = one_line_error(result)
    data = json.loads(result.stdout)
    assert isinstance(data, dict) and KEYS <= set(data), data
    assert data["code"] == code
    assert data["error"] and data["error"] in line
    assert isinstance(data["reasons"], list) and isinstance(data["missing"], list)
    assert run.snapshot() == before

    plain = run(*args, user=user)
    assert (plain.exit_code, plain.stdout) == (code, ""), describe(plain)
    assert one_line_error(plain) == line
    assert run.snapshot() == before
    return data, line


def test_a_refused_transition_names_the_missing_fields_and_the_ticket(run: Cli, store: Path) -> None:
    ticket = run.new("--title", "Bare", "--customer-email", "jane@acme.example")
    data, line = failed(run, 3, "advance", ticket, "submit", user=PM)
    assert {"product", "priority", "business_value"} <= set(data["missing"])
    assert data["reasons"] and all(isinstance(reason, str) for reason in data["reasons"])
    assert data["hint"] and data["hint"] in line
    assert data["ticket"] == ticket
    assert "suggestions" not in data


def test_a_person_not_found_offers_the_name_meant(run: Cli, store: Path) -> None:
    data, _ = failed(run, 4, "reminders", "--for", "destin@example.com")
    assert data["suggestions"] == [PM]
    assert "destin@example.com" in data["error"]
    assert "ticket" not in data


def test_a_ticket_not_found_names_it(run: Cli, store: Path) -> None:
    data, _ = failed(run, 4, "show", "ER-ZZZZZZ")
    assert data["ticket"] == "ER-ZZZZZZ"
    assert data["hint"] is None and "suggestions" not in data


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (("show",), None),  # a missing argument
        (("list", "--stat", "intake"), "--state"),  # a bad option
        (("shwo", "ER-1"), "show"),  # an unknown command
    ],
)
def test_a_usage_error_of_click(run: Cli, store: Path, args: tuple[str, ...], meant: str | None) -> None:
    data, _ = failed(run, 2, *args)
    assert data["hint"] and data["hint"].startswith("see ") and data["hint"].endswith("--help")
    assert meant in data.get("suggestions", [None])


def test_a_locked_store_is_a_conflict(run: Cli) -> None:
    ticket = run.ticket_at("intake")
    (run.root / ".git" / "index.lock").touch()
    data, _ = failed(run, 7, "note", ticket, "blocked", user=PM)
    assert "index.lock" in data["error"]
    assert data["hint"] and "nothing was changed" in data["hint"]
    assert data["ticket"] == ticket


def test_a_malformed_ticket_file_is_invalid_data(run: Cli) -> None:
    ticket = run.ticket_at("intake")
    path = run.path(ticket)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"id: {ticket}", "id: [unclosed", 1), encoding="utf-8")
    data, _ = failed(run, 6, "show", ticket)
    assert data["error"].startswith(path.relative_to(run.root).as_posix() + ":")
    assert data["ticket"] == ticket


def test_json_as_the_value_of_another_option_is_not_the_json_option(run: Cli) -> None:
    ticket = run.ticket_at("intake")
    result = run("advance", ticket, "approve", "--note", "--json", user=PM)
    assert result.exit_code == 3, describe(result)
    assert result.stdout == ""
    assert one_line_error(result)


def test_json_is_an_option_only_before_the_end_of_options() -> None:
    assert errjson.asked(["show", "ER-1", "--json"])
    assert not errjson.asked(["note", "ER-1", "--", "--json"])
    assert not errjson.asked(["note", "ER-1", "--jsonish"])


def test_did_you_mean_is_read_in_the_ways_erflow_and_click_write_it() -> None:
    assert errjson.suggested("did you mean destyn@example.com?") == ["destyn@example.com"]
    assert errjson.suggested("unknown state 'pm_reveiw'; did you mean 'pm_review'?") == ["pm_review"]
    assert errjson.suggested("(Did you mean one of: 'a', 'b'?)", "did you mean a or c?") == ["a", "b", "c"]
    assert errjson.suggested(None, "no such thing") == []


def test_the_names_an_error_carries_come_before_those_its_text_offers() -> None:
    error = NotFound("no ticket type 'enhancment'", hint="did you mean bug?", suggestions=["enhancement"])
    assert errjson.of_error(error, {})["suggestions"] == ["enhancement"]
    refused = Refused("gate", reasons=["r"], missing=["m"], ticket="ER-1")
    assert errjson.of_error(refused, {"ticket_id": "ER-2"}) == {
        "error": "gate",
        "code": 3,
        "reasons": ["r"],
        "missing": ["m"],
        "hint": None,
        "ticket": "ER-1",
    }


def test_a_usage_error_of_a_real_process_reads_its_arguments(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "erflow", "show", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["error"] == "Missing argument 'ID'."
    assert len(done.stderr.splitlines()) == 1
