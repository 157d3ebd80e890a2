#!/usr/bin/env python3
"""erflow benchmark: build stores of N tickets with realistic git history, time erflow on them.

    python bench/bench.py --sizes 1000,10000 [--runs 5] [--out bench/results.md] [--keep DIR] [--reuse]

A store is built without running erflow N times: ``erflow.app.setup.init_store`` makes the skeleton,
then one ``git fast-import`` stream writes every ticket's history. Each ticket walks real
transitions of the enhancement type (``erflow.core.engine`` judges and plans every step, as
``erflow advance`` would), its file is written by ``erflow.store.ticketfile.serialize`` and its commit
message by ``erflow.store.commits.Change``.
Then every command is timed as a whole process (wall time, median and min of the runs, and the
peak RSS of the process and the git processes it waited for). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess  # noqa: TID251 - the benchmark drives git and erflow as whole processes
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import erflow
from erflow.app.setup import init_store
from erflow.core import conditions, engine, model
from erflow.core.errors import ErflowError
from erflow.core.model import Ticket
from erflow.core.workflow import TicketType, Transition, Workflow
from erflow.store import ticketfile, workflow_file
from erflow.store import tickets as store
from erflow.store.commits import Change

HERE = Path(__file__).resolve().parent
DEFAULT_STORES = HERE / "stores"
TICKET_TYPE = "enhancement"
# Terminal states that end a request without delivering it; a walk takes them rarely.
REFUSALS = frozenset({"declined", "cancelled"})
CREATOR_WEIGHTS = {"support": 8, "pm": 1, "sales": 1}
NOTE_SHARE = 0.08  # share of a ticket's later commits that are notes rather than transitions
SPAN_DAYS = 720  # the simulated history covers about two years, ending before today
MANIFEST_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Plausible values

ORGS = (
    "Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Soylent", "Vandelay Industries",
    "Stark Logistics", "Wayne Freight", "Cyberdyne", "Tyrell Labs", "Wonka Foods", "Oscorp",
    "Gringotts Finance", "Monarch Health", "Pied Piper", "Dunder Mifflin", "Prestige Worldwide",
    "Nakatomi Trading", "Blue Sun", "Massive Dynamic",
    "Aperture Science", "Black Mesa", "Virtucon", "Bluth Company", "Sterling Cooper", "Kramerica",
    "Gekko & Co", "Rekall", "Weyland Systems",
)  # fmt: skip
FIRST = (
    "Jane", "Raj", "Kim", "Ana", "Luis", "Mei", "Omar", "Sara", "Tom", "Ines", "Yuki", "Olga", "Ben", "Amara",
    "Chen", "Fatima", "Jonas", "Priya", "Noah", "Lena",
)  # fmt: skip
LAST = (
    "Doe", "Patel", "Lee", "Ruiz", "Garcia", "Wong", "Haddad", "Novak", "Berg", "Silva", "Tanaka", "Ivanova",
    "Okafor", "Schmidt", "Rossi", "Khan", "Murphy", "Larsen",
)  # fmt: skip
PRODUCTS = (
    "Billing Portal", "Portal", "Admin", "Mobile App", "Reporting", "Public API", "Integrations", "Scheduler",
    "Inventory", "CRM Sync",
)  # fmt: skip
TITLE_FORMS = (
    "Export {thing} to {fmt}", "Bulk import of {thing}", "Filter {thing} by {attr}",
    "Search {thing} by {attr}", "Email alerts for overdue {thing}", "Archive old {thing}",
    "Audit log for {thing}", "Dark mode for {product}",
    "Single sign-on with {idp}", "Show {attr} on {thing}", "Scheduled report of {thing}",
    "Faster loading of {thing}", "API endpoint for {thing}", "Custom fields on {thing}",
)  # fmt: skip
THINGS = (
    "invoices", "users", "orders", "shipments", "contracts", "tickets", "payments", "assets", "projects",
    "timesheets", "vendors", "quotes",
)  # fmt: skip
ATTRS = ("status", "date range", "region", "owner", "customer", "tag", "amount", "due date")
FORMATS = ("CSV", "Excel", "PDF", "JSON")
IDPS = ("Okta", "Azure AD", "Google Workspace", "OneLogin")
DESCRIPTIONS = (
    "Finance wants this for the month-end close.",
    "Our team does this by hand every week; it takes most of a day.",
    "We need this before our renewal in the spring.",
    "Several of our regional offices have asked for it.",
    "Auditors asked for this during the last review.\n\nA spreadsheet would be fine for a first version.",
    "",
)
TEXTS: dict[str, tuple[str, ...]] = {
    "business_value": (
        "Saves finance about 4 hours a week", "Required for the renewal", "Unblocks 400 staff",
        "Cuts support tickets on this by half", "Asked for by several large customers",
        "Needed for the audit in Q3",
    ),
    "problem": (
        "Invoices can only be viewed on screen", "Staff manage separate passwords",
        "Reports take hours to assemble by hand", "No way to change many records at once",
        "Exports time out on large accounts", "Overdue items are noticed too late",
    ),
    "scope": (
        "CSV download of the filtered list", "SAML SSO with one identity provider",
        "A nightly scheduled report", "Bulk edit of status and owner", "Background export with an email link",
        "Daily digest email",
    ),
    "desired_outcome": (
        "One-click export", "Staff sign in with their company account", "The report arrives before 8am",
        "Hundreds of records changed in one step", "Exports of any size complete", "Nothing slips past due",
    ),
    "info_needed": (
        "Which columns do you need in the export?", "How many users would use this?",
        "Can you share a sample file?", "Which browser and version do your staff use?",
        "Is this needed for all offices or one region?",
    ),
    "board_rationale": (
        "Small, broadly useful", "Customer-specific, billable", "Popular ask", "Fits the roadmap",
        "Strategic account", "Low effort, high value",
    ),
    "decline_reason": (
        "A full redesign next year replaces this area", "Too specific to one customer",
        "Conflicts with the security policy", "Covered by an existing report",
    ),
    "return_feedback": (
        "Please clarify the expected volume", "Split this into smaller requests",
        "Add the customer's acceptance criteria",
    ),
    "scope_baseline": ("First release as described in the request", "One integration, one environment"),
    "acceptance_criteria": (
        "Staff sign in via the IdP; local login disabled", "Export matches the on-screen list",
        "Report delivered daily before 8am",
    ),
    "assumptions": ("Customer provides test data", "Customer provides IdP metadata", "No data migration"),
    "qa_notes": (
        "All acceptance criteria pass", "Regression suite green", "Checked on staging with sample data",
    ),
    "release_notes": ("Available under Settings", "Enabled for all accounts", "See the help centre article"),
    "change_description": (
        "Customer asked to add two more columns", "Second identity provider added",
        "Delivery moved one sprint",
    ),
    "change_customer_approval": ("Approved by email", "Approved on the weekly call"),
}  # fmt: skip
NOTES = (
    "Customer called to ask about status.",
    "Discussed on the weekly review; no change.",
    "Customer sent screenshots of the current workaround.",
    "Linked the related support conversation.",
    "Waiting for the customer's IT team.\nThey expect to reply next week.",
)
CHANGE_NOTES = ("Customer asked for a change during the work.", "Scope adjusted after the demo.")


# ---------------------------------------------------------------------------------------------
# Walking tickets through the workflow, as people using erflow would


@dataclass
class Commit:
    """One commit of the generated history: one ticket file's new content."""

    path: str
    content: str
    message: str
    when: dt.datetime
    author_name: str
    author_email: str


