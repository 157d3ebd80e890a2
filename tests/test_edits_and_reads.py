"""Creating tickets, edits outside transitions, and everything that reads the store."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from conftest import (
    CUSTOMER_EMAIL,
    DEV,
    INTAKE_FLAGS,
    NICK,
    PM,
    STAMP,
    SUPPORT,
    Cli,
    commit_info,
    commits_since,
    describe,
    expected_emails,
    git,
    one_line_error,
)

ID = re.compile(r"^ER-[0-9A-HJKMNP-TV-Z]{6}$")


def section(body: str, name: str) -> str:
    """The text of one body section (## Notes, ## Communications) up to the next heading."""
    after = body.split(f"## {name}\n", 1)[1]
    return after.split("\n## ", 1)[0]


# ---------------------------------------------------------------------------------------------
# new


def test_new_with_flags_prints_only_the_id_and_stores_every_field(run: Cli, store: Path) -> None:
    before = run.head()
    result = run(
        "new", "enhancement", *INTAKE_FLAGS, "--description", "Finance wants a CSV export.", user=SUPPORT
    )

    assert result.exit_code == 0, describe(result)
    ticket_id = result.stdout.strip()
    assert result.stdout == ticket_id + "\n"
    assert ID.match(ticket_id)
    assert ticket_id in result.stderr
    shown = run.show(ticket_id)
    assert {k: shown[k] for k in ("id", "type", "title", "state", "owner", "customer", "customer_name")} == {
        "id": ticket_id,
        "type": "enhancement",
        "title": "Export invoices to CSV",
        "state": "intake",
        "owner": SUPPORT,
        "customer": "Acme Corp",
        "customer_name": "Jane Doe",
    }
    assert (shown["customer_email"], shown["product"], shown["priority"]) == (
        CUSTOMER_EMAIL,
        "Billing Portal",
        "normal",
    )
    assert shown["business_value"] == "Saves finance 4 hours a week"
    assert (shown["labels"], shown["links"], shown["created"], shown["updated"]) == ([], [], STAMP, STAMP)
    assert shown["body"].startswith("Finance wants a CSV export.\n")
    assert len(commits_since(run.root, before)) == 1
    commit = commit_info(run.root)
    assert commit.author_email == SUPPORT
    assert commit.trailers["Erflow-Ticket"] == [ticket_id]
    assert commit.files == [run.path(ticket_id).relative_to(run.root).as_posix()]


def test_ticket_file_keeps_the_contract_front_matter_order(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    text = run.path(ticket_id).read_text(encoding="utf-8")
    keys = re.findall(r"^([a-z_]+):", text.split("\n---\n", 1)[0], re.MULTILINE)
    common = [
        "id",
        "type",
        "title",
        "state",
        "owner",
        "customer",
        "customer_name",
        "customer_email",
        "priority",
        "labels",
        "links",
        "created",
        "updated",
    ]
    assert [k for k in keys if k in common] == [k for k in common if k in keys]
    assert keys[: keys.index("updated") + 1] == [k for k in common if k in keys]
    assert text.endswith("\n")


def test_new_json_reports_id_state_commit_and_the_intake_email(run: Cli, store: Path) -> None:
    data = run.json("new", "enhancement", *INTAKE_FLAGS, user=SUPPORT)
    assert set(data) == {"id", "state", "commit", "emails", "notifications"}
    assert data["state"] == "intake"
    assert data["commit"] == run.head()
    assert data["emails"] == expected_emails(data["id"], "intake_acknowledgement")


def test_intake_acknowledgement_is_logged_in_the_communications_section(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    log = section(run.show(ticket_id)["body"], "Communications")
    assert f"email intake_acknowledgement to {CUSTOMER_EMAIL}" in log
    assert f"Enhancement Request {ticket_id} - Received" in log
    assert "not sent" in log


def test_new_without_a_customer_email_sends_no_acknowledgement(run: Cli, store: Path) -> None:
    data = run.json("new", "enhancement", "--title", "Internal idea", user=PM)
    assert data["emails"] == []
    assert "intake_acknowledgement" not in run.show(data["id"])["body"]


FORM = {
    "title": "Bulk user import",
    "customer_name": "Ana Ruiz",
    "customer_email": "ana@umbrella.example",
    "customer_org": "Umbrella",
    "product": "Admin",
    "priority": "high",
    "business_value": "Onboarding 2,000 users",
    "description": "Import users from a spreadsheet.",
}


def assert_form_ticket(run: Cli, ticket_id: str) -> None:
    shown = run.show(ticket_id)
    assert shown["title"] == "Bulk user import"
    assert (shown["customer_name"], shown["customer_email"], shown["customer"]) == (
        "Ana Ruiz",
        "ana@umbrella.example",
        "Umbrella",
    )
    assert (shown["product"], shown["priority"], shown["business_value"]) == (
        "Admin",
        "high",
        "Onboarding 2,000 users",
    )
    assert shown["body"].startswith("Import users from a spreadsheet.")
    assert [o["name"] for o in shown["next"] if o["allowed"]] == []  # show as nobody: no roles
    (submit,) = run.json("transitions", ticket_id, user=SUPPORT)
    assert submit["allowed"] is True


def test_new_from_a_json_form(run: Cli, store: Path, tmp_path: Path) -> None:
    form = tmp_path / "form.json"
    form.write_text(json.dumps(FORM), encoding="utf-8")
    result = run.ok("new", "enhancement", "--from", str(form), user=SUPPORT)
    assert_form_ticket(run, result.stdout.strip())


def test_new_from_a_yaml_form(run: Cli, store: Path, tmp_path: Path) -> None:
    form = tmp_path / "form.yaml"
    form.write_text(
        "title: Bulk user import\n"
        "customer_name: Ana Ruiz\n"
        "customer_email: ana@umbrella.example\n"
        "customer_org: Umbrella\n"
        "product: Admin\n"
        "priority: high\n"
        "business_value: Onboarding 2,000 users\n"
        "description: |\n"
        "  Import users from a spreadsheet.\n",
        encoding="utf-8",
    )
    result = run.ok("new", "enhancement", "--from", str(form), user=SUPPORT)
    assert_form_ticket(run, result.stdout.strip())


def test_new_from_stdin(run: Cli, store: Path) -> None:
    result = run.ok("new", "enhancement", "--from", "-", user=SUPPORT, input=json.dumps(FORM))
    assert_form_ticket(run, result.stdout.strip())


def test_flags_win_over_the_form(run: Cli, store: Path) -> None:
    result = run.ok(
        "new",
        "enhancement",
        "--from",
        "-",
        "--title",
        "Import users (CSV)",
        "--set",
        "priority=low",
        user=SUPPORT,
        input=json.dumps(FORM),
    )
    shown = run.show(result.stdout.strip())
    assert (shown["title"], shown["priority"], shown["product"]) == ("Import users (CSV)", "low", "Admin")


def test_form_with_an_unknown_field_is_a_usage_error_and_creates_nothing(run: Cli, store: Path) -> None:
    before = run.snapshot()
    result = run(
        "new",
        "enhancement",
        "--from",
        "-",
        user=SUPPORT,
        input=json.dumps({**FORM, "favourite_colour": "red"}),
    )
    assert result.exit_code == 2, describe(result)
    assert "favourite_colour" in one_line_error(result)
    assert result.stdout == ""
    assert run.snapshot() == before


def test_malformed_form_is_invalid_data_naming_the_line(run: Cli, store: Path, tmp_path: Path) -> None:
    form = tmp_path / "form.json"
    form.write_text('{\n  "title": "x",\n  "priority": \n}\n', encoding="utf-8")
    before = run.snapshot()
    result = run("new", "enhancement", "--from", str(form), user=SUPPORT)
    assert result.exit_code == 6, describe(result)
    assert "form.json:" in one_line_error(result)
    assert run.snapshot() == before


def test_new_needs_a_title(run: Cli, store: Path) -> None:
    before = run.snapshot()
    result = run("new", "enhancement", "--customer-email", CUSTOMER_EMAIL, user=SUPPORT)
    assert result.exit_code == 2, describe(result)
    assert "title" in one_line_error(result)
    assert run.snapshot() == before


def test_new_dry_run_writes_nothing(run: Cli, store: Path) -> None:
    before = run.snapshot()
    result = run.ok("new", "enhancement", *INTAKE_FLAGS, "--dry-run", user=SUPPORT)
    assert run.snapshot() == before
    assert "dry run" in result.stderr


def test_ids_of_many_tickets_are_unique(run: Cli, store: Path) -> None:
    ids = {run.new("--title", f"Request {n}") for n in range(6)}
    assert len(ids) == 6
    assert all(ID.match(i) for i in ids)


# ---------------------------------------------------------------------------------------------
# set, note, assign, link


def test_set_changes_fields_in_one_commit_and_unsets_with_an_empty_value(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.head()

    data = run.json("set", ticket_id, "scope=CSV download", "problem=Only on screen", user=PM)

    assert data == {
        "id": ticket_id,
        "action": "set",
        "commit": run.head(),
        "changes": {"scope": [None, "CSV download"], "problem": [None, "Only on screen"]},
    }
    assert commits_since(run.root, before) == [data["commit"]]
    commit = commit_info(run.root)
    assert commit.author_email == PM
    assert commit.trailers["Erflow-Ticket"] == [ticket_id]
    shown = run.show(ticket_id)
    assert (shown["scope"], shown["problem"], shown["state"]) == (
        "CSV download",
        "Only on screen",
        "pm_review",
    )

    run.ok("set", ticket_id, "scope=", user=PM)
    assert not run.show(ticket_id).get("scope")


def test_setting_the_same_value_again_is_refused_without_a_commit(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("set", ticket_id, "priority=normal", user=PM)
    assert result.exit_code == 3, describe(result)
    one_line_error(result)
    assert run.snapshot() == before


def test_note_is_added_to_the_notes_in_one_commit(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.head()
    run.ok("note", ticket_id, "Called Jane; she wants ISO dates.", user=DEV)
    run.ok("note", ticket_id, "We will ship in December.", "--customer", user=PM)

    notes = section(run.show(ticket_id)["body"], "Notes")
    assert len(commits_since(run.root, before)) == 2
    entries = ["- " + e for e in notes.strip().split("\n- ")]
    internal = next(e for e in entries if "Called Jane; she wants ISO dates." in e)
    customer = next(e for e in entries if "We will ship in December." in e)
    assert entries.index(internal) < entries.index(customer) == len(entries) - 1
    assert "customer" not in internal
    assert "customer" in customer
    assert commit_info(run.root).author_email == PM


def test_empty_note_is_a_usage_error(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    before = run.snapshot()
    result = run("note", ticket_id, "   ", user=PM)
    assert result.exit_code == 2, describe(result)
    assert run.snapshot() == before


def test_assign_to_a_person_and_to_a_role(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    data = run.json("assign", ticket_id, NICK, user=PM)
    assert data["changes"] == {"owner": [PM, NICK]}
    assert run.show(ticket_id)["owner"] == NICK
    assert commit_info(run.root).author_email == PM

    run.ok("assign", ticket_id, "board", user=SUPPORT)
    assert run.show(ticket_id)["owner"] == "board"
    assert ids(run.json("list", "--owner", "board")) == [ticket_id]


def test_assign_to_an_unknown_person_is_not_found(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("assign", ticket_id, "ghost@example.com", user=PM)
    assert result.exit_code == 4, describe(result)
    assert "ghost@example.com" in one_line_error(result)
    assert run.snapshot() == before


def test_link_gives_both_tickets_the_link_and_its_inverse_in_one_commit(run: Cli) -> None:
    child = run.ticket_at("billable_scheduled")
    parent = run.new("--title", "Implementation: Acme SSO")
    before = run.head()

    run.ok("link", child, "parent", parent, user=PM)

    assert run.show(child)["links"] == [f"parent {parent}"]
    assert run.show(parent)["links"] == [f"child {child}"]
    assert len(commits_since(run.root, before)) == 1
    commit = commit_info(run.root)
    assert sorted(commit.files) == sorted(
        run.path(t).relative_to(run.root).as_posix() for t in (child, parent)
    )
    assert commit.trailers["Erflow-Ticket"] == [child, parent]
    assert commit.author_email == PM


def test_link_with_an_unknown_relation_or_ticket_changes_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    before = run.snapshot()
    assert run("link", ticket_id, "parent", "ER-ZZZZZZ", user=PM).exit_code == 4
    assert run("link", ticket_id, "loves", ticket_id, user=PM).exit_code == 2
    assert run("link", ticket_id, "relates", ticket_id, user=PM).exit_code == 3
    assert run.snapshot() == before


# ---------------------------------------------------------------------------------------------
# email


def test_email_prints_the_full_message_and_logs_it_as_not_sent(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    before = run.head()

    result = run.ok("email", ticket_id, "board_approved_no_quote", user=PM)

    head, _, body = result.stdout.partition("\n\n")
    assert "From: Destyn Dagle <destyn@example.com>" in head.splitlines()
    assert f"To: Jane Doe <{CUSTOMER_EMAIL}>" in head.splitlines()
    assert (
        f"Subject: [{ticket_id}] Enhancement Request {ticket_id} - Approved for Scheduling"
        in head.splitlines()
    )
    assert body.startswith("Hi Jane Doe,\n")
    assert "Export invoices to CSV" in body
    assert f"https://support.example.com/requests/{ticket_id}" in body
    assert body.rstrip().endswith("Destyn Dagle")
    assert len(commits_since(run.root, before)) == 1
    log = section(run.show(ticket_id)["body"], "Communications")
    assert f"email board_approved_no_quote to {CUSTOMER_EMAIL}" in log.splitlines()[-1]
    assert "(not sent)" in log.splitlines()[-1]


def test_email_dry_run_prints_the_message_and_records_nothing(run: Cli) -> None:
    ticket_id = run.ticket_at("leadership")
    before = run.snapshot()
    result = run.ok("email", ticket_id, "board_approved_no_quote", "--dry-run", user=PM)
    assert (
        f"Subject: [{ticket_id}] Enhancement Request {ticket_id} - Approved for Scheduling" in result.stdout
    )
    assert run.snapshot() == before


def test_email_needing_a_field_the_ticket_lacks_is_refused_naming_it(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    before = run.snapshot()
    result = run("email", ticket_id, "leadership_declined", user=PM)
    assert result.exit_code == 3, describe(result)
    assert "decline_reason" in one_line_error(result)
    assert run.snapshot() == before


def test_customer_text_is_never_template_code(run: Cli, store: Path) -> None:
    ticket_id = run.new(
        "--title",
        "{{ 7*7 }} and {% if true %}x{% endif %}",
        "--customer-name",
        "Jane {{ config }}",
        "--customer-email",
        CUSTOMER_EMAIL,
    )
    result = run.ok("email", ticket_id, "intake_acknowledgement", "--dry-run", user=PM)
    assert "{{ 7*7 }} and {% if true %}x{% endif %}" in result.stdout
    assert "Hi Jane {{ config }}," in result.stdout
    assert "49" not in result.stdout.partition("\n\n")[2]


def test_customer_text_can_never_add_a_header(run: Cli, store: Path) -> None:
    ticket_id = run.new(
        "--title",
        "Export\nBcc: evil@attacker.example",
        "--customer-email",
        CUSTOMER_EMAIL,
        "--customer-name",
        "Jane",
    )
    result = run.ok("email", ticket_id, "intake_acknowledgement", "--dry-run", user=PM)
    head = result.stdout.partition("\n\n")[0]
    assert not any(line.lower().startswith("bcc:") for line in head.splitlines())


def test_customer_name_with_a_line_break_is_folded_to_one_line(run: Cli, store: Path) -> None:
    # Found by this suite: it used to make `new` exit 6 'invalid data' (kept for malformed files).
    result = run(
        "new",
        "enhancement",
        "--title",
        "x",
        "--customer-email",
        CUSTOMER_EMAIL,
        "--customer-name",
        "Jane\nBcc: evil@attacker.example",
        user=SUPPORT,
    )
    assert result.exit_code == 0, describe(result)
    ticket_id = result.stdout.strip()
    assert run.show(ticket_id)["customer_name"] == "Jane Bcc: evil@attacker.example"
    head = run.ok("email", ticket_id, "intake_acknowledgement", "--dry-run", user=PM).stdout.partition(
        "\n\n"
    )[0]
    assert not any(line.lower().startswith("bcc:") for line in head.splitlines())


# ---------------------------------------------------------------------------------------------
# list


@pytest.fixture
def three_tickets(run: Cli) -> dict[str, str]:
    """A billable ticket at scheduled (owner destyn), one high-priority at intake, one at pm_review."""
    billable = run.ticket_at("billable_scheduled")
    urgent = run.new("--title", "Urgent fix", "--set", "priority=high", "--customer-org", "Globex")
    review = run.new()
    run.ok("advance", review, "submit", user=SUPPORT)
    return {"billable": billable, "urgent": urgent, "review": review}


def ids(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["id"]) for r in rows]


def test_list_json_is_an_array_of_front_matter_without_body(run: Cli, three_tickets: dict[str, str]) -> None:
    rows = run.json("list")
    assert sorted(ids(rows)) == sorted(three_tickets.values())
    for row in rows:
        assert "body" not in row and "next" not in row
        shown = run.show(str(row["id"]))
        assert row == {k: v for k, v in shown.items() if k not in ("body", "next")}


def test_list_filters_by_type_state_owner_label_and_field(run: Cli, three_tickets: dict[str, str]) -> None:
    t = three_tickets
    assert sorted(ids(run.json("list", "--type", "enhancement"))) == sorted(t.values())
    assert ids(run.json("list", "--state", "intake")) == [t["urgent"]]
    assert sorted(ids(run.json("list", "--state", "intake", "--state", "pm_review"))) == sorted(
        [t["urgent"], t["review"]]
    )
    assert sorted(ids(run.json("list", "--owner", PM))) == sorted([t["billable"], t["review"]])
    assert ids(run.json("list", "--label", "billable")) == [t["billable"]]
    assert ids(run.json("list", "--where", "priority=high")) == [t["urgent"]]
    assert ids(run.json("list", "--where", "customer=Globex", "--state", "intake")) == [t["urgent"]]
    assert ids(run.json("list", "--where", "billable=true")) == [t["billable"]]
    assert ids(run.json("list", "--where", "dev_priority=1")) == [t["billable"]]
    assert run.json("list", "--state", "closed") == []


def test_list_with_an_unknown_type_is_not_found(run: Cli, store: Path) -> None:
    result = run("list", "--type", "feature")
    assert result.exit_code == 4, describe(result)
    one_line_error(result)


def test_list_csv_has_a_header_and_one_row_per_ticket(run: Cli, three_tickets: dict[str, str]) -> None:
    result = run.ok("list", "--csv", "--state", "intake", "--state", "scheduled")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["id"] for r in rows) == sorted([three_tickets["urgent"], three_tickets["billable"]])
    urgent = next(r for r in rows if r["id"] == three_tickets["urgent"])
    assert (urgent["state"], urgent["priority"], urgent["title"], urgent["customer"]) == (
        "intake",
        "high",
        "Urgent fix",
        "Globex",
    )
    assert result.stdout.splitlines()[0].startswith("id,")


def test_list_table_shows_each_ticket(run: Cli, three_tickets: dict[str, str]) -> None:
    result = run.ok("list")
    for ticket_id in three_tickets.values():
        assert ticket_id in result.stdout
    assert "Urgent fix" in result.stdout


# ---------------------------------------------------------------------------------------------
# show, transitions


def test_show_json_has_front_matter_body_and_next(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    shown = run.json("show", ticket_id, user=PM)
    assert shown["id"] == ticket_id and shown["state"] == "pm_review"
    assert isinstance(shown["body"], str) and "## Notes" in shown["body"]
    assert shown["next"] == run.json("transitions", ticket_id, user=PM)
    assert [o["name"] for o in shown["next"]] == ["request_info", "approve", "config_solves_it"]
    for option in shown["next"]:
        assert set(option) == {"name", "to", "label", "allowed", "reasons", "missing"}


def test_show_prints_fields_state_and_next_for_a_person(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run.ok("show", ticket_id, user=PM)
    assert ticket_id in result.stdout
    assert "Export invoices to CSV" in result.stdout
    assert "PM review" in result.stdout
    assert "request_info" in result.stdout and "approve" in result.stdout


def test_ids_are_case_insensitive(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    assert run.json("show", ticket_id.lower())["id"] == ticket_id


def test_transitions_table_gives_reasons(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    result = run.ok("transitions", ticket_id, user=PM)
    assert "approve" in result.stdout
    assert "problem" in result.stdout


def test_advance_without_a_transition_off_a_terminal_is_a_usage_error(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    before = run.snapshot()
    result = run("advance", ticket_id, user=PM)
    assert result.exit_code == 2, describe(result)
    assert f"erflow transitions {ticket_id}" in one_line_error(result)
    assert run.snapshot() == before


# ---------------------------------------------------------------------------------------------
# check


def test_check_passes_on_a_fresh_store(run: Cli, store: Path) -> None:
    result = run.ok("check")
    assert result.stdout == ""
    assert "no problems" in result.stderr
    assert run.json("check") == {"ok": True, "problems": []}


def check_problems(run: Cli) -> list[str]:
    """Run check (text and --json): exit 6 both ways, the same problems; return them."""
    result = run("check")
    assert result.exit_code == 6, describe(result)
    assert "Traceback" not in result.stderr
    problems = result.stdout.splitlines()
    as_json = run("check", "--json")
    assert as_json.exit_code == 6, describe(as_json)
    assert json.loads(as_json.stdout) == {"ok": False, "problems": problems}
    return problems


def edit_line(path: Path, starts: str, new: str) -> int:
    """Replace the first line starting with ``starts``; return its 1-based number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith(starts))
    lines[number] = new
    path.write_text("\n".join(lines), encoding="utf-8")
    return number + 1


def test_check_names_file_and_line_of_an_enum_value_not_allowed(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    line = edit_line(path, "priority:", "priority: whenever")
    rel = path.relative_to(run.root).as_posix()
    problems = check_problems(run)
    assert len(problems) == 1
    assert problems[0].startswith(f"{rel}:{line}: ")
    assert "whenever" in problems[0]


def test_check_names_file_and_line_of_an_unknown_state(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    line = edit_line(path, "state:", "state: limbo")
    rel = path.relative_to(run.root).as_posix()
    problems = check_problems(run)
    assert len(problems) == 1
    assert problems[0].startswith(f"{rel}:{line}: ")
    assert "limbo" in problems[0]


def test_check_names_the_line_of_a_workflow_transition_to_an_unknown_state(run: Cli, store: Path) -> None:
    workflow = store / "workflow.yaml"
    lines = workflow.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines) if line.strip() == "- name: submit")
    to = next(i for i in range(number, len(lines)) if lines[i].strip() == "to: pm_review")
    lines[to] = lines[to].replace("pm_review", "pm_reveiw")
    workflow.write_text("\n".join(lines), encoding="utf-8")

    problems = check_problems(run)

    assert len(problems) == 1
    assert problems[0].startswith(f"workflow.yaml:{to + 1}: ")
    assert "pm_reveiw" in problems[0]


def test_check_names_the_line_of_a_template_syntax_error(run: Cli, store: Path) -> None:
    (store / "templates" / "quote_follow_up.j2").write_text(
        "Subject: Your quote {{ id }}\n\nHi {{ customer_name }},\n{% if quote_amount %}\nsee the quote\n",
        encoding="utf-8",
    )
    problems = check_problems(run)
    assert len(problems) == 1
    assert problems[0].startswith("templates/quote_follow_up.j2:")
    assert re.match(r"templates/quote_follow_up\.j2:[3-6]: ", problems[0])


def test_check_lists_every_problem_at_once(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    edit_line(run.path(ticket_id), "priority:", "priority: whenever")
    other = run.new()
    edit_line(run.path(other), "state:", "state: limbo")
    (run.root / "templates" / "extra.j2").write_text("Subject: x\n\n{% for %}\n", encoding="utf-8")
    problems = check_problems(run)
    assert len(problems) == 3


def test_check_lists_a_broken_template_in_use_together_with_other_problems(run: Cli) -> None:
    # Found by this suite: check used to stop at a broken template that workflow.yaml uses.
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    line = edit_line(path, "priority:", "priority: whenever")
    (run.root / "templates" / "pm_more_info.j2").write_text("Subject: x {{ id }\n\nbody\n", encoding="utf-8")

    problems = check_problems(run)

    assert len(problems) == 2, problems
    assert any(p.startswith("templates/pm_more_info.j2:1: ") for p in problems)
    assert any(p.startswith(f"{path.relative_to(run.root).as_posix()}:{line}: ") for p in problems)


# ---------------------------------------------------------------------------------------------
# graph


def test_graph_prints_a_mermaid_state_diagram(run: Cli, store: Path) -> None:
    result = run.ok("graph")
    lines = result.stdout.splitlines()
    assert "stateDiagram-v2" in lines
    assert "    [*] --> intake" in lines
    assert "    intake --> pm_review : submit" in lines
    assert "    sow --> payment : sow_signed" in lines
    assert "    sow --> scheduling : sow_signed" in lines
    assert "    closed --> [*]" in lines


def test_graph_prints_graphviz_dot(run: Cli, store: Path) -> None:
    result = run.ok("graph", "--format", "dot")
    assert result.stdout.startswith('digraph "enhancement" {')
    assert '  "intake" -> "pm_review" [label="submit"];' in result.stdout.splitlines()
    assert result.stdout.rstrip().endswith("}")


def test_graph_with_an_unknown_format_is_a_usage_error(run: Cli, store: Path) -> None:
    result = run("graph", "--format", "svg")
    assert result.exit_code == 2, describe(result)


# ---------------------------------------------------------------------------------------------
# Finding the store


def test_store_is_found_by_option_environment_and_walking_up(
    bare: Cli, run: Cli, store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ticket_id = run.new()
    assert bare.json("show", ticket_id, "--store", str(store))["id"] == ticket_id

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert bare.json("show", ticket_id, env={"ERFLOW_STORE": str(store)})["id"] == ticket_id

    monkeypatch.chdir(run.path(ticket_id).parent)
    assert bare.json("show", ticket_id)["id"] == ticket_id


def test_store_option_wins_over_the_environment(bare: Cli, run: Cli, store: Path, tmp_path: Path) -> None:
    ticket_id = run.new()
    other = tmp_path / "other"
    bare.ok("init", str(other))
    result = bare("show", ticket_id, "--store", str(store), env={"ERFLOW_STORE": str(other)})
    assert result.exit_code == 0, describe(result)


def test_no_store_is_not_found(bare: Cli, tmp_path: Path) -> None:
    result = bare("list")
    assert result.exit_code == 4, describe(result)
    assert "erflow init" in one_line_error(result)
    result = bare("list", "--store", str(tmp_path / "nowhere"))
    assert result.exit_code == 4, describe(result)
    result = bare("list", env={"ERFLOW_STORE": str(tmp_path / "nowhere")})
    assert result.exit_code == 4, describe(result)


# ---------------------------------------------------------------------------------------------
# init and demo


def test_init_makes_a_store_with_one_commit(bare: Cli, tmp_path: Path) -> None:
    result = bare.ok("init", str(tmp_path / "s"))
    root = tmp_path / "s"
    assert (root / "workflow.yaml").is_file()
    assert (root / "tickets").is_dir()
    templates = sorted(p.stem for p in (root / "templates").glob("*.j2"))
    for name in (
        "intake_acknowledgement",
        "pm_more_info",
        "board_declined",
        "board_deferred",
        "board_approved_quote",
        "board_approved_no_quote",
        "leadership_returned",
        "leadership_declined",
        "sow_received",
        "development_started",
        "delivered",
    ):
        assert name in templates
    assert len(git(root, "rev-list", "HEAD").split()) == 1
    assert git(root, "status", "--porcelain") == ""
    assert str(root) in result.stderr


def test_init_refuses_an_existing_store(bare: Cli, store: Path) -> None:
    result = bare("init", str(store))
    assert result.exit_code == 3, describe(result)
    one_line_error(result)


def test_demo_leaves_a_store_that_check_passes_with_tickets_in_the_main_end_states(
    bare: Cli, tmp_path: Path
) -> None:
    result = bare("demo", str(tmp_path / "demo"))
    assert result.exit_code == 0, describe(result)
    assert "REFUSED" in result.stdout
    demo = Cli(tmp_path / "demo", bare.cache_dir)
    assert demo.json("check") == {"ok": True, "problems": []}
    states = sorted(t["state"] for t in demo.json("list"))
    for state in ("closed", "ready_for_billing", "declined", "pm_review"):
        assert state in states
    assert demo.git("status", "--porcelain") == ""


def test_form_cannot_set_the_state(run: Cli, store: Path) -> None:
    before = run.snapshot()
    result = run(
        "new", "enhancement", "--from", "-", user=SUPPORT, input=json.dumps({**FORM, "state": "closed"})
    )
    assert result.exit_code == 3, describe(result)
    assert "state" in one_line_error(result)
    assert run.snapshot() == before


# ---------------------------------------------------------------------------------------------
# The store as people and git see it


def move_ticket(run: Cli, ticket_id: str, folder: str) -> Path:
    """Move a ticket file into another subfolder of tickets/ and commit the move (a person tidying up)."""
    target = run.root / "tickets" / folder / f"{ticket_id}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    run.git("mv", str(run.path(ticket_id)), str(target))
    run.commit_all(f"archive {ticket_id}")
    return target


def test_tickets_may_live_in_any_subfolder(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    target = move_ticket(run, ticket_id, "archive/2026")

    assert run.show(ticket_id)["state"] == "pm_review"
    assert ids(run.json("list")) == [ticket_id]
    run.ok("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", user=PM)

    assert commit_info(run.root).files == [target.relative_to(run.root).as_posix()]
    assert run.path(ticket_id) == target
    assert run.json("check") == {"ok": True, "problems": []}


def test_history_survives_moving_the_ticket_into_a_subfolder(run: Cli) -> None:
    ticket_id = run.ticket_at("scheduled")
    before = run.json("history", ticket_id)
    move_ticket(run, ticket_id, "archive/2026")

    after = run.json("history", ticket_id)

    assert [e["transition"] for e in after[: len(before)]] == [e["transition"] for e in before]


def test_history_marks_a_hand_edit_committed_outside_erflow(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    path = run.path(ticket_id)
    path.write_text(
        path.read_text(encoding="utf-8").replace("priority: normal", "priority: urgent"), encoding="utf-8"
    )
    run.commit_all("bump priority by hand")

    last = run.json("history", ticket_id)[-1]

    assert last["actor"] == "hand@example.com"
    assert last["transition"] is None
    assert last["changes"] == {"priority": ["normal", "urgent"]}
    assert last["action"] == "edit outside erflow"


def test_a_change_commits_only_its_ticket_even_with_other_work_in_progress(run: Cli) -> None:
    ticket_id = run.ticket_at("pm_review")
    other = run.new("--title", "Another request")
    (run.root / "templates" / "draft.j2").write_text("Subject: draft {{ id }}\n\nwip\n", encoding="utf-8")
    run.git("add", "templates/draft.j2")
    readme = run.root / "NOTES.txt"
    readme.write_text("not for erflow\n", encoding="utf-8")

    data = run.json("advance", ticket_id, "request_info", "--set", "info_needed=Which columns?", user=PM)

    assert commit_info(run.root, data["commit"]).files == [
        run.path(ticket_id).relative_to(run.root).as_posix()
    ]
    status = run.git("status", "--porcelain").splitlines()
    assert "A  templates/draft.j2" in status
    assert "?? NOTES.txt" in status
    assert run.show(other)["state"] == "intake"


def test_tickets_made_in_two_clones_merge_cleanly(run: Cli, bare: Cli, tmp_path: Path) -> None:
    first = run.ticket_at("intake")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(run.root), str(clone))
    theirs = Cli(clone, bare.cache_dir)
    made_there = theirs.new("--title", "Made in the clone")
    made_here = run.new("--title", "Made here")

    run.git(
        "-c",
        "user.email=hand@example.com",
        "-c",
        "user.name=Hand",
        "pull",
        "-q",
        "--no-rebase",
        "--no-edit",
        str(clone),
        "main",
    )

    assert sorted(ids(run.json("list"))) == sorted([first, made_there, made_here])
    assert len({first, made_there, made_here}) == 3
    assert run.json("check") == {"ok": True, "problems": []}


def test_check_names_a_template_that_uses_a_field_the_type_lacks(run: Cli, store: Path) -> None:
    template = store / "templates" / "pm_more_info.j2"
    template.write_text(
        template.read_text(encoding="utf-8").replace("{{ info_needed }}", "{{ favourite_colour }}"),
        encoding="utf-8",
    )
    problems = check_problems(run)
    assert len(problems) == 1
    assert problems[0].startswith("templates/pm_more_info.j2")
    assert "favourite_colour" in problems[0]


@pytest.mark.parametrize("ticket_type", ["bug", "support", "doc_change"])
def test_default_workflow_has_the_other_request_types(run: Cli, store: Path, ticket_type: str) -> None:
    run.ok("graph", "--type", ticket_type)


def test_a_store_checked_out_as_a_git_worktree_can_be_changed(run: Cli, bare: Cli, tmp_path: Path) -> None:
    ticket_id = run.ticket_at("intake")
    worktree = tmp_path / "worktree"
    run.git("worktree", "add", "-q", "-b", "triage", str(worktree))
    there = Cli(worktree, bare.cache_dir)

    result = there("advance", ticket_id, "submit", user=SUPPORT)

    assert result.exit_code == 0, describe(result)
    assert there.state(ticket_id) == "pm_review"
