"""Making stores: ``erflow init`` and ``erflow demo``."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import service, store
from .errors import ErflowError, Refused
from .history import Change, Git

DEFAULTS = Path(__file__).parent / "defaults"
GITIGNORE = "# erflow's derived files (caches); never the source of truth\n.erflow/\n"


@dataclass
class InitResult:
    root: Path
    commit: str


def init_store(directory: Path, env: Mapping[str, str], actor: str | None = None) -> InitResult:
    """A new store: default workflow.yaml and templates, empty tickets/, git init, first commit."""
    root = directory.expanduser().resolve()
    if (root / store.WORKFLOW).exists():
        raise Refused(
            f"{root} is already an erflow store ({store.WORKFLOW} exists)",
            hint="pick another folder, or remove that one first",
        )
    root.mkdir(parents=True, exist_ok=True)
    git = Git(root)
    if not (root / ".git").exists():
        git.init()
    shutil.copyfile(DEFAULTS / store.WORKFLOW, root / store.WORKFLOW)
    source = DEFAULTS / store.TEMPLATES
    for template in sorted(source.rglob("*.j2")):  # emails, and documents/ for document templates
        target = root / store.TEMPLATES / template.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
    (root / store.TICKETS).mkdir(exist_ok=True)
    (root / store.TICKETS / ".gitkeep").touch()
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
    who = actor or service.resolve_actor(env, root) or "erflow@localhost"
    paths = [store.WORKFLOW, store.TEMPLATES, f"{store.TICKETS}/.gitkeep", ".gitignore"]
    change = Change("store", "init", who, summary="default workflow and templates")
    commit = git.commit(paths, change.message().replace("store init", "erflow init", 1), (who, who))
    return InitResult(root, commit)


@dataclass
class DemoReport:
    root: Path
    steps: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"store": str(self.root), "tickets": self.tickets, "steps": self.steps}


class _Walker:
    """Plays the people of the SOP, one command each, and records what happened."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = env
        self.report = DemoReport(root)
        self.now = service.resolve_now(env)

    def ctx(self, actor: str) -> service.Context:
        return service.Context(store.Store(self.root), actor, self.now, self.env)

    def new(self, actor: str, request: service.NewRequest) -> str:
        result = service.new(self.ctx(actor), request)
        self.report.tickets.append(result.id)
        self._say(
            f"{result.id}  {actor:<24} new {request.type}: {request.title!r} → {result.to_state}", result
        )
        return result.id

    def advance(
        self, actor: str, ticket_id: str, transition: str, note: str | None = None, **sets: str
    ) -> None:
        result = service.advance(self.ctx(actor), ticket_id, transition, sets, note)
        self._say(f"{ticket_id}  {actor:<24} {transition}: {result.from_state} → {result.to_state}", result)

    def refused(self, actor: str, ticket_id: str, transition: str, **sets: str) -> None:
        try:
            service.advance(self.ctx(actor), ticket_id, transition, sets)
        except ErflowError as exc:
            why = exc.message.split(": ", 2)[-1]
            self.report.steps.append(
                f"{ticket_id}  {actor:<24} {transition}: REFUSED (exit {exc.exit_code}): {why}"
            )
            return
        raise AssertionError(f"demo: {transition} should have been refused")  # pragma: no cover

    def _say(self, line: str, result: service.ChangeResult) -> None:
        self.report.steps.append(line)
        for mail in result.emails:
            self.report.steps.append(f"{'':<10}  email {mail.template} to {mail.to}: “{mail.subject}”")