@dataclass
class TicketWalk:
    """A ticket on its way through the workflow: its current file and how far it may go."""

    ticket: Ticket
    order: int  # the how-manyth ticket created
    budget: int  # commits this ticket gets, creation included
    commits: int = 0


class Generator:
    """Makes each ticket's next commit with erflow's own engine, store format and messages."""

    def __init__(self, root: Path, wf: Workflow, rng: random.Random, commits: tuple[int, int]) -> None:
        self.root = root
        self.wf = wf
        self.rng = rng
        self.commits = commits
        self.type: TicketType = wf.type(TICKET_TYPE)
        self.fields = list(self.type.fields)
        self.ids: set[str] = set()
        self.finished: list[tuple[str, str, int, int]] = []
        self.creators = [
            (p.email, CREATOR_WEIGHTS[r]) for p in wf.people.values() for r in p.roles if r in CREATOR_WEIGHTS
        ]

    # -- values -------------------------------------------------------------------------------

    def _text(self, name: str) -> str:
        return self.rng.choice(TEXTS.get(name, ("See the attached notes",)))

    def value(self, name: str, ticket: Ticket, when: dt.datetime) -> Any:
        declared = self.type.field(name)
        kind = declared.type if declared else "text"
        if name == "customer_email":
            domain = str(ticket.meta.get("customer", "acme")).split()[0].lower()
            return f"{self.rng.choice(FIRST).lower()}@{domain}.example"
        if name in ("estimate_hours", "change_estimate_hours"):
            return self.rng.choice((8, 16, 24, 40, 60, 80, 120, 200))
        if name == "quote_amount":
            return int(ticket.meta.get("estimate_hours", 40)) * 150
        if kind == "enum" and declared is not None:
            return self.rng.choice(declared.values)
        if kind == "number":
            return self.rng.randint(1, 100)
        if kind == "bool":
            return self.rng.random() < 0.4
        if kind == "date":
            return (when.date() + dt.timedelta(days=self.rng.randint(7, 90))).isoformat()
        if kind == "url":
            return f"https://contracts.example.com/{name.replace('_', '-')}/{ticket.id.lower()}"
        if kind == "list" and declared is not None:
            return self.rng.sample(list(declared.values), self.rng.randint(1, 2)) if declared.values else []
        if name == "iteration":
            return f"{when.year}-{when.month:02d}"
        if name == "target_delivery_window":
            return (when + dt.timedelta(days=60)).strftime("%B %Y")
        if name == "payment_reference":
            return f"INV-{self.rng.randint(1000, 9999)} paid"
        if name == "customer_confirmation":
            return "Customer confirmed on the review call"
        return self._text(name)

    def _title(self) -> str:
        form = self.rng.choice(TITLE_FORMS)
        return form.format(
            thing=self.rng.choice(THINGS),
            fmt=self.rng.choice(FORMATS),
            attr=self.rng.choice(ATTRS),
            product=self.rng.choice(PRODUCTS),
            idp=self.rng.choice(IDPS),
        )

    def _person(self, roles: Sequence[str]) -> str:
        people = sorted({p.email for r in roles for p in self.wf.people_with_role(r)})
        return self.rng.choice(people)

    # -- commits ------------------------------------------------------------------------------

    def new_walk(self, order: int) -> TicketWalk:
        while True:
            ticket_id = f"{self.type.prefix}-{store.new_code()}"
            if ticket_id not in self.ids:
                self.ids.add(ticket_id)
                break
        meta: dict[str, Any] = {"id": ticket_id, "type": self.type.name}
        return TicketWalk(Ticket(meta), order, self.rng.randint(*self.commits))

    def step(self, walk: TicketWalk, when: dt.datetime) -> Commit | None:
        """The walk's next commit, or None when it is done."""
        if walk.commits == 0:
            return self._create(walk, when)
        state = self.type.states[walk.ticket.state]
        if walk.commits >= walk.budget or state.terminal:
            return None
        if self.rng.random() < NOTE_SHARE:
            return self._note(walk, when)
        return self._advance(walk, when) or self._note(walk, when)

    def _commit(self, walk: TicketWalk, change: Change, when: dt.datetime) -> Commit:
        walk.commits += 1
        walk.ticket.meta["updated"] = model.timestamp(when)
        person = self.wf.people[change.actor]
        path = Path(store.Store(self.root).path_for(walk.ticket.id)).relative_to(self.root).as_posix()
        content = ticketfile.serialize(walk.ticket, self.fields)
        return Commit(path, content, change.message(), when, person.name, person.email)

    def _create(self, walk: TicketWalk, when: dt.datetime) -> Commit:
        emails, weights = zip(*self.creators, strict=True)
        actor = self.rng.choices(emails, weights)[0]
        ticket = walk.ticket
        org = self.rng.choice(ORGS)
        title = self._title()
        meta = ticket.meta
        meta.update(title=title, state=self.type.initial)
        meta["owner"] = engine.owner_for(self.wf, self.type, self.type.initial, meta)
        meta.update(customer=org, customer_name=f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}")
        meta["customer_email"] = self.value("customer_email", ticket, when)
        meta["priority"] = self.rng.choice(("low", "normal", "normal", "high", "urgent"))
        meta.update(labels=[], links=[], created=model.timestamp(when), updated=model.timestamp(when))
        meta["product"] = self.rng.choice(PRODUCTS)
        if self.rng.random() < 0.7:
            meta["business_value"] = self._text("business_value")
        ticket.description = self.rng.choice(DESCRIPTIONS)
        ticket.add_entry("Notes", model.entry(when, f"{actor}: created in {self.type.initial}"))
        self._log_emails(ticket, self.type.create.emails, when)
        return self._commit(
            walk, Change(ticket.id, "new", actor, None, None, ticket.state, summary=title), when
        )

    def _note(self, walk: TicketWalk, when: dt.datetime) -> Commit:
        actor = self._person(["pm", "support"])
        text = self.rng.choice(NOTES)
        ticket = walk.ticket
        ticket.add_entry("Notes", model.entry(when, f"{actor}: note", text))
        return self._commit(
            walk, Change(ticket.id, "note", actor, None, ticket.state, ticket.state, text=text), when
        )

    def _advance(self, walk: TicketWalk, when: dt.datetime) -> Commit | None:
        ticket = walk.ticket
        options = self.type.transitions_from(ticket.state)
        self.rng.shuffle(options)
        # Forward moves first; a refusal or a change request only now and then.
        options.sort(key=lambda t: (self._rare(t, ticket.state) and self.rng.random() > 0.1, 0))
        for transition in options:
            sets = self._inputs(transition, ticket, when)
            actor = self._person(transition.roles)
            note = self.rng.choice(CHANGE_NOTES) if transition.note == "required" else None
            try:
                plan = engine.plan(self.wf, self.type, ticket.meta, transition.name, actor, sets, note)
            except ErflowError:
                continue
            before_state = ticket.state
            ticket.meta = {k: v for k, v in plan.values.items() if v is not None}
            head = f"{actor}: {transition.name} ({plan.from_state} → {plan.to_state})"
            changed = {k: v for k, v in plan.changes.items() if k not in ("state", "owner")}
            if changed:
                head += "; " + ", ".join(f"{k}={model.brief(v[1])}" for k, v in changed.items())
            ticket.add_entry("Notes", model.entry(when, head, note or ""))
            self._log_emails(ticket, plan.emails, when)
            change = Change(
                ticket.id, "advance", actor, transition.name, before_state, plan.to_state, text=note or ""
            )
            return self._commit(walk, change, when)
        return None

    def _rare(self, transition: Transition, state: str) -> bool:
        targets = transition.targets(state)
        return transition.note == "required" or any(t in REFUSALS for t in targets) or targets == [state]

    def _inputs(self, transition: Transition, ticket: Ticket, when: dt.datetime) -> dict[str, Any]:
        """Values for every field the transition's gate needs and the ticket lacks."""
        sets: dict[str, Any] = {}
        for requirement in transition.requires:
            merged = {**ticket.meta, **sets}
            if requirement.when is not None and not conditions.holds(
                requirement.when, merged, self.wf.policies
            ):
                continue
            for name in requirement.fields:
                if transition.fresh or not conditions.is_set(ticket.meta.get(name)):
                    sets[name] = self.value(name, ticket, when)
        if transition.name == "sow_signed":
            sets["payment_required"] = self.rng.random() < 0.4
        return sets

    def _log_emails(self, ticket: Ticket, specs: Sequence[Any], when: dt.datetime) -> None:
        for spec in specs:
            subject = f"Enhancement Request {ticket.id} - {spec.template.replace('_', ' ').title()}"
            to = ticket.meta.get("customer_email", "")
            head = f"email {spec.template} to {to}: “{subject}” (not sent)"
            ticket.add_entry("Communications", model.entry(when, head))


