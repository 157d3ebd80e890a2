"""Making stores: ``erflow init`` and ``erflow demo``."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.app import advance as advancing
from erflow.app import create, edit
from erflow.app import sweep as sweeping
from erflow.app.context import Context, resolve_actor, resolve_now
from erflow.app.emails import EmailResult
from erflow.app.transaction import ChangeResult, require_branch
from erflow.core.errors import ErflowError, Refused
from erflow.store import ticketfile
from erflow.store import tickets as store
from erflow.store.commits import Change
from erflow.store.git import Git

DEFAULTS = Path(__file__).parents[1] / "defaults"
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
    if (root / ".git").exists():  # an existing repository: not one in the middle of a rebase, say
        require_branch(git, git.git_dir())
    else:
        git.init()
    shutil.copyfile(DEFAULTS / store.WORKFLOW, root / store.WORKFLOW)
    source = DEFAULTS / store.TEMPLATES
    for template in sorted(source.rglob("*.j2")):  # emails, and documents/ for document templates
        target = root / store.TEMPLATES / template.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
    scenarios = _copy_scenarios(root)
    (root / ticketfile.TICKETS).mkdir(exist_ok=True)
    (root / ticketfile.TICKETS / ".gitkeep").touch()
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
    who = actor or resolve_actor(env, root) or "erflow@localhost"
    paths = [store.WORKFLOW, store.TEMPLATES, *scenarios, f"{ticketfile.TICKETS}/.gitkeep", ".gitignore"]
    change = Change("store", "init", who, summary="default workflow and templates")
    commit = git.commit(paths, change.message().replace("store init", "erflow init", 1), (who, who))
    from erflow.trust.sync import install_driver

    install_driver(git, git.git_dir(), root)
    for key, value in GIT_CONFIG.items():
        git.run("config", key, value)
    git.write_commit_graph()
    return InitResult(root, commit)


def _copy_scenarios(root: Path) -> list[str]:
    """The default workflow's scenario tests (``erflow test``) into scenarios/, as the templates: a
    file already there is kept. Their paths relative to the store, to commit."""
    source = DEFAULTS / SCENARIOS
    copied = []
    for scenario in sorted(source.glob("*.yaml")):
        target = root / SCENARIOS / scenario.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scenario, target)
            copied.append(f"{SCENARIOS}/{scenario.name}")
    return copied


SCENARIOS = "scenarios"  # a store's scenario tests, run by erflow test


# git settings a store gets at init: git keeps its commit-graph (with the changed-path filters
# `history` relies on) up to date when it fetches (sync) and when it collects garbage.
GIT_CONFIG = {
    "core.commitGraph": "true",
    "fetch.writeCommitGraph": "true",
    "gc.writeCommitGraph": "true",
}


@dataclass
class DemoReport:
    root: Path
    steps: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"store": str(self.root), "tickets": self.tickets, "steps": self.steps}


class _Walker:
    """Plays the people of the SOPs, one command each, and records what happened.

    The story starts sixteen days ago at 09:00 and each step takes an hour of the working day, so that
    the history, the ages and the timers read like a real fortnight.
    """

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = env
        self.report = DemoReport(root)
        start = resolve_now(env) - dt.timedelta(days=16)
        self.now = start.replace(hour=9, minute=0, second=0)

    def ctx(self, actor: str) -> Context:
        context = Context(store.Store(self.root), actor, self.now, self.env)
        self.now += dt.timedelta(hours=1)
        if self.now.hour >= 17:
            self.now = (self.now + dt.timedelta(days=1)).replace(hour=9)
        return context

    def later(self, days: int) -> None:
        self.now += dt.timedelta(days=days)

    def owner(self, ticket_id: str) -> str:
        return str(store.Store(self.root).read(ticket_id).meta.get("owner"))

    def new(self, actor: str, request: create.NewRequest) -> str:
        result = create.new(self.ctx(actor), request)
        self.report.tickets.append(result.id)
        head = f"{result.id}  {actor:<24} new {request.type}: {request.title!r} → {result.to_state}"
        self._say(f"{head}, owner {self.owner(result.id)}", result)
        return result.id

    def advance(
        self, actor: str, ticket_id: str, transition: str, note: str | None = None, **sets: str
    ) -> None:
        result = advancing.advance(self.ctx(actor), ticket_id, transition, sets, note)
        self._say(f"{ticket_id}  {actor:<24} {transition}: {result.from_state} → {result.to_state}", result)
        for created in result.created:
            self.report.steps.append(f"{'':<10}  created {created}, linked, owner {self.owner(created)}")

    def customer_reply(self, ticket_id: str, sender: str, name: str, text: str) -> None:
        """The customer answers the desk's email: the message goes through ``erflow mail receive``."""
        from email.message import EmailMessage
        from email.utils import format_datetime

        from erflow.app import inbound

        message = EmailMessage()
        message["From"] = f"{name} <{sender}>"
        message["To"] = self.ctx_workflow_address()
        message["Subject"] = f"Re: [{ticket_id}] Additional Details Requested"
        message["Date"] = format_datetime(self.now)
        message["Message-ID"] = f"<reply-{ticket_id.lower()}@acme.example>"
        quoted = (
            "On the day before, Destyn Dagle <destyn@example.com> wrote:\n> We need a bit more information."
        )
        message.set_content(f"{text}\n\n{quoted}\n")
        result = inbound.receive(self.ctx(sender), message.as_bytes(), where="demo mail")
        line = f"{ticket_id}  {sender:<24} email reply (erflow mail receive) → {result.transition}: "
        self.report.steps.append(line + f"needs_info → {result.to_state}")

    def ctx_workflow_address(self) -> str:
        from erflow.store import workflow_file

        return workflow_file.load(store.Store(self.root).workflow_path).intake.address or "desk@example.com"

    def refused(self, actor: str, ticket_id: str, transition: str, **sets: str) -> None:
        try:
            advancing.advance(self.ctx(actor), ticket_id, transition, sets)
        except ErflowError as exc:
            why = exc.message.split(": ", 2)[-1]
            self.report.steps.append(
                f"{ticket_id}  {actor:<24} {transition}: REFUSED (exit {exc.exit_code}): {why}"
            )
            return
        raise AssertionError(f"demo: {transition} should have been refused")  # pragma: no cover

    def log_time(self, actor: str, ticket_id: str, hours: str) -> None:
        edit.log_time(self.ctx(actor), ticket_id, hours, billable=True, note="Fixing the export")
        self.report.steps.append(f"{ticket_id}  {actor:<24} log-time {hours} h billable")

    def sweep(self) -> None:
        when = self.now.isoformat(timespec="minutes")
        actions = sweeping.sweep(self.ctx(sweeping.SWEEP_ACTOR))
        self.report.steps.append(f"{'':<10}  erflow sweep --now {when}: {len(actions)} due")
        for action in actions:
            moved = (
                f": {action.from_state} → {action.to_state}" if action.from_state != action.to_state else ""
            )
            status = "" if action.done else f" (not done: {action.reason})"
            self.report.steps.append(f"{action.ticket}  {'(timer)':<24} {action.name}{moved}{status}")
            self._mails(action.emails, action.notifications)

    def _say(self, line: str, result: ChangeResult) -> None:
        self.report.steps.append(line)
        self._mails(result.emails, result.notifications)

    def _mails(self, emails: Sequence[EmailResult], notices: Sequence[EmailResult]) -> None:
        for mail in emails:
            self.report.steps.append(f"{'':<10}  email {mail.template} to {mail.to}: “{mail.subject}”")
        for mail in notices:
            line = f"staff notification {mail.template} to {mail.to}: “{mail.subject}”"
            self.report.steps.append(f"{'':<10}  {line}")

    def reminders(self, person: str, shown: int = 5) -> None:
        """What waits on a person at the end of the story, as ``erflow reminders --for`` lists it."""
        from erflow.app.reminders import reminders

        found = reminders(self.ctx(person), person)
        self.report.steps.append(f"{'':<10}  erflow reminders --for {person}: {len(found.rows)} waiting")
        for row in found.rows[:shown]:
            then = f"; next: {row.next}" if row.next else ""
            self.report.steps.append(f"{'':<10}    {row.id:<10} {row.kind:<9} {row.why}{then}")


