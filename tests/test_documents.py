"""Transitions that write documents (a knowledge article, an invoice) from sandboxed templates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import Cli, commit_info, commits_since

WORKFLOW = textwrap.dedent(
    """\
    version: 1
    settings:
      portal_url: "https://help.example.com/{id}"
      sender: "Desk <desk@example.com>"
      sender_name: Desk
    policies: {}
    roles: {agent: Agent}
    people:
      a1@example.com: {name: Ann, roles: [agent]}
    permissions: {new: [agent], set: [agent], note: ["*"]}
    types:
      request:
        prefix: RQ
        initial: open
        fields:
          article_summary: {type: text}
          estimate_hours: {type: number}
          hourly_rate: {type: number}
        states:
          open: {owner: agent}
          invoiced: {owner: agent}
          resolved: {terminal: true}
        transitions:
          - name: invoice
            from: open
            to: invoiced
            roles: [agent]
            requires: [estimate_hours, hourly_rate]
            documents: [{template: invoice, path: "invoices/{id}.md"}]
          - name: publish_article
            from: [open, invoiced]
            to: resolved
            roles: [agent]
            requires: [article_summary]
            documents: [{template: kb_article, path: "knowledge/{id}.md"}]
    """
)
KB = "# {{ title }}\n\n{{ article_summary }}\n\nFrom request {{ id }} ({{ customer }}).\n"
INVOICE = (
    "# Invoice for {{ id }}\n\n"
    "{{ estimate_hours }} h x {{ hourly_rate }} = {{ estimate_hours * hourly_rate }}\n"
)
AGENT = "a1@example.com"


@pytest.fixture
def desk(run: Cli, store: Path) -> Cli:
    (store / "workflow.yaml").write_text(WORKFLOW, encoding="utf-8")
    folder = store / "templates" / "documents"
    folder.mkdir(exist_ok=True)
    (folder / "kb_article.j2").write_text(KB, encoding="utf-8")
    (folder / "invoice.j2").write_text(INVOICE, encoding="utf-8")
    run.commit_all("a desk that writes documents")
    run.ok("check")
    return run


def new_request(run: Cli) -> str:
    flags = [
        "--title",
        "Printing labels {{ 7*7 }}",
        "--customer-org",
        "Acme",
        "--customer-email",
        "j@acme.example",
    ]
    return str(run.ok("new", "request", *flags, user=AGENT).stdout.strip())


def test_publishing_writes_the_knowledge_article_in_the_same_commit(desk: Cli) -> None:
    ticket_id = new_request(desk)
    before = desk.head()
    data = desk.json(
        "advance", ticket_id, "publish_article", "--set", "article_summary=Use the 4x6 preset.", user=AGENT
    )
    assert commits_since(desk.root, before) == [data["commit"]]
    assert f"knowledge/{ticket_id}.md" in commit_info(desk.root).files
    text = (desk.root / "knowledge" / f"{ticket_id}.md").read_text(encoding="utf-8")
    assert (
        text
        == f"# Printing labels {{{{ 7*7 }}}}\n\nUse the 4x6 preset.\n\nFrom request {ticket_id} (Acme).\n"
    )
    assert f"wrote knowledge/{ticket_id}.md (kb_article)" in desk.show(ticket_id)["body"]
    desk.ok("check")


def test_the_invoice_is_computed_from_the_estimate_and_the_rate(desk: Cli) -> None:
    ticket_id = new_request(desk)
    desk.ok(
        "advance", ticket_id, "invoice", "--set", "estimate_hours=6", "--set", "hourly_rate=150", user=AGENT
    )
    text = (desk.root / "invoices" / f"{ticket_id}.md").read_text(encoding="utf-8")
    assert "6 h x 150 = 900" in text


def test_a_document_whose_template_needs_a_missing_field_refuses_and_writes_nothing(desk: Cli) -> None:
    folder = desk.root / "templates" / "documents"
    (folder / "kb_article.j2").write_text("{{ title }} {{ resolution_code }}\n", encoding="utf-8")
    desk.commit_all("the article needs a resolution code")
    ticket_id = new_request(desk)
    before = desk.snapshot()
    result = desk("advance", ticket_id, "publish_article", "--set", "article_summary=x", user=AGENT)
    assert result.exit_code == 3
    assert "resolution_code" in result.stderr
    assert desk.snapshot() == before
    assert not (desk.root / "knowledge").exists()


@pytest.mark.parametrize(
    "path", ["../outside/{id}.md", "/etc/{id}", "tickets/{id}.md", "knowledge/article.md", "a//{id}.md"]
)
def test_check_refuses_a_document_path_outside_the_store_or_in_erflows_folders(desk: Cli, path: str) -> None:
    workflow = desk.root / "workflow.yaml"
    workflow.write_text(
        workflow.read_text(encoding="utf-8").replace("knowledge/{id}.md", path), encoding="utf-8"
    )
    result = desk("check")
    assert result.exit_code == 6
    assert "documents[0].path" in result.stdout


def test_check_names_a_missing_document_template(desk: Cli) -> None:
    (desk.root / "templates" / "documents" / "invoice.j2").unlink()
    result = desk("check")
    assert result.exit_code == 6
    assert "document template 'invoice' not found" in result.stdout