def interleave(
    gen: Generator, count: int, start: dt.datetime, mean_step: float, latest: dt.datetime
) -> Iterator[Commit]:
    """Every ticket's commits, interleaved: a random ticket of a sliding pool of open ones moves next.

    ``count`` tickets in all; the pool holds about count/20 (20 to 2,000) at a time, so a ticket's
    commits are spread over weeks of simulated time among other tickets' commits. Timestamps
    strictly increase, by exponential gaps of ``mean_step`` seconds on average, and past ``latest``
    (never reached unless the estimate of the number of commits was far off) by one second.
    """
    rng = gen.rng
    pool_size = max(20, min(2000, count // 20))
    pool: list[TicketWalk] = []
    created = 0
    clock = start
    while pool or created < count:
        while len(pool) < pool_size and created < count:
            pool.append(gen.new_walk(created))
            created += 1
        index = rng.randrange(len(pool))
        walk = pool[index]
        gap = max(1, int(rng.expovariate(1 / mean_step)))
        when = clock + dt.timedelta(seconds=gap if clock + dt.timedelta(seconds=gap) < latest else 1)
        commit = gen.step(walk, when)
        if commit is None:
            pool[index] = pool[-1]
            pool.pop()
            gen.finished.append((walk.ticket.id, walk.ticket.state, walk.commits, walk.order))
            continue
        clock = when
        yield commit


# ---------------------------------------------------------------------------------------------
# Building a store


@dataclass
class BuildInfo:
    size: int
    root: Path
    commits: int = 0
    seconds: float = 0.0
    generate_import_seconds: float = 0.0
    checkout_seconds: float = 0.0
    commit_graph: str = "no"
    commit_graph_seconds: float = 0.0
    pack_mb: float = 0.0
    reused: bool = False
    tickets: dict[str, list[Any]] = field(default_factory=dict)  # id -> [state, commits, order]
    commit_span: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "size": self.size,
            "commits": self.commits,
            "seconds": round(self.seconds, 2),
            "generate_import_seconds": round(self.generate_import_seconds, 2),
            "checkout_seconds": round(self.checkout_seconds, 2),
            "commit_graph": self.commit_graph,
            "commit_graph_seconds": round(self.commit_graph_seconds, 2),
            "pack_mb": round(self.pack_mb, 1),
            "commit_span": self.commit_span,
            "tickets": self.tickets,
        }

    @classmethod
    def from_json(cls, root: Path, data: Mapping[str, Any]) -> BuildInfo:
        return cls(
            size=int(data["size"]),
            root=root,
            commits=int(data["commits"]),
            seconds=float(data["seconds"]),
            generate_import_seconds=float(data.get("generate_import_seconds", 0)),
            checkout_seconds=float(data.get("checkout_seconds", 0)),
            commit_graph=str(data.get("commit_graph", "no")),
            commit_graph_seconds=float(data.get("commit_graph_seconds", 0)),
            pack_mb=float(data.get("pack_mb", 0)),
            reused=True,
            tickets=dict(data["tickets"]),
            commit_span=str(data.get("commit_span", "")),
        )


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")


def manifest_path(root: Path) -> Path:
    return root.with_name(root.name + ".json")


def store_root(stores: Path, size: int) -> Path:
    return stores / f"er-{size}"


def _fast_import_commit(commit: Commit, parent: str | None) -> bytes:
    message = commit.message.encode()
    content = commit.content.encode()
    stamp = f"{int(commit.when.timestamp())} +0000"
    who = f"{commit.author_name} <{commit.author_email}> {stamp}"
    head = f"commit refs/heads/main\nauthor {who}\ncommitter {who}\ndata {len(message)}\n".encode()
    tail = f"from {parent}\n" if parent else ""
    tail += f"M 100644 inline {commit.path}\ndata {len(content)}\n"
    return head + message + b"\n" + tail.encode() + content + b"\n"


def build_store(
    root: Path,
    size: int,
    *,
    seed: int,
    commits: tuple[int, int],
    commit_graph: bool,
    log: Callable[[str], None],
) -> BuildInfo:
    """A store of ``size`` tickets at ``root`` (made anew), with its manifest beside it."""
    started = time.perf_counter()
    init_store(root, {}, actor="support@example.com")
    root = root.resolve()
    head = git(root, "rev-parse", "HEAD").strip()
    wf = workflow_file.load(root / store.WORKFLOW)
    rng = random.Random(seed)
    gen = Generator(root, wf, rng, commits)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    begin = now - dt.timedelta(days=SPAN_DAYS)
    # A walk averages a little under (MIN+MAX)/2 commits (some end early at a refusal); aim at 97%
    # of the span so that chance rarely carries the history past yesterday.
    mean_step = 0.97 * SPAN_DAYS * 86400 / (size * sum(commits) / 2)
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=root,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    buffer: list[bytes] = []
    buffered = 0
    count = 0
    parent: str | None = head
    first_when: dt.datetime | None = None
    last_when: dt.datetime | None = None
    try:
        for commit in interleave(gen, size, begin, mean_step, now - dt.timedelta(days=1)):
            chunk = _fast_import_commit(commit, parent)
            parent = None
            first_when = first_when or commit.when
            last_when = commit.when
            buffer.append(chunk)
            buffered += len(chunk)
            count += 1
            if buffered > 1 << 20:
                proc.stdin.write(b"".join(buffer))
                buffer, buffered = [], 0
            if count % 50_000 == 0:
                log(f"  {size}: {count:,} commits streamed ({time.perf_counter() - started:.0f} s)")
        buffer.append(b"done\n")
        proc.stdin.write(b"".join(buffer))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"git fast-import failed: {stderr.strip()}")
    imported = time.perf_counter()
    git(root, "reset", "--hard", "-q")
    checked_out = time.perf_counter()
    graph = "no (--no-commit-graph)"
    if commit_graph:
        git(root, "commit-graph", "write", "--reachable", "--changed-paths")
        graph = "yes (--reachable --changed-paths)"
    done = time.perf_counter()
    info = BuildInfo(size, root, commits=count + 1)
    info.seconds = done - started
    info.generate_import_seconds = imported - started
    info.checkout_seconds = checked_out - imported
    info.commit_graph = graph
    info.commit_graph_seconds = done - checked_out
    info.pack_mb = _pack_mb(root)
    if first_when and last_when:
        info.commit_span = f"{first_when.date()} .. {last_when.date()}"
    info.tickets = {tid: [state, n, order] for tid, state, n, order in gen.finished}
    manifest_path(root).write_text(json.dumps(info.as_json()), encoding="utf-8")
    return info