def demo(directory: Path, env: Mapping[str, str]) -> DemoReport:
    """A store with sample tickets walked through the SOP's main paths."""
    root = init_store(directory, env, actor="support@example.com").root
    walk = _Walker(root, env)
    pm, board, nick, dev = "destyn@example.com", "board@example.com", "nick@example.com", "dev@example.com"
    support = "support@example.com"

    walk.report.steps.append("— Non-billable path: intake to closed —")
    a = walk.new(
        support,
        service.NewRequest(
            "enhancement",
            "Export invoices to CSV",
            "Finance wants a CSV export of the invoice list.",
            "Jane Doe",
            "jane@acme.example",
            "Acme Corp",
            {"product": "Billing Portal", "priority": "normal"},
        ),
    )
    walk.refused(support, a, "submit")
    walk.advance(support, a, "submit", business_value="Saves finance 4 hours a week")
    walk.advance(pm, a, "request_info", info_needed="Which columns do you need in the export?")
    walk.advance(pm, a, "info_received", note="Customer replied: date, number, amount, status.")
    walk.advance(
        pm,
        a,
        "approve",
        problem="Invoices can only be viewed on screen",
        scope="CSV download of the filtered invoice list",
        desired_outcome="One-click CSV export",
    )
    walk.advance(board, a, "approve_no_quote", board_rationale="Small, broadly useful")
    walk.advance(nick, a, "schedule")
    walk.advance(pm, a, "plan", iteration="2026-12", target_delivery_window="December 2026")
    walk.advance(
        dev,
        a,
        "start_development",
        projected_delivery_date=(walk.now.date() + dt.timedelta(days=21)).isoformat(),
    )
    walk.refused(dev, a, "complete")
    walk.advance(
        dev,
        a,
        "release",
        live_date=(walk.now.date() + dt.timedelta(days=20)).isoformat(),
        release_notes="Invoices > Export CSV",
    )
    walk.advance(pm, a, "close")

    walk.report.steps.append(
        "— Billable path: quote, SOW, payment, QA, customer validation, ready for billing —"
    )
    b = walk.new(
        support,
        service.NewRequest(
            "enhancement",
            "Single sign-on with Okta",
            "We need SSO for 400 staff.",
            "Raj Patel",
            "raj@globex.example",
            "Globex",
            {"product": "Portal", "priority": "high", "business_value": "Required for the renewal"},
        ),
    )
    walk.advance(support, b, "submit")
    walk.advance(
        pm,
        b,
        "approve",
        problem="Staff manage separate passwords",
        scope="SAML SSO with Okta",
        desired_outcome="Staff sign in with Okta",
    )
    walk.advance(board, b, "approve_for_quote", board_rationale="Customer-specific, billable")
    walk.refused(pm, b, "quote")
    walk.advance(nick, b, "quote")
    walk.advance(
        pm,
        b,
        "scope_confirmed",
        scope_baseline="SAML 2.0 SSO, one IdP",
        acceptance_criteria="Staff sign in via Okta; local login disabled",
        assumptions="Customer provides IdP metadata",
    )
    walk.advance(nick, b, "estimated", estimate_hours="60")
    walk.advance("sales@example.com", b, "quote_accepted", quote_amount="9000")
    walk.advance(
        "contracts@example.com",
        b,
        "sow_signed",
        sow_link="https://contracts.example.com/sow/globex-sso",
        payment_required="true",
    )
    walk.advance("accounting@example.com", b, "payment_confirmed", payment_reference="INV-2291 paid")
    walk.advance(pm, b, "plan", iteration="2027-01", target_delivery_window="January 2027")
    walk.advance(
        pm,
        b,
        "start_development",
        projected_delivery_date=(walk.now.date() + dt.timedelta(days=45)).isoformat(),
    )
    walk.advance(dev, b, "complete")
    walk.advance("qa@example.com", b, "qa_passed", qa_notes="All acceptance criteria pass")
    walk.advance(
        pm,
        b,
        "release",
        customer_confirmation="Raj confirmed on the demo call",
        live_date=(walk.now.date() + dt.timedelta(days=44)).isoformat(),
        release_notes="SSO via Okta",
    )
    walk.advance(pm, b, "mark_ready_for_billing")

    walk.report.steps.append("— Declined by leadership; one waiting for PM review —")
    c = walk.new(
        support,
        service.NewRequest(
            "enhancement",
            "Dark mode",
            None,
            "Kim Lee",
            "kim@initech.example",
            "Initech",
            {"product": "Portal", "priority": "low", "business_value": "Nicer at night"},
        ),
    )
    walk.advance(support, c, "submit")
    walk.advance(
        pm, c, "approve", problem="Bright UI at night", scope="Dark theme", desired_outcome="Theme switch"
    )
    walk.advance(board, c, "approve_no_quote", board_rationale="Popular ask")
    walk.advance(nick, c, "decline", decline_reason="A full redesign next year replaces the current theme")
    d = walk.new(
        support,
        service.NewRequest(
            "enhancement",
            "Bulk user import",
            "Import users from a spreadsheet.",
            "Ana Ruiz",
            "ana@umbrella.example",
            "Umbrella",
            {"product": "Admin", "priority": "normal", "business_value": "Onboarding 2,000 users"},
        ),
    )
    walk.advance(support, d, "submit")
    return walk.report
