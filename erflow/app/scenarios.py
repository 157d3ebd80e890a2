"""Running scenario tests (erflow/core/scenario.py): each in a throwaway copy of the store, in process.

One base store is made per run in a temp folder (``erflow init``, then the store's own workflow.yaml
and templates committed over the defaults); each scenario plays on a copy of it, with the clock pinned
to the scenario's ``now``, through the same app functions the commands call. The real store is only
read (its workflow.yaml and templates/); nothing of a run is left behind.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from erflow.app import advance as advancing
from erflow.app import create, edit
from erflow.app.context import Context
from erflow.core import scenario as spec
from erflow.core.errors import ErflowError, UsageError
from erflow.core.scenario import Expect, Scenario, Step, plain
from erflow.core.workflow import Workflow
from erflow.store import tickets as store
from erflow.store.git import Git

SCENARIOS = "scenarios"  # as erflow.app.setup.SCENARIOS: the folder ``erflow test`` reads by default


@dataclass
class Failure:
    """Why a scenario failed: the step (its line in the file), and what was expected against what
    happened, one line each."""

    step: str
    line: int
    lines: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "line": self.line, "diff": self.lines}


@dataclass
class Outcome:
    scenario: Scenario
    failure: Failure | None = None
    taken: list[tuple[str, str, str]] = field(default_factory=list)  # (type, transition, from state)

    @property
    def passed(self) -> bool:
        return self.failure is None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "file": str(self.scenario.file),
            "line": self.scenario.line,
            "status": "passed" if self.passed else "failed",
            "failure": self.failure.as_json() if self.failure else None,
            "transitions": [list(item) for item in self.taken],
        }


def find(directory: Path, workflow: Workflow, keyword: str | None = None) -> list[Scenario]:
    """The scenarios of every ``*.yaml`` under ``directory`` (sorted by path), those whose name
    contains ``keyword`` (any case) when given. A bad file raises UsageError naming file:line."""
    found: list[Scenario] = []
    for path in sorted(directory.rglob("*.yaml")):
        found += spec.load_file(path, workflow)
    if keyword:
        found = [s for s in found if keyword.lower() in s.name.lower()]
    return found


@contextlib.contextmanager
def base_store(
    source: store.Store, workflow: Path | None = None, templates: Path | None = None
) -> Iterator[Path]:
    """A fresh store in a temp folder with ``source``'s workflow.yaml and templates (or the
    ``workflow`` file and ``templates`` folder given: a change not applied yet), committed; removed at
    the end."""
    from erflow.app.setup import init_store

    templates = templates or source.templates_dir
    with tempfile.TemporaryDirectory(prefix="erflow-test-") as folder:
        root = init_store(Path(folder) / "base", {}, actor=SCENARIO_ACTOR).root
        shutil.copyfile(workflow or source.workflow_path, root / store.WORKFLOW)
        if templates.is_dir():
            shutil.rmtree(root / store.TEMPLATES)
            shutil.copytree(templates, root / store.TEMPLATES)
        settings = _workflow_data(root).get("settings") or {}
        if settings.get("send_emails"):  # a scenario never emails anyone: its emails are logged only
            _rewrite(root, "settings", {"send_emails": False})
        git = Git(root)
        if git.dirty([store.WORKFLOW, store.TEMPLATES]):
            message = "erflow test: the store's workflow and templates"
            git.commit([store.WORKFLOW, store.TEMPLATES], message, (SCENARIO_ACTOR, SCENARIO_ACTOR))
        yield root


SCENARIO_ACTOR = "erflow@localhost"


def run(
    source: store.Store,
    scenarios: Sequence[Scenario],
    report: Callable[[Outcome], None] | None = None,
    *,
    workflow: Path | None = None,
    templates: Path | None = None,
) -> list[Outcome]:
    """Play each scenario on its own copy of a base store made from ``source`` (with ``workflow``
    and ``templates`` instead of its own, when given); ``report`` is told each outcome as it comes."""
    outcomes = []
    with base_store(source, workflow, templates) as base:
        from erflow.store import workflow_file

        loaded = workflow_file.load(base / store.WORKFLOW)
        for number, scenario in enumerate(scenarios):
            root = base.parent / f"s{number}"
            shutil.copytree(base, root, symlinks=True)
            try:
                played = loaded if not scenario.policies else _with_policies(root, scenario.policies)
                outcome = _Player(root, played, scenario).play()
            finally:
                shutil.rmtree(root, ignore_errors=True)
            outcomes.append(outcome)
            if report is not None:
                report(outcome)
    return outcomes


def _with_policies(root: Path, policies: Mapping[str, Any]) -> Workflow:
    """The copy's workflow.yaml with these policies changed, committed there; the workflow it loads."""
    from erflow.store import workflow_file

    _rewrite(root, "policies", policies)
    message = "erflow test: the scenario's policies"
    Git(root).commit([store.WORKFLOW], message, (SCENARIO_ACTOR, SCENARIO_ACTOR), untracked=[])
    return workflow_file.load(root / store.WORKFLOW)


