"""The default workflow's timers and SLAs, driven by `erflow sweep --now` at chosen instants, and the
support type's documents. Every command runs at 2026-11-02T09:00:00+00:00 (a Monday) unless told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import DEV, PM, SUPPORT, Cli
from test_other_types import (
    CS_TEAM,
    KNOWLEDGE,
    ONCALL_A,
    configured_doc,
    new_bug,
    request_in_progress,
    step,
)


def at(text: str) -> dict[str, str | None]:
    return {"ERFLOW_NOW": text}


def sweep(run: Cli, now: str) -> list[dict[str, Any]]:
    """The timers and SLA escalations a sweep ran (its staff notifications aside: test_notifications)."""
    actions: list[dict[str, Any]] = run.json("sweep", "--now", now, user=SUPPORT)["actions"]
    return [a for a in actions if not a["timer"].startswith("notify ")]


def doc_on_hold(run: Cli, tmp_path: Path) -> str:
    doc, _ = configured_doc(run, tmp_path, wants_to_test=True)
    step(run, doc, "ready_to_test", CS_TEAM[0])
    return doc


def test_the_doc_change_test_loop_nudges_after_3_days_and_hands_over_a_day_later(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc = doc_on_hold(run, tmp_path)
    assert [a for a in sweep(run, "2026-11-05T08:59:00+00:00") if a["ticket"] == doc] == []
    (nudge,) = [a for a in sweep(run, "2026-11-05T09:00:00+00:00") if a["ticket"] == doc]
    assert (nudge["timer"], nudge["done"]) == ("nudge_after_3_days", True)
    assert [e["template"] for e in nudge["emails"]] == ["doc_ready_to_test_second"]
    assert run.show(doc)["nudge_sent"] is True
    assert [a for a in sweep(run, "2026-11-05T18:00:00+00:00") if a["ticket"] == doc] == []
    (hand_over,) = [a for a in sweep(run, "2026-11-06T09:00:00+00:00") if a["ticket"] == doc]
    assert (hand_over["timer"], hand_over["to"]) == ("hand_over_a_day_later", "todo")
    assert run.show(doc)["test_status"] == "no_reply"


def test_a_delivered_doc_change_closes_24_hours_later_without_a_reply(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc, _ = configured_doc(run, tmp_path)
    step(run, doc, "publish", CS_TEAM[0])
    assert run.show(doc)["state"] == "delivered"
    assert [a for a in sweep(run, "2026-11-03T08:59:00+00:00") if a["ticket"] == doc] == []
    (close,) = [a for a in sweep(run, "2026-11-03T09:00:00+00:00") if a["ticket"] == doc]
    assert (close["timer"], close["to"]) == ("close_after_24_hours", "closed")


def test_every_monday_each_customer_testing_on_onboard_gets_the_reset_reminder(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    doc = doc_on_hold(run, tmp_path)
    monday = [a for a in sweep(run, "2026-11-02T10:00:00+00:00") if a["ticket"] == doc]
    assert [(a["timer"], a["emails"][0]["template"]) for a in monday] == [
        ("monday_onboard_reset", "doc_onboard_reset")
    ]
    assert [a for a in sweep(run, "2026-11-02T16:00:00+00:00") if a["timer"] == "monday_onboard_reset"] == []


def test_a_critical_bug_handed_off_at_once_is_not_escalated(run: Cli, store: Path) -> None:
    bug, _ = new_bug(run, "severity=critical")
    run.ok("advance", bug, "escalate_on_call", user=ONCALL_A, env=at("2026-11-02T09:20:00+00:00"))
    assert run.show(bug)["responded"] == "2026-11-02T09:20:00+00:00"
    assert [a["timer"] for a in sweep(run, "2026-11-02T10:30:00+00:00") if a["ticket"] == bug] == []


def test_an_untriaged_high_bug_breaches_its_response_sla_after_four_business_hours(
    run: Cli, store: Path
) -> None:
    bug, _ = new_bug(run, "severity=high")
    assert [a for a in sweep(run, "2026-11-02T12:59:00+00:00") if a["ticket"] == bug] == []
    (action,) = [a for a in sweep(run, "2026-11-02T13:00:01+00:00") if a["ticket"] == bug]
    assert action["timer"] == "sla_response"
    shown = run.show(bug)
    assert (shown["owner"], "sla-breached" in shown["labels"]) == (PM, True)
    sla = {
        (r["id"], r["clock"]): r["status"]
        for r in run.json("report", "sla", env=at("2026-11-02T13:30:00+00:00"))["rows"]
    }
    assert sla[(bug, "response")] == "breached"


def test_a_critical_bug_counts_around_the_clock(run: Cli, store: Path) -> None:
    bug, _ = new_bug(run, "severity=critical")  # Monday 09:00: response due 10:00, also at night
    rows = run.json("report", "sla", env=at("2026-11-02T09:30:00+00:00"))["rows"]
    due = {r["clock"]: r["due"] for r in rows if r["id"] == bug}
    assert due == {"response": "2026-11-02T10:00:00+00:00", "resolution": "2026-11-02T17:00:00+00:00"}


def test_support_invoice_and_knowledge_article_are_written_as_documents(run: Cli, store: Path) -> None:
    request = request_in_progress(run)
    invoice = (run.root / "invoices" / f"{request}.md").read_text(encoding="utf-8")
    assert "| **Amount due** | **900.00** |" in invoice
    assert "INV-2291" in invoice
    step(run, request, "resolve", DEV, resolution="completed", resolution_notes="Raised the export timeout")
    step(run, request, "publish_article", KNOWLEDGE, article_summary="Large exports need the nightly job.")
    article = (run.root / "knowledge" / f"{request}.md").read_text(encoding="utf-8")
    assert article.startswith('---\ntitle: "Nightly export fails"\n')
    assert "Large exports need the nightly job." in article
    assert "Raised the export timeout" in article
    run.ok("check")


def test_report_billing_lists_billable_work_with_its_estimate_and_hours(run: Cli, store: Path) -> None:
    request = request_in_progress(run)
    run.ok("log-time", request, "5", "--billable", user=DEV)
    run.ok("log-time", request, "1", user=DEV)
    (row,) = [r for r in run.json("report", "billing")["rows"] if r["id"] == request]
    assert (row["estimate_hours"], row["billable_hours"], row["hours_logged"]) == (6, 5.0, 6.0)
    assert row["customer"] == "Acme Corp"