def _pack_mb(root: Path) -> float:
    out = git(root, "count-objects", "-v")
    values = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return (int(values.get("size-pack", "0")) + int(values.get("size", "0"))) / 1024


def ensure_store(
    stores: Path, size: int, *, reuse: bool, seed: int, commits: tuple[int, int], commit_graph: bool,
    log: Callable[[str], None],
) -> BuildInfo:  # fmt: skip
    root = store_root(stores, size)
    manifest = manifest_path(root)
    if root.exists():
        if reuse and manifest.is_file() and (root / store.WORKFLOW).is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            if data.get("version") == MANIFEST_VERSION:
                log(f"reusing {root} ({data['commits']:,} commits, built in {data['seconds']:.0f} s)")
                return BuildInfo.from_json(root.resolve(), data)
        if not manifest.is_file():
            raise SystemExit(
                f"bench: {root} exists but is not a benchmark store (no {manifest.name}); remove it"
            )
        shutil.rmtree(root)
        manifest.unlink()
    stores.mkdir(parents=True, exist_ok=True)
    log(f"building {root} ({size:,} tickets)...")
    info = build_store(root, size, seed=seed, commits=commits, commit_graph=commit_graph, log=log)
    log(
        f"built {size:,} tickets, {info.commits:,} commits in {info.seconds:.1f} s "
        f"(generate+fast-import {info.generate_import_seconds:.1f} s, "
        f"checkout {info.checkout_seconds:.1f} s, commit-graph {info.commit_graph_seconds:.1f} s)"
    )
    return info