def demo(directory: Path, env: Mapping[str, str]) -> DemoReport:
    """A store with sample tickets walked through the SOP's main paths."""
    root = init_store(directory, env, actor="support@example.com").root
    walk = _Walker(root, env)
    pm, board, nick, dev = "destyn@example.com", "board@example.com", "nick@example.com", "dev@example.com"
    support = "support@example.com"

    walk.report.steps.append("— Non-billable path: intake to closed —")
    a = walk.new(
        support,
        create.NewRequest(
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
    walk.customer_reply(a, "jane@acme.example", "Jane Doe", "We need the date, number, amount and status.")
    walk.advance(
        pm,
        a,
        "approve",
        config_checked="true",
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
        create.NewRequest(
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
        config_checked="true",
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
        create.NewRequest(
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
        pm, c, "approve", config_checked="true", problem="Bright UI at night", scope="Dark theme",
        desired_outcome="Theme switch",
    )  # fmt: skip
    walk.advance(board, c, "approve_no_quote", board_rationale="Popular ask")
    walk.advance(nick, c, "decline", decline_reason="A full redesign next year replaces the current theme")
    d = walk.new(
        support,
        create.NewRequest(
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
    _other_types(walk)
    walk.report.steps.append("— What waits on whom at the end of the fortnight —")
    walk.reminders(pm)
    return walk.report


def _other_types(walk: _Walker) -> None:
    """The other seeds' request types: a critical bug, a support request that turns out to be a
    defect, and a document change whose customer goes quiet, moved on by the timers."""
    support, pm, dev, oncall = (
        "support@example.com",
        "destyn@example.com",
        "dev@example.com",
        "oncall-a@example.com",
    )
    walk.report.steps.append("— A critical bug: straight to on-call, fixed, the loop closed —")
    bug = walk.new(
        support,
        create.NewRequest(
            "bug", "Checkout fails for every card payment", "No card payment went through after the release.",
            "Raj Patel", "raj@globex.example", "Globex", {"severity": "critical"},
        ),
    )  # fmt: skip
    walk.advance(oncall, bug, "escalate_on_call")
    walk.advance(oncall, bug, "resolve", resolution_notes="Rolled back the payment gateway configuration")
    walk.advance(pm, bug, "close")

    walk.report.steps.append("— A support request: classified, estimated, invoiced, paid, worked; a defect —")
    request = walk.new(
        support,
        create.NewRequest(
            "support", "Nightly export fails", "The nightly invoice export stops halfway.",
            "Jane Doe", "jane@acme.example", "Acme Corp", {"priority": "high"},
        ),
    )  # fmt: skip
    walk.advance(pm, request, "classify", classification="Bug Fix", product="Billing Portal")
    walk.advance(pm, request, "scope_confirmed", scope_summary="Exports of any size complete overnight")
    walk.advance("jesus@example.com", request, "estimated", estimate_hours="6")
    walk.advance(
        pm, request, "invoice_sent", hourly_rate="150", invoice_reference="INV-2291", invoice_amount="900"
    )
    walk.advance("accounting@example.com", request, "payment_received", payment_reference="Wire 7781")
    walk.advance(dev, request, "start_work")
    walk.log_time(dev, request, "5")
    walk.advance(
        dev, request, "resolve", resolution="defect", defect_severity="high",
        resolution_notes="The export times out on large accounts",
    )  # fmt: skip

    walk.report.steps.append("— A document change: eligible, configured, then the customer goes quiet —")
    doc = walk.new(
        support,
        create.NewRequest(
            "doc_change", "Document Survey: Acme Corp", "Add our financing addendum.", "Jane Doe",
            "jane@acme.example", "Acme Corp",
            {"subscription": "Pro", "document_count": "1", "requester_role": "org_admin",
             "wants_to_test": "true"},
        ),
    )  # fmt: skip
    walk.advance(support, doc, "check_eligibility")
    walk.advance(support, doc, "needs_configuration")
    walk.advance("ana@example.com", doc, "ready_to_test")
    walk.later(3)
    walk.sweep()
    walk.later(1)
    walk.sweep()
