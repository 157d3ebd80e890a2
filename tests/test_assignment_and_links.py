"""Assignment rules (person, role queue, fewest open, round robin, routes by field values) and
transitions that create linked tickets, on a small workflow written for these tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import Cli, check_refuses_edit, commit_info, commits_since

WORKFLOW = textwrap.dedent(
    """\
    version: 1
    settings:
      portal_url: "https://help.example.com/{id}"
      sender: "Help Desk <help@example.com>"
      sender_name: Help Desk
    policies: {}
    roles: {agent: Support agent, billing: Billing desk, dev: Developer, lead: Team lead}
    people:
      a1@example.com: {name: Ann, roles: [agent]}
      a2@example.com: {name: Bob, roles: [agent]}
      a3@example.com: {name: Cat, roles: [agent]}
      money@example.com: {name: Mo, roles: [billing]}
      d1@example.com: {name: Dee, roles: [dev]}
      d2@example.com: {name: Eve, roles: [dev]}
      lead@example.com: {name: Lee, roles: [lead]}
    permissions: {new: [agent, lead], set: [agent, lead], note: ["*"], assign: [lead], link: [lead]}
    types:
      request:
        prefix: RQ
        initial: open
        fields:
          category: {type: enum, values: [billing, technical, other]}
          impact: {type: text}
          resolution: {type: enum, values: [answered, defect]}
        states:
          open:
            owner: agent
            assign:
              - {when: {category: billing}, role: billing}
              - {rule: fewest_open}
          escalated: {owner: lead}
          done: {terminal: true}
        transitions:
          - {name: escalate, from: open, to: escalated, roles: [agent], assign: {person: lead@example.com}}
          - {name: requeue, from: escalated, to: open, roles: [lead], assign: {role: agent, rule: queue}}
          - name: resolve
            from: [open, escalated]
            to: done
            roles: [agent, lead, billing]
            requires: [resolution]
            create:
              - type: defect
                when: {resolution: defect}
                link: creates
                copy: [customer, customer_name, customer_email, priority]
                map: {summary: impact}
                set: {source: support}
      defect:
        prefix: DF
        initial: new
        fields:
          summary: {type: text}
          source: {type: enum, values: [support, internal]}
        states:
          new: {owner: dev, assign: {rule: round_robin}}
          fixed: {terminal: true}
        create:
          emails: [defect_opened]
        transitions:
          - {name: fix, from: new, to: fixed, roles: [dev]}
    """
)
TEMPLATE = (
    "Subject: Your report {{ id }} is with our developers\n\n"
    "Hi {{ customer_name }},\n\nWe logged {{ title }} as a defect: {{ summary }}.\n\n{{ link }}\n"
)


@pytest.fixture
def desk(run: Cli, store: Path) -> Cli:
    (store / "workflow.yaml").write_text(WORKFLOW, encoding="utf-8")
    (store / "templates" / "defect_opened.j2").write_text(TEMPLATE, encoding="utf-8")
    run.commit_all("a help-desk workflow")
    run.ok("check")
    return run


def new_request(run: Cli, *sets: str, user: str = "lead@example.com") -> str:
    args = [a for s in sets for a in ("--set", s)]
    flags = ["--customer-name", "Jane Doe", "--customer-email", "jane@acme.example", "--customer-org", "Acme"]
    return str(
        run.ok("new", "request", "--title", "Printer on fire", *flags, *args, user=user).stdout.strip()
    )


def test_new_requests_go_to_the_agent_with_the_fewest_open_tickets(desk: Cli) -> None:
    owners = [desk.show(new_request(desk))["owner"] for _ in range(6)]
    assert sorted(owners) == sorted(["a1@example.com", "a2@example.com", "a3@example.com"] * 2)
    assert owners[:3] == ["a1@example.com", "a2@example.com", "a3@example.com"]


def test_a_closed_ticket_no_longer_counts_as_open_work(desk: Cli) -> None:
    first = new_request(desk)
    new_request(desk)
    new_request(desk)
    assert desk.show(first)["owner"] == "a1@example.com"
    desk.ok("advance", first, "resolve", "--set", "resolution=answered", user="a1@example.com")
    assert desk.show(new_request(desk))["owner"] == "a1@example.com"


def test_a_route_sends_billing_requests_to_the_billing_desk(desk: Cli) -> None:
    assert desk.show(new_request(desk, "category=billing"))["owner"] == "money@example.com"
    assert desk.show(new_request(desk, "category=technical"))["owner"] in {"a1@example.com", "a2@example.com"}


def test_a_transition_can_assign_a_fixed_person_or_a_role_queue(desk: Cli) -> None:
    ticket_id = new_request(desk)
    desk.ok("advance", ticket_id, "escalate", user=desk.show(ticket_id)["owner"])
    assert desk.show(ticket_id)["owner"] == "lead@example.com"
    desk.ok("advance", ticket_id, "requeue", user="lead@example.com")
    assert desk.show(ticket_id)["owner"] == "agent"


def test_resolving_to_a_defect_creates_a_linked_defect_in_the_same_commit(desk: Cli) -> None:
    ticket_id = new_request(desk, "impact=The printer catches fire on duplex jobs", "priority=high")
    before = desk.head()
    owner = desk.show(ticket_id)["owner"]
    data = desk.json("advance", ticket_id, "resolve", "--set", "resolution=defect", user=owner)
    (defect_id,) = data["created"]
    assert defect_id.startswith("DF-")
    assert commits_since(desk.root, before) == [data["commit"]]
    info = commit_info(desk.root)
    assert info.trailers["Erflow-Created"] == [defect_id]
    assert set(info.trailers["Erflow-Ticket"]) == {ticket_id, defect_id}
    assert len(info.files) == 2

    defect = desk.show(defect_id)
    assert defect["state"] == "new"
    assert defect["title"] == "Printer on fire"
    assert defect["summary"] == "The printer catches fire on duplex jobs"
    assert defect["source"] == "support"
    assert (defect["customer"], defect["customer_email"], defect["priority"]) == (
        "Acme",
        "jane@acme.example",
        "high",
    )
    assert defect["links"] == [f"created_by {ticket_id}"]
    assert desk.show(ticket_id)["links"] == [f"creates {defect_id}"]
    assert data["emails"] == [
        {
            "template": "defect_opened",
            "to": "jane@acme.example",
            "subject": f"[{defect_id}] Your report {defect_id} is with our developers",
            "sent": False,
        }
    ]
    assert "email defect_opened to jane@acme.example" in defect["body"]
    desk.ok("check")


def test_no_defect_is_created_when_the_condition_does_not_hold(desk: Cli) -> None:
    ticket_id = new_request(desk)
    data = desk.json("advance", ticket_id, "resolve", "--set", "resolution=answered", user="lead@example.com")
    assert data["created"] == []


def test_defects_go_round_robin_to_the_developers(desk: Cli) -> None:
    owners = []
    for minute in range(4):
        env = {"ERFLOW_NOW": f"2026-11-02T09:0{minute}:00+00:00"}
        ticket_id = new_request(desk, "impact=x")
        data = desk.json(
            "advance", ticket_id, "resolve", "--set", "resolution=defect", user="lead@example.com", env=env
        )
        owners.append(desk.show(data["created"][0])["owner"])
    assert owners == ["d1@example.com", "d2@example.com", "d1@example.com", "d2@example.com"]


def test_a_dry_run_that_would_create_a_defect_writes_nothing(desk: Cli) -> None:
    ticket_id = new_request(desk, "impact=x")
    before = desk.snapshot()
    data = desk.json(
        "advance", ticket_id, "resolve", "--set", "resolution=defect", "--dry-run", user="lead@example.com"
    )
    assert len(data["created"]) == 1 and data["commit"] is None
    assert desk.snapshot() == before


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("- type: defect", "- type: nosuch"),
        ("link: creates", "link: spawns"),
        ("map: {summary: impact}", "map: {summary: nosuch}"),
        ("set: {source: support}", "set: {source: elsewhere}"),
        ("set: {source: support}", "set: {severity: high}"),
        ("{rule: fewest_open}", "{rule: lottery}"),
        ("{person: lead@example.com}", "{person: nobody@example.com}"),
    ],
)
def test_check_names_a_broken_assign_or_create(desk: Cli, change: str, problem: str) -> None:
    check_refuses_edit(desk, change, problem)