# ---------------------------------------------------------------------------------------------
# Timing whole processes


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    code: int
    stderr: str = ""
    git_seconds: float | None = None  # wall time of the git processes it ran (GIT_TRACE2_EVENT)


# A process's ru_maxrss starts at the RSS of the process it was forked (or vforked) from: the kernel
# carries the old memory's high-water mark across exec. So the timed commands are started by this
# small launcher (python -I -S, about 10 MB) rather than by the benchmark, whose RSS grows with the
# store it built; the launcher times them and reports os.wait4's rusage.
LAUNCHER = r"""
import json, os, signal, sys, time

def main():
    devnull = os.open(os.devnull, os.O_RDONLY)
    for line in sys.stdin:
        req = json.loads(line)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        out = os.open(req["stdout"], flags, 0o600)
        err = os.open(req["stderr"], flags, 0o600)
        os.chdir(req["cwd"])
        actions = [(os.POSIX_SPAWN_DUP2, fd, n) for fd, n in ((devnull, 0), (out, 1), (err, 2))]
        started = time.perf_counter()
        try:
            pid = os.posix_spawnp(req["argv"][0], req["argv"], req["env"], file_actions=actions)
        except OSError as exc:
            os.write(err, str(exc).encode())
            print(json.dumps({"seconds": 0.0, "maxrss": 0, "code": 127}), flush=True)
            continue
        finally:
            os.close(out)
            os.close(err)
        signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
        signal.setitimer(signal.ITIMER_REAL, req["timeout"])
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - started
        signal.setitimer(signal.ITIMER_REAL, 0)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"seconds": elapsed, "maxrss": usage.ru_maxrss, "code": code}), flush=True)

main()
"""


class Launcher:
    """Runs commands one at a time through the launcher process; see LAUNCHER."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="erflow-bench-"))
        self.stdout = self.folder / "stdout"
        self.stderr = self.folder / "stderr"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> Sample:
        """Wall time, and peak RSS of the process and the children it waited for (os.wait4)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {
            "argv": list(argv),
            "cwd": str(cwd),
            "env": dict(env),
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
            "timeout": timeout,
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        text = self.stderr.read_text(encoding="utf-8", errors="replace")
        if reply["code"] == -9 and reply["seconds"] >= timeout:
            text = f"timed out after {timeout:.0f} s\n" + text
        return Sample(reply["seconds"], _rss_mb(reply["maxrss"]), reply["code"], text)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _rss_mb(maxrss: int) -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return float(maxrss) * scale / (1024 * 1024)


@dataclass
class Result:
    label: str
    samples: list[Sample] = field(default_factory=list)
    missing: bool = False  # the command does not exist yet (exit 2, "No such command")
    note: str = ""

    @property
    def failed(self) -> Sample | None:
        return next((s for s in self.samples if s.code != 0), None)


@dataclass
class Case:
    """One command to time: how to run it, as whom, and what to do before each run."""

    key: str
    label: str
    argv: Callable[[int], list[str]]  # run number (0 = warm-up) -> argv
    actor: str = "destyn@example.com"
    before: Callable[[int], None] | None = None
    runs: int | None = None  # None: the --runs given
    warmup: bool = True
    trace_git: bool = False  # measure the git processes it runs, through git's own trace2 events
    done: tuple[int, ...] = (0,)  # the exit codes that mean it did its work (plan's 3: it found breakage)


def erflow_cmd() -> list[str]:
    """The console script installed with this Python (not a shim found first on PATH, such as
    pyenv's, which would add its own start-up to every run), else the one on PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        script = Path(folder) / ("erflow.exe" if os.name == "nt" else "erflow")
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    found = shutil.which("erflow")
    return [found] if found else [sys.executable, "-m", "erflow"]


def bench_env(actor: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERFLOW_")}
    env["ERFLOW_USER"] = actor
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def not_implemented(sample: Sample) -> bool:
    """A command (exit 2) or a report (exit 4) that erflow does not have yet."""
    return (sample.code == 2 and "No such command" in sample.stderr) or (
        sample.code == 4 and "no report" in sample.stderr
    )


def time_case(
    launcher: Launcher, case: Case, root: Path, runs: int, timeout: float, log: Callable[[str], None]
) -> Result:
    """Run-up, then the timed runs; stop at the first failure (its exit code is the cell)."""
    result = Result(case.label)
    env = bench_env(case.actor)
    trace = launcher.folder / "trace2.json"
    if case.trace_git:
        env["GIT_TRACE2_EVENT"] = str(trace)
    for number in range(0 if case.warmup else 1, (case.runs or runs) + 1):
        if case.before:
            case.before(number)
        trace.unlink(missing_ok=True)
        sample = launcher.run(case.argv(number), root, env, timeout)
        if case.trace_git:
            sample.git_seconds = git_seconds(trace)
        if not_implemented(sample):
            result.missing = True
            result.samples = [sample]
            break
        if sample.code in case.done:
            sample.code = 0
        if number > 0 or sample.code != 0:
            result.samples.append(sample)
        if sample.code != 0:
            lines = sample.stderr.strip().splitlines()
            result.note = f"exit {sample.code}: {lines[-1] if lines else '(nothing on stderr)'}"
            break
    if case.key == "list" and not result.failed and not result.missing:
        try:
            with launcher.stdout.open(encoding="utf-8") as out:
                result.note = f"{len(json.load(out)):,} tickets listed"
        except ValueError as exc:
            result.note = f"stdout is not JSON: {exc}"
    log(f"  {case.label:<44} {cell(result)}")
    return result


def git_seconds(trace: Path) -> float:
    """The wall time of the git processes a command ran, from git's trace2 event stream: the sum of
    each top-level git process's elapsed time at exit (a child of git, say a hook, is inside its
    parent's time; its session id has a '/')."""
    total = 0.0
    try:
        lines = trace.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0.0
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "exit" and "/" not in str(event.get("sid", "/")):
            total += float(event.get("t_abs", 0.0))
    return total


Profile = tuple[float, list[tuple[str, float, float]]]  # total ms, then (module, own ms, cumulative ms)


def import_profile(info: BuildInfo, probe: str, top: int = 10) -> Profile:
    """`erflow show ID` under `python -X importtime` (PYTHONPROFILEIMPORTTIME): the total import time
    and the ``top`` modules by their own import time, in ms (self, cumulative). Run twice; the
    second run is read, so bytecode is in place as for every later command."""
    env = bench_env("destyn@example.com")
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    argv = [*erflow_cmd(), "show", probe]
    for _ in range(2):
        done = subprocess.run(argv, cwd=info.root, env=env, capture_output=True, text=True)
    rows: list[tuple[str, float, float]] = []
    total = 0.0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # one space: imported by erflow's script itself, not nested
            total += int(cumulative) / 1000
        rows.append((name.strip(), int(own) / 1000, int(cumulative) / 1000))
    rows.sort(key=lambda row: row[1], reverse=True)
    return total, rows[:top]


# ---------------------------------------------------------------------------------------------
# What to time


ADVANCE_RECIPES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # (state the ticket sits in, transition, actor, --set pairs): gates the generated data meets
    ("needs_info", "info_received", "destyn@example.com", ()),
    ("deferred", "reconsider", "board@example.com", ()),
    ("product_board", "approve_no_quote", "board@example.com", ("board_rationale=Benchmark",)),
)