def _workflow_data(root: Path) -> Any:
    from erflow.core import yamlio

    return yamlio.load((root / store.WORKFLOW).read_text(encoding="utf-8"))


def _rewrite(root: Path, section: str, values: Mapping[str, Any]) -> None:
    """Change these values of one top-level section of the copy's workflow.yaml (rewritten whole:
    its comments go, in this throwaway copy)."""
    from erflow.core import yamlio

    data = _workflow_data(root)
    data[section] = {**(data.get(section) or {}), **values}
    (root / store.WORKFLOW).write_text(yamlio.dump(_plain_data(data)), encoding="utf-8")


def _plain_data(data: Any) -> Any:
    """LineDicts as plain dicts, for the YAML dumper."""
    if isinstance(data, dict):
        return {key: _plain_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain_data(item) for item in data]
    return data


@dataclass
class _Done:
    """What one step did: the emails and staff notifications it logged, the transitions it took."""

    emails: list[Any] = field(default_factory=list)
    notifications: list[Any] = field(default_factory=list)
    taken: list[tuple[str, str, str]] = field(default_factory=list)  # (type or "", transition, from)
    created: list[str] = field(default_factory=list)


class _Failed(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


class _Player:
    """Plays one scenario on its store copy."""

    def __init__(self, root: Path, workflow: Workflow, scenario: Scenario) -> None:
        self.root = root
        self.workflow = workflow
        self.scenario = scenario
        self.now = scenario.now
        self.ticket = ""
        self.created = ""
        self.replies = 0
        self.git = Git(root)
        self.templates: Any = None

    def ctx(self, actor: str) -> Context:
        context = Context(store.Store(self.root), actor, self.now, {})
        context.__dict__["workflow"] = self.workflow
        if self.templates is None:
            self.templates = context.templates
        context.__dict__["templates"] = self.templates
        return context

    def play(self) -> Outcome:
        outcome = Outcome(self.scenario)
        for step in self.scenario.steps:
            try:
                self.step(step, outcome)
            except _Failed as exc:
                outcome.failure = Failure(step.describe(), step.line, exc.lines)
                break
        return outcome

    def step(self, step: Step, outcome: Outcome) -> None:
        expect = step.expect
        refusal = expect.refused if expect else None
        head = self.git.head() if refusal is not None else None
        status = self.git.run("status", "--porcelain") if refusal is not None else ""
        ticket_id = self.resolve(step.ticket)
        before = self.state_of(ticket_id) if ticket_id else ""
        try:
            done = self.act(step)
        except ErflowError as exc:
            if refusal is None:
                raise _Failed([f"refused (exit {exc.exit_code}): {exc}"]) from None
            problems = []
            if refusal.code is not None and exc.exit_code != refusal.code:
                problems.append(f"exit code: expected {refusal.code}, got {exc.exit_code} ({exc})")
            if refusal.reason and refusal.reason.lower() not in str(exc).lower():
                problems.append(f"reason: expected it to contain {refusal.reason!r}, got {str(exc)!r}")
            if self.git.head() != head or self.git.run("status", "--porcelain") != status:
                problems.append("the refused step changed the store")
            if problems:
                raise _Failed(problems) from None
            done = None
        except _Failed:
            raise
        except Exception as exc:  # noqa: BLE001 - a scenario's failure, never the run's crash
            raise _Failed([f"error: {type(exc).__name__}: {exc}"]) from None
        if refusal is not None and done is not None:
            raise _Failed([f"expected a refusal (exit {refusal.code or 'any'}), but the step was taken"])
        if done is not None and done.created:
            self.created = done.created[-1]
        ticket_id = self.resolve(step.ticket)
        ticket_type = self.type_of(ticket_id)
        if done is not None:
            for type_name, name, source in done.taken:
                outcome.taken.append((type_name or ticket_type, name, source or before))
        if expect is not None:
            self.check(expect, ticket_id, done or _Done())

    def resolve(self, ticket: str | None) -> str:
        """The id a step's ``ticket:`` names: ``main`` (or none) the scenario's, ``created`` the last
        ticket a step created."""
        if ticket in (None, "main"):
            return self.ticket
        if ticket == "created":
            if not self.created:
                raise _Failed(["ticket: created, but no step has created a ticket yet"])
            return self.created
        return str(ticket)

    def act(self, step: Step) -> _Done:
        ticket_id = self.resolve(step.ticket)
        if step.kind == "new":
            new = step.new
            request = create.NewRequest(
                str(new["type"]), new.get("title") or self.scenario.name, new.get("description"),
                new.get("customer_name"), new.get("customer_email"), new.get("customer"), dict(step.sets),
            )  # fmt: skip
            result = create.new(self.ctx(step.actor), request)
            self.ticket = result.id
            return _Done(result.emails, result.notifications)
        if step.kind == "advance":
            result = advancing.advance(self.ctx(step.actor), ticket_id, step.transition, step.sets, step.note)
            taken = [("", step.transition, result.from_state or "")]
            return _Done(result.emails, result.notifications, taken, result.created)
        if step.kind == "set":
            edit.set_fields(self.ctx(step.actor), ticket_id, step.sets, step.note)
            return _Done()
        if step.kind == "note":
            edit.add_note(self.ctx(step.actor), ticket_id, step.note or "")
            return _Done()
        if step.kind == "assign":
            result = edit.assign(self.ctx(step.actor), ticket_id, step.target)
            return _Done(result.emails, result.notifications)
        if step.kind == "reply":
            return self.reply(step, ticket_id)
        if step.kind == "sweep":
            return self.sweep()
        try:
            self.now = spec.later(self.now, step.target)
        except ValueError as exc:  # checked when the file was read
            raise UsageError(str(exc)) from None
        return _Done()

    def reply(self, step: Step, ticket_id: str) -> _Done:
        from erflow.app import inbound

        ticket = store.Store(self.root).read(ticket_id)
        sender = step.sender or str(ticket.meta.get("customer_email") or "customer@example.com")
        self.replies += 1
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.workflow.intake.address or "desk@example.com"
        message["Subject"] = f"Re: [{ticket.id}] {ticket.meta.get('title', '')}"
        message["Date"] = format_datetime(self.now)
        message["Message-ID"] = f"<scenario-reply-{self.replies}@customer.example>"
        message.set_content(step.target + "\n")
        state = ticket.state
        got = inbound.receive(self.ctx(sender), message.as_bytes(), where="erflow test")
        taken = [("", got.transition, state)] if got.transition else []
        return _Done(list(got.emails), list(got.notifications), taken)

    def sweep(self) -> _Done:
        from erflow.app import sweep as sweeping

        done = _Done()
        for action in sweeping.sweep(self.ctx(sweeping.SWEEP_ACTOR)):
            done.emails += action.emails
            done.notifications += action.notifications
            if not action.done:
                continue
            type_name = self.type_of(action.ticket)
            ticket_type = self.workflow.types.get(type_name)
            timers = ticket_type.timers if ticket_type else ()
            timer = next((t for t in timers if t.name == action.name), None)
            if timer is not None and timer.actions.transition:
                done.taken.append((type_name, timer.actions.transition, action.from_state or ""))
        return done

    def state_of(self, ticket_id: str) -> str:
        try:
            return store.Store(self.root).read(ticket_id).state
        except ErflowError:
            return ""

    def type_of(self, ticket_id: str) -> str:
        try:
            return str(store.Store(self.root).read(ticket_id).meta.get("type"))
        except ErflowError:
            return ""

    def check(self, expect: Expect, ticket_id: str, done: _Done) -> None:
        meta = store.Store(self.root).read(ticket_id).meta
        problems = []
        for key, wanted in (("state", expect.state), ("owner", expect.owner)):
            if wanted is not None and plain(meta.get(key)) != wanted:
                problems.append(f"{key}: expected {wanted!r}, got {plain(meta.get(key))!r}")
        for name, wanted in expect.fields.items():
            if plain(meta.get(name)) != wanted:
                problems.append(f"fields.{name}: expected {wanted!r}, got {plain(meta.get(name))!r}")
        problems += _mails("emails", expect.emails, done.emails)
        problems += _mails("notifications", expect.notifications, done.notifications)
        for person, listed in expect.reminders.items():
            from erflow.app.reminders import reminders

            rows = reminders(self.ctx(person), person).rows
            if isinstance(listed, int):
                if len(rows) != listed:
                    problems.append(f"reminders.{person}: expected {listed} rows, got {len(rows)}")
                continue
            ids = sorted(dict.fromkeys(row.id for row in rows))
            named = sorted(self.resolve(item) for item in listed)
            if ids != named:
                problems.append(f"reminders.{person}: expected {named}, got {ids}")
        if problems:
            raise _Failed(problems)


def _mails(what: str, wanted: Sequence[dict[str, str]] | Any, got: Sequence[Any]) -> list[str]:
    """The step's emails (or notifications) against the expected ones, in order, on the keys given;
    a small diff when they differ."""
    if wanted is None:
        return []
    shown = ["event", "to"] if what == "notifications" else ["template", "to"]
    keys = [k for k in spec.MAIL_KEYS if any(k in item for item in wanted)] or shown
    have = [
        {k: str(getattr(mail, k, "")).lower() if k == "to" else str(getattr(mail, k, "")) for k in keys}
        for mail in got
    ]
    want = [
        {k: item.get(k, have[n][k] if n < len(have) else "") for k in keys} for n, item in enumerate(wanted)
    ]
    if have == want:
        return []
    import difflib

    def line(item: dict[str, str]) -> str:
        return " ".join(f"{k}={item[k]}" for k in keys)

    diff = difflib.unified_diff(
        [line(i) for i in want], [line(i) for i in have], "expected", "got", lineterm="", n=5
    )
    return [f"{what} differ:", *(f"  {d}" for d in list(diff)[2:])]
