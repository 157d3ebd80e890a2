"""``erflow demo``: a store with sample tickets walked through the SOPs' main paths, dated so that the
story ends now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.app import advance as advancing
from erflow.app import create, edit
from erflow.app import sweep as sweeping
from erflow.app.context import Context, resolve_now
from erflow.app.emails import EmailResult
from erflow.app.setup import init_store
from erflow.app.transaction import ChangeResult
from erflow.core.errors import ErflowError
from erflow.store import tickets as store


@dataclass
class DemoReport:
    root: Path
    steps: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"store": str(self.root), "tickets": self.tickets, "steps": self.steps}


FINALE_STEP = dt.timedelta(minutes=20)


class Finale:
    """When the story's last part is played: from step ``first`` on (the steps after its last jump of
    days), ``FINALE_STEP`` apart from ``start``, so that the last step is ``FINALE_STEP`` before now."""

    __slots__ = ("first", "start")

    def __init__(self, first: int, start: dt.datetime) -> None:
        self.first = first
        self.start = start


class _Walker:
    """Plays the people of the SOPs, one command each, and records what happened.

    Each step takes an hour of a 09:00-17:00 day from ``start``, and ``later`` jumps days, so that the
    history, the ages and the timers read like a real fortnight; the ``finale``'s steps are taken
    today, the last of them minutes ago (``demo`` finds both with ``_Timing``)."""

    def __init__(
        self, root: Path, env: Mapping[str, str], start: dt.datetime, finale: Finale | None = None
    ) -> None:
        self.root = root
        self.env = env
        self.report = DemoReport(root)
        self.now = start
        self.finale = finale
        self.steps = 0
        self.last_jump = 0  # the steps taken before the last jump of days
        self.jumped_to = start  # where the last jump of days landed

    def tick(self) -> dt.datetime:
        """The time of the next step; the clock moves on."""
        finale = self.finale
        if finale is not None and self.steps >= finale.first:
            self.now = finale.start + (self.steps - finale.first) * FINALE_STEP
        when = self.now
        self.steps += 1
        self.now += dt.timedelta(hours=1)
        if self.now.hour >= 17:
            self.now = (self.now + dt.timedelta(days=1)).replace(hour=9)
        return when

    def ctx(self, actor: str) -> Context:
        return Context(store.Store(self.root), actor, self.tick(), self.env)

    def later(self, days: int) -> None:
        self.now += dt.timedelta(days=days)
        self.last_jump = self.steps
        self.jumped_to = self.now

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

        ctx = self.ctx(sender)
        message = EmailMessage()
        message["From"] = f"{name} <{sender}>"
        message["To"] = self.ctx_workflow_address()
        message["Subject"] = f"Re: [{ticket_id}] Additional Details Requested"
        message["Date"] = format_datetime(ctx.now)
        message["Message-ID"] = f"<reply-{ticket_id.lower()}@acme.example>"
        quoted = (
            "On the day before, Destyn Dagle <destyn@example.com> wrote:\n> We need a bit more information."
        )
        message.set_content(f"{text}\n\n{quoted}\n")
        result = inbound.receive(ctx, message.as_bytes(), where="demo mail")
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
        ctx = self.ctx(sweeping.SWEEP_ACTOR)
        when = ctx.now.isoformat(timespec="minutes")
        actions = sweeping.sweep(ctx)
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


class _Timing(_Walker):
    """The story played without a store: each step only moves the clock, to learn where it ends."""

    def new(self, actor: str, request: create.NewRequest) -> str:
        self.tick()
        return f"{request.type}-{self.steps}"

    def advance(
        self, actor: str, ticket_id: str, transition: str, note: str | None = None, **sets: str
    ) -> None:
        self.tick()

    def customer_reply(self, ticket_id: str, sender: str, name: str, text: str) -> None:
        self.tick()

    def refused(self, actor: str, ticket_id: str, transition: str, **sets: str) -> None:
        self.tick()

    def log_time(self, actor: str, ticket_id: str, hours: str) -> None:
        self.tick()

    def sweep(self) -> None:
        self.tick()

    def reminders(self, person: str, shown: int = 5) -> None:
        self.tick()


def demo(directory: Path, env: Mapping[str, str]) -> DemoReport:
    """A store with sample tickets walked through the SOPs' main paths, its last steps minutes ago."""
    start, finale = _timing(env)
    root = init_store(directory, env, actor="support@example.com").root
    walk = _Walker(root, env, start, finale)
    _story(walk)
    return walk.report


def _timing(env: Mapping[str, str]) -> tuple[dt.datetime, Finale]:
    """Where the story starts, and its finale, for it to end now: the story is played first without
    a store (``_Timing``). The days before the finale keep their 09:00-17:00 steps, placed as late as
    lets the finale come after the last jump of days."""
    now = resolve_now(env).replace(second=0, microsecond=0)
    anchor = (now - dt.timedelta(days=30)).replace(hour=9, minute=0)
    rehearsal = _Timing(Path(), env, anchor)
    _story(rehearsal)
    finale = Finale(rehearsal.last_jump, now - (rehearsal.steps - rehearsal.last_jump) * FINALE_STEP)
    return anchor + dt.timedelta(days=(finale.start - rehearsal.jumped_to).days), finale


def _story(walk: _Walker) -> None:
    """What the people do, in order: the finale (after the last jump of days) is what happened today."""
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

    _other_types(walk)
    walk.report.steps.append("— Today: declined by leadership; a new request waits for PM review —")
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
    walk.report.steps.append("— What waits on whom now —")
    walk.reminders(pm)


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