def current_state(root: Path, ticket_id: str) -> str | None:
    try:
        return store.Store(root).read(ticket_id).state
    except Exception:  # noqa: BLE001 - a ticket that cannot be read is simply not a candidate
        return None


def pick_advance(info: BuildInfo, needed: int) -> tuple[tuple[str, str, str, tuple[str, ...]], list[str]]:
    """A recipe and ``needed`` tickets that still sit in its state (earlier runs moved some)."""
    for recipe in ADVANCE_RECIPES:
        state = recipe[0]
        ids = [tid for tid, (s, _, _) in info.tickets.items() if s == state]
        fresh = [tid for tid in ids if current_state(info.root, tid) == state][:needed]
        if len(fresh) >= needed:
            return recipe, fresh
    raise SystemExit(f"bench: no advance recipe has {needed} tickets left in {info.root}; rebuild it")


def pick_probes(info: BuildInfo) -> tuple[str, str]:
    """For show and history, a ticket with the longest history, created mid-way, in a state no advance
    recipe uses; and the next such ticket, which receives the notes made for the incremental audit."""
    busy = {r[0] for r in ADVANCE_RECIPES}
    rows = [
        (n, -abs(order - info.size // 2), tid) for tid, (s, n, order) in info.tickets.items() if s not in busy
    ]
    best = sorted(rows, reverse=True)
    return best[0][2], best[1][2]


TARGETS: dict[str, tuple[str, str]] = {
    "help": ("0.2 s", "0.2 s"),
    "list_cold": ("–", "3 s"),  # issue 16's targets at 100,000; none set at 10,000
    "list": ("0.3 s", "0.3 s"),
    "check": ("–", "3 s"),
    "funnel": ("–", "2 s"),
    "audit": ("–", "20 s"),
    "board": ("0.3 s", "2 s"),
    "show": ("0.3 s", "0.5 s"),
    "advance": ("0.3 s", "0.5 s"),
    "history": ("0.5 s", "1 s"),
    "audit_inc": ("0.5 s", "1 s"),
}
MEMORY_TARGETS = {10_000: 150.0, 100_000: 400.0}
# check and the full audit once took minutes at 100,000 tickets and ran once there; since issue 16
# they take seconds and are timed like every other row (``--single-big`` brings the single run back)
FULL_RUNS_FOR_BIG = True


def cases(info: BuildInfo, runs: int, audit_works: dict[str, bool], log: Callable[[str], None]) -> list[Case]:
    """The commands, in table order; ``audit_works`` is filled in once the full audit has run."""
    erflow = erflow_cmd()
    root = info.root
    probe, bystander = pick_probes(info)
    recipe, advance_ids = pick_advance(info, runs + 1)
    state, transition, advance_actor, pairs = recipe
    sets = [arg for pair in pairs for arg in ("--set", pair)]
    log(f"  show/history probe {probe} ({info.tickets[probe][1]} commits); advance {transition} from {state}")
    big = info.size >= 50_000 and not FULL_RUNS_FOR_BIG
    year_ago = (dt.date.today() - dt.timedelta(days=365)).isoformat()

    def drop_cache(_: int) -> None:
        shutil.rmtree(root / ".erflow", ignore_errors=True)

    def one_new_commit(number: int) -> None:
        if number == 0 or not audit_works.get("audit", False):
            return  # the warm-up run fills the cache; later runs each see one new commit
        env = bench_env("support@example.com")
        argv = [*erflow, "note", bystander, f"bench: one more commit for the incremental audit ({number})"]
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)

    plan_variant = root.with_name(root.name + "-plan.yaml")  # beside the store, not in it

    def write_plan_variant(_: int) -> None:
        """The store's workflow.yaml with every gate requiring the title too and the business
        hours changed: every ticket's gates, timers and SLA clocks are judged under both workflows
        (SLA budgets may become breached: exit 3 counts as done)."""
        text = (
            (root / "workflow.yaml").read_text(encoding="utf-8").replace("requires: [", "requires: [title, ")
        )
        text = text.replace('hours: "09:00-17:00"', 'hours: "08:00-18:00"', 1)
        plan_variant.write_text(text, encoding="utf-8")

    def full_audit(number: int) -> list[str]:
        return [*erflow, "audit", "--full"]

    def audit(number: int) -> list[str]:
        return [*erflow, "audit"]

    return [
        Case("floor", "`python -c pass` (floor)", lambda n: [sys.executable, "-c", "pass"]),
        Case("help", "`erflow --help`", lambda n: [*erflow, "--help"]),
        Case(
            "list_cold",
            "`erflow list --json` (cold: `.erflow/` removed)",
            lambda n: [*erflow, "list", "--json"],
            before=drop_cache,
        ),
        Case("list", "`erflow list --json`", lambda n: [*erflow, "list", "--json"]),
        Case(
            "list_state",
            "`erflow list --state pm_review --json`",
            lambda n: [*erflow, "list", "--state", "pm_review", "--json"],
        ),
        Case("show", "`erflow show ID`", lambda n: [*erflow, "show", probe]),
        Case(
            "advance",
            f"`erflow advance ID {transition}{' ' + ' '.join(sets) if sets else ''}` ({state}, commits)",
            lambda n: [*erflow, "advance", advance_ids[n], transition, *sets],
            actor=advance_actor,
            trace_git=True,
        ),
        Case("history", "`erflow history ID`", lambda n: [*erflow, "history", probe]),
        Case(
            "check",
            "`erflow check`" + (" (1 run)" if big else ""),
            lambda n: [*erflow, "check"],
            runs=1 if big else None,
            warmup=not big,
        ),
        Case(
            "audit",
            "`erflow audit --full` (no cache)" + (" (1 run)" if big else ""),
            full_audit,
            runs=1 if big else None,
            warmup=not big,
        ),
        Case(
            "audit_inc",
            "`erflow audit` (incremental: 1 new commit)",
            audit,
            before=one_new_commit,
            actor="support@example.com",
        ),
        Case("board", "`erflow report board`", lambda n: [*erflow, "report", "board"]),
        Case("aging", "`erflow report aging`", lambda n: [*erflow, "report", "aging"]),
        Case("funnel", "`erflow report funnel` (all history)", lambda n: [*erflow, "report", "funnel"]),
        Case(
            "as_of",
            "`erflow report board --as-of` (a year ago)",
            lambda n: [*erflow, "report", "board", "--as-of", year_ago],
        ),
        Case("sweep", "`erflow sweep --dry-run`", lambda n: [*erflow, "sweep", "--dry-run"]),
        Case(
            "reminders",
            "`erflow reminders --for` the PM `--json`",
            lambda n: [*erflow, "reminders", "--for", "destyn@example.com", "--json"],
        ),
        Case("digest", "`erflow digest --dry-run` (everyone)", lambda n: [*erflow, "digest", "--dry-run"]),
        Case(
            "lint",
            "`erflow workflow lint` (exit 3 with findings counts as done)",
            lambda n: [*erflow, "workflow", "lint"],
            done=(0, 3),
        ),
        Case(
            "plan",
            "`erflow workflow plan NEW` (every gate and the business hours changed)",
            lambda n: [*erflow, "workflow", "plan", str(plan_variant)],
            before=write_plan_variant,
            done=(0, 3),
        ),
    ]


def run_size(
    info: BuildInfo, runs: int, timeout: float, log: Callable[[str], None], only: frozenset[str] = frozenset()
) -> dict[str, Result]:
    audit_works: dict[str, bool] = {}
    todo = [c for c in cases(info, runs, audit_works, log) if not only or c.key in only or c.key == "floor"]
    results: dict[str, Result] = {}
    launcher = Launcher()
    try:
        for case in todo:
            result = time_case(launcher, case, info.root, runs, timeout, log)
            if case.key == "audit":
                audit_works["audit"] = not result.missing and result.failed is None
            results[case.key] = result
    finally:
        launcher.close()
    return results


# ---------------------------------------------------------------------------------------------
# The report


def cell(result: Result) -> str:
    if result.missing:
        return "n/a (not implemented yet)"
    failed = result.failed
    if failed is not None:
        return f"✗ exit {failed.code}"
    times = [s.seconds for s in result.samples]
    peak = max(s.rss_mb for s in result.samples)
    median = statistics.median(times)
    return f"{median:.3f} s (min {min(times):.3f}) / {peak:.0f} MB"


def over_target(key: str, size: int, result: Result) -> bool:
    if result.missing or result.failed or not result.samples:
        return False
    column = {10_000: 0, 100_000: 1}.get(size)
    if column is None:
        return False
    peak = max(s.rss_mb for s in result.samples)
    if key != "floor" and peak > MEMORY_TARGETS[size]:
        return True
    target = TARGETS.get(key)
    if target is None or not target[column][0].isdigit():
        return False
    return statistics.median(s.seconds for s in result.samples) > float(target[column].split()[0])


def git_version() -> str:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return out.removeprefix("git version ")


def erflow_revision() -> str:
    """The commit of the erflow being timed, or the folder it is imported from if not this repo's."""
    repo = HERE.parent
    package = Path(erflow.__file__).resolve().parent
    if package != repo / "erflow":
        return f"from {package}"
    try:
        rev = git(repo, "rev-parse", "--short", "HEAD").strip()
        dirty = git(repo, "status", "--porcelain", "--untracked-files=no", "--", "erflow").strip()
    except (RuntimeError, OSError):
        return "unknown"
    return rev + (" + uncommitted changes in erflow/" if dirty else "")


def _median(result: Result | None) -> float | None:
    if result is None or result.missing or result.failed or not result.samples:
        return None
    return statistics.median(s.seconds for s in result.samples)


def startup_rows(size: int, results: Mapping[str, Result]) -> list[str]:
    """Issue 11's start-up targets, each bound computed from this run's own `python -c pass`."""
    floor = _median(results.get("floor"))
    if floor is None:
        return []
    rows = []

    def row(label: str, measured: float | None, bound: float, how: str) -> None:
        if measured is None:
            rows.append(f"| {size:,} | {label} | – | {bound * 1000:.0f} ms ({how}) | – |")
            return
        verdict = "yes" if measured <= bound else "**no**"
        ms = f"{measured * 1000:.0f} ms"
        rows.append(f"| {size:,} | {label} | {ms} | {bound * 1000:.0f} ms ({how}) | {verdict} |")

    row("`erflow --help`", _median(results.get("help")), 3 * floor, "3 × python")
    row("`erflow show ID`", _median(results.get("show")), 3 * floor + 0.010, "3 × python + 10 ms")
    if size == 10_000:
        row("`erflow list --json`", _median(results.get("list")), 0.100, "fixed")
    advance = results.get("advance")
    wall = _median(advance)
    if advance is not None and wall is not None:
        gits = [s.git_seconds for s in advance.samples if s.git_seconds is not None]
        if gits:
            git = statistics.median(gits)
            own = statistics.median(s.seconds - (s.git_seconds or 0.0) for s in advance.samples)
            row(f"`erflow advance` (git {git * 1000:.0f} ms, erflow's own {own * 1000:.0f} ms)", wall,
                git + 0.040, "its git + 40 ms")  # fmt: skip
    return rows


def render_profile(profiles: Mapping[int, Profile]) -> list[str]:
    lines: list[str] = []
    for size, (total, top) in profiles.items():
        lines += [
            "",
            f"### `erflow show ID` at {size:,}: {total:.1f} ms of imports in all, Python's own included "
            "(`python -X importtime`), "
            "the ten slowest by their own time",
            "",
            "| module | own ms | with its imports ms |",
            "|---|---:|---:|",
            *(f"| `{name}` | {own:.1f} | {cumulative:.1f} |" for name, own, cumulative in top),
        ]
    return lines


def render(
    builds: Sequence[BuildInfo],
    results: Mapping[int, Mapping[str, Result]],
    runs: int,
    command: str,
    profiles: Mapping[int, Profile] | None = None,
) -> str:
    now = dt.datetime.now().astimezone().replace(microsecond=0)
    lines = [
        "# erflow benchmark",
        "",
        f"{now.isoformat()} · nproc {os.cpu_count()} · Python {platform.python_version()} · "
        f"git {git_version()} · {platform.system()} {platform.machine()} · erflow {erflow_revision()} "
        f"(`{' '.join(erflow_cmd())}`)",
        "",
        f"`{command}`",
        "",
        "## Stores",
        "",
        "| tickets | commits | history spans | build | generate + fast-import | checkout | commit-graph "
        "| pack |",
        "|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for b in builds:
        built = f"{b.seconds:.1f} s" + (" (reused)" if b.reused else "")
        lines.append(
            f"| {b.size:,} | {b.commits:,} | {b.commit_span} | {built} | {b.generate_import_seconds:.1f} s "
            f"| {b.checkout_seconds:.1f} s | {b.commit_graph} {b.commit_graph_seconds:.1f} s "
            f"| {b.pack_mb:.0f} MB |"
        )
    sizes = [b.size for b in builds]
    lines += [
        "",
        "## Timings",
        "",
        f"Each command is a whole process run in the store; wall time median (min) of {runs} runs after one "
        "warm-up run, and the peak RSS of the process and the git processes it waited for (`os.wait4`). "
        "⚠: over the issue's target (time, or memory 150 MB at 10k / 400 MB at 100k).",
        "",
        "| command | target 10k / 100k | " + " | ".join(f"{s:,}" for s in sizes) + " |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    keys = list(next(iter(results.values())).keys()) if results else []
    for key in keys:
        label = results[sizes[0]][key].label
        target = " / ".join(TARGETS[key]) if key in TARGETS else ""
        cells = []
        for size in sizes:
            result = results[size][key]
            cells.append(cell(result) + (" ⚠" if over_target(key, size, result) else ""))
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    startup = [row for size in sizes for row in startup_rows(size, results[size])]
    if startup:
        lines += [
            "",
            "## Start-up (issue 11's targets, against this run's `python -c pass`)",
            "",
            "| tickets | command | median | bound | met |",
            "|---:|---|---:|---|---|",
            *startup,
        ]
    lines += render_profile(profiles or {})
    notes = [
        f"- {size:,}: {results[size][key].label}: {results[size][key].note}"
        for size in sizes
        for key in keys
        if results[size][key].note and not results[size][key].missing
    ]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(s < 50 or s > 100_000 for s in sizes):
        raise argparse.ArgumentTypeError("sizes are 50 to 100000 tickets, comma-separated")
    return sizes


def parse_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    pair = (int(low), int(high or low))
    if not 2 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError("expected MIN-MAX commits per ticket, MIN at least 2")
    return pair


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=parse_sizes, default=[1000, 10000], help="default 1000,10000")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (after one warm-up)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="the Markdown report")
    parser.add_argument("--keep", type=Path, default=DEFAULT_STORES, help="folder for the stores")
    parser.add_argument("--reuse", action="store_true", help="reuse a store of the same size built before")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commits", type=parse_range, default=(3, 8), help="commits per ticket, MIN-MAX")
    parser.add_argument("--no-commit-graph", action="store_true", help="skip git commit-graph write")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before one run is killed")
    parser.add_argument("--build-only", action="store_true", help="build (or reuse) the stores, time nothing")
    parser.add_argument(
        "--only", default="", help="time only these rows, by key (help,show,list,advance...); floor always"
    )
    parser.add_argument(
        "--single-big",
        action="store_true",
        help="at 50,000 tickets and more, run check and the full audit once",
    )
    args = parser.parse_args(argv)
    global FULL_RUNS_FOR_BIG
    FULL_RUNS_FOR_BIG = not args.single_big
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    builds: list[BuildInfo] = []
    results: dict[int, dict[str, Result]] = {}
    profiles: dict[int, Profile] = {}
    for size in args.sizes:
        info = ensure_store(
            args.keep, size, reuse=args.reuse, seed=args.seed, commits=args.commits,
            commit_graph=not args.no_commit_graph, log=log,
        )  # fmt: skip
        builds.append(info)
        if not args.build_only:
            log(f"timing {size:,} tickets ({args.runs} runs each)")
            only = frozenset(k.strip() for k in args.only.split(",") if k.strip())
            results[size] = run_size(info, args.runs, args.timeout, log, only)
            profiles[size] = import_profile(info, pick_probes(info)[0])
    if args.build_only:  # nothing timed: the stores are the result
        log(f"built: {', '.join(str(info.root) for info in builds)}")
        return 0
    command = "python bench/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = render(builds, results, args.runs, command.strip(), profiles)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    log(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
