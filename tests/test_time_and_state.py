"""log-time (billable and not) and the state_entered timestamp, through the CLI on real stores."""

from __future__ import annotations

import re

import pytest
from conftest import DEV, PM, STRANGER, Cli, commit_info, commits_since, one_line_error

from erflow.core import model


def test_log_time_records_an_entry_and_one_commit_authored_by_the_actor(run: Cli) -> None:
    ticket_id = run.ticket_at("in_development")
    before = run.head()
    data = run.json("log-time", ticket_id, "1h30m", "--billable", "--note", "Pairing on the export", user=DEV)
    assert data["action"] == "log-time"
    assert commits_since(run.root, before) == [data["commit"]]
    info = commit_info(run.root)
    assert info.author_email == DEV
    assert info.trailers["Erflow-Action"] == ["log-time"]
    body = run.show(ticket_id)["body"]
    entry = "- **2026-11-02T09:00:00+00:00** dev@example.com: 1.5 h billable\n  Pairing on the export"
    assert f"## Time\n\n{entry}" in body


def test_time_totals_add_billable_and_non_billable_hours(run: Cli) -> None:
    ticket_id = run.ticket_at("in_development")
    run.ok("log-time", ticket_id, "2", "--billable", user=DEV)
    run.ok("log-time", ticket_id, "45m", user=DEV)
    data = run.json("log-time", ticket_id, "0.25", "--billable", user=PM)
    assert data["changes"] == {"hours": [None, 3.0], "billable_hours": [None, 2.25]}
    assert re.search(r"time logged +3 h \(2\.25 h billable\)", run.ok("show", ticket_id).stdout)


def test_the_time_section_sits_between_notes_and_communications_and_check_passes(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    run.ok("log-time", ticket_id, "1", user=PM)
    text = run.path(ticket_id).read_text(encoding="utf-8")
    assert text.index("## Notes") < text.index("## Time") < text.index("## Communications")
    run.ok("check")


def test_a_ticket_without_time_has_no_time_section(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    assert "## Time" not in run.path(ticket_id).read_text(encoding="utf-8")


@pytest.mark.parametrize("hours", ["0", "-1", "25", "abc", "1x", ""])
def test_a_bad_duration_is_a_usage_error_and_changes_nothing(run: Cli, hours: str) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("log-time", ticket_id, hours, user=DEV)
    assert result.exit_code == 2, result.stderr
    assert "log-time" in one_line_error(result)
    assert run.snapshot() == before


def test_someone_not_listed_under_people_may_not_log_time(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("log-time", ticket_id, "1", user=STRANGER)
    assert result.exit_code == 5
    assert run.snapshot() == before


@pytest.mark.parametrize(
    ("text", "hours"),
    [("1.5", 1.5), ("1.5h", 1.5), ("90m", 1.5), ("1h30m", 1.5), ("2 hours", 2.0), ("24", 24.0)],
)
def test_durations_are_read_in_hours(text: str, hours: float) -> None:
    assert model.parse_hours(text) == hours


def test_state_entered_is_set_at_creation_and_moves_only_with_the_state(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    shown = run.show(ticket_id)
    assert shown["state_entered"] == "2026-11-02T09:00:00+00:00"
    later = {"ERFLOW_NOW": "2026-11-03T10:00:00+00:00"}
    run.ok("note", ticket_id, "still looking", user=PM, env=later)
    assert run.show(ticket_id)["state_entered"] == "2026-11-02T09:00:00+00:00"
    run.ok("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", user=PM, env=later)
    assert run.show(ticket_id)["state_entered"] == "2026-11-03T10:00:00+00:00"


def test_state_entered_cannot_be_set_by_hand(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run("set", ticket_id, "state_entered=2020-01-01T00:00:00+00:00", user=PM)
    assert result.exit_code == 3
