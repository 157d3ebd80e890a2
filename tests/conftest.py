"""Fixtures for erflow's end-to-end tests.

Every test runs in its own tmp_path with git and erflow isolated from the machine (no global git
config, pinned dates, no ERFLOW_* leaking in), drives the real Typer app in-process through
``CliRunner`` against a real git store, and checks stdout, stderr and the exit code apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imapserver
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from imapserver import Dovecot
from typer.testing import CliRunner, Result

from erflow.cli import root as cli
from erflow.cli.main import app

STAMP = "2026-11-02T09:00:00+00:00"

# The people of the default workflow.yaml.
SUPPORT = "support@example.com"
PM = "destyn@example.com"
BOARD = "board@example.com"
NICK = "nick@example.com"  # leadership and board
SALES = "sales@example.com"
CONTRACTS = "contracts@example.com"
ACCOUNTING = "accounting@example.com"
DEV = "dev@example.com"
QA = "qa@example.com"
STRANGER = "mallory@elsewhere.example"

CUSTOMER_EMAIL = "jane@acme.example"
PORTAL = "https://support.example.com/requests/{id}"

SMTP_USER = "erflow-mailer"
SMTP_PASSWORD = "s3cret-Pa55word-xyzzy"

# What `new` gets for the standard ticket of these tests: everything `submit` needs.
INTAKE_FLAGS: tuple[str, ...] = (
    "--title",
    "Export invoices to CSV",
    "--customer-name",
    "Jane Doe",
    "--customer-email",
    CUSTOMER_EMAIL,
    "--customer-org",
    "Acme Corp",
    "--set",
    "product=Billing Portal",
    "--set",
    "priority=normal",
    "--set",
    "business_value=Saves finance 4 hours a week",
)

Step = tuple[str, str, dict[str, str]]  # transition, actor, --set values

# The SOP's steps, each with an actor who may take it and the fields its gate needs.
SUBMIT: Step = ("submit", SUPPORT, {})
APPROVE: Step = (
    "approve",
    PM,
    {
        "config_checked": "true",
        "problem": "Invoices only on screen",
        "scope": "CSV download",
        "desired_outcome": "One-click export",
    },
)
APPROVE_NO_QUOTE: Step = ("approve_no_quote", BOARD, {"board_rationale": "Small, broadly useful"})
APPROVE_FOR_QUOTE: Step = ("approve_for_quote", BOARD, {"board_rationale": "Customer-specific, billable"})
SCHEDULE: Step = ("schedule", NICK, {})
PLAN: Step = ("plan", PM, {"iteration": "2026-12", "target_delivery_window": "December 2026"})
START_NON_BILLABLE: Step = ("start_development", DEV, {"projected_delivery_date": "2026-11-23"})
RELEASE_NON_BILLABLE: Step = (
    "release",
    DEV,
    {"live_date": "2026-11-22", "release_notes": "Invoices > Export CSV"},
)
CLOSE: Step = ("close", PM, {})
QUOTE: Step = ("quote", NICK, {})
SCOPE_CONFIRMED: Step = (
    "scope_confirmed",
    PM,
    {
        "scope_baseline": "SAML SSO, one IdP",
        "acceptance_criteria": "Staff sign in via Okta",
        "assumptions": "IdP metadata",
    },
)
ESTIMATED: Step = ("estimated", NICK, {"estimate_hours": "60"})
QUOTE_ACCEPTED: Step = ("quote_accepted", SALES, {"quote_amount": "9000"})
SOW_SIGNED_PAYMENT: Step = (
    "sow_signed",
    CONTRACTS,
    {"sow_link": "https://contracts.example.com/sow/acme-1", "payment_required": "true"},
)
SOW_SIGNED_NO_PAYMENT: Step = (
    "sow_signed",
    CONTRACTS,
    {"sow_link": "https://contracts.example.com/sow/acme-1"},
)
PAYMENT_CONFIRMED: Step = ("payment_confirmed", ACCOUNTING, {"payment_reference": "INV-2291 paid"})
START_BILLABLE: Step = ("start_development", PM, {"projected_delivery_date": "2026-12-17"})
COMPLETE: Step = ("complete", DEV, {})
QA_PASSED: Step = ("qa_passed", QA, {"qa_notes": "All acceptance criteria pass"})
RELEASE_BILLABLE: Step = (
    "release",
    PM,
    {
        "customer_confirmation": "Jane confirmed on the demo call",
        "live_date": "2026-12-16",
        "release_notes": "SSO",
    },
)
READY_FOR_BILLING: Step = ("mark_ready_for_billing", PM, {})

_PM_REVIEW = [SUBMIT]
_PRODUCT_BOARD = [*_PM_REVIEW, APPROVE]
_LEADERSHIP = [*_PRODUCT_BOARD, APPROVE_NO_QUOTE]
_SCHEDULED = [*_LEADERSHIP, SCHEDULE, PLAN]
_IN_DEVELOPMENT = [*_SCHEDULED, START_NON_BILLABLE]
_LIVE = [*_IN_DEVELOPMENT, RELEASE_NON_BILLABLE]
_QUOTE_SCOPE = [*_PRODUCT_BOARD, APPROVE_FOR_QUOTE, QUOTE]
_QUOTE_SENT = [*_QUOTE_SCOPE, SCOPE_CONFIRMED, ESTIMATED]
_SOW = [*_QUOTE_SENT, QUOTE_ACCEPTED]
_PAYMENT = [*_SOW, SOW_SIGNED_PAYMENT]
_BILLABLE_SCHEDULED = [*_PAYMENT, PAYMENT_CONFIRMED, PLAN]
_BILLABLE_IN_DEVELOPMENT = [*_BILLABLE_SCHEDULED, START_BILLABLE]

# Named places a test can start from: the steps that lead a fresh ticket there.
PATHS: dict[str, list[Step]] = {
    "intake": [],
    "pm_review": _PM_REVIEW,
    "product_board": _PRODUCT_BOARD,
    "leadership": _LEADERSHIP,
    "leadership_for_quote": [*_PRODUCT_BOARD, APPROVE_FOR_QUOTE],
    "scheduling": [*_LEADERSHIP, SCHEDULE],
    "scheduled": _SCHEDULED,
    "in_development": _IN_DEVELOPMENT,
    "live": _LIVE,
    "quote_scope": _QUOTE_SCOPE,
    "quote_sent": _QUOTE_SENT,
    "sow": _SOW,
    "payment": _PAYMENT,
    "billable_scheduled": _BILLABLE_SCHEDULED,
    "billable_scheduled_no_payment": [*_SOW, SOW_SIGNED_NO_PAYMENT, PLAN],
    "billable_in_development": _BILLABLE_IN_DEVELOPMENT,
    "qa": [*_BILLABLE_IN_DEVELOPMENT, COMPLETE],
    "billable_live": [*_BILLABLE_IN_DEVELOPMENT, COMPLETE, QA_PASSED, RELEASE_BILLABLE],
}


# ---------------------------------------------------------------------------------------------
# Isolation


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No global git config, pinned clocks, no ERFLOW_* from outside, cwd in tmp_path."""
    for name in list(os.environ):
        if name.startswith(("ERFLOW_", "GIT_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("EMAIL", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_DATE", STAMP)
    monkeypatch.setenv("GIT_COMMITTER_DATE", STAMP)
    monkeypatch.setenv("ERFLOW_NOW", STAMP)
    monkeypatch.setattr(cli, "DEBUG", False)  # --debug in one test must not leak into the next
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# git and store snapshots


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (a store in tmp_path, never /work/main) and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout


@dataclass(frozen=True)
class Snapshot:
    """Everything a change could touch: every file's bytes (outside .git), HEAD and git status."""

    files: dict[str, bytes]
    head: str
    status: str


def snapshot(store: Path) -> Snapshot:
    """Every file but git's own and erflow's derived caches (``.erflow/``, ignored by git)."""
    files = {
        path.relative_to(store).as_posix(): path.read_bytes()
        for path in sorted(store.rglob("*"))
        if path.is_file() and not {".git", ".erflow"} & set(path.relative_to(store).parts)
    }
    head = git(store, "rev-parse", "HEAD").strip()
    status = git(store, "status", "--porcelain", "--untracked-files=all")
    return Snapshot(files, head, status)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_email: str
    subject: str
    trailers: dict[str, list[str]]
    files: list[str]


def commit_info(store: Path, rev: str = "HEAD") -> CommitInfo:
    """A commit's author, subject, git-parsed trailers and the files it touched."""
    sha = git(store, "rev-parse", rev).strip()
    author = git(store, "log", "-1", "--format=%ae", sha).strip()
    subject = git(store, "log", "-1", "--format=%s", sha).strip()
    trailers: dict[str, list[str]] = {}
    for line in git(store, "log", "-1", "--format=%(trailers:only,unfold)", sha).splitlines():
        if ": " in line:
            key, value = line.split(": ", 1)
            trailers.setdefault(key, []).append(value)
    files = git(store, "show", "--name-only", "--format=", sha).split()
    return CommitInfo(sha, author, subject, trailers, files)


def commits_since(store: Path, rev: str) -> list[str]:
    return git(store, "rev-list", f"{rev}..HEAD").split()


def ticket_path(store: Path, ticket_id: str) -> Path:
    (found,) = store.joinpath("tickets").rglob(f"{ticket_id}.md")
    return found


# ---------------------------------------------------------------------------------------------
# The CLI


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def check_refuses_edit(run: Cli, old: str, new: str) -> Result:
    """Replace ``old`` by ``new`` in the store's workflow.yaml; `check` must exit 6 naming the file."""
    path = run.root / "workflow.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run("check")
    assert result.exit_code == 6, describe(result)
    assert "workflow.yaml:" in result.stdout
    return result


def one_line_error(result: Result) -> str:
    """Assert the contract's error form: exactly one line on stderr, no traceback; return it."""
    assert result.exit_code != 0, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, describe(result)
    return lines[0]


_NO_STORE_COMMANDS = {"init", "demo"}
_SESSION_CACHE: dict[str, tuple[Path, str]] = {}


@dataclass
class Cli:
    """``run(*args, user=None, input=None)``: erflow in-process, pointed at ``store``."""

    store: Path | None
    cache_dir: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(
        self,
        *args: str,
        user: str | None = None,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        store: Path | None | bool = True,
    ) -> Result:
        argv = [str(a) for a in args]
        where = self.store if store is True else (store or None)
        if where is not None and argv and argv[0] not in _NO_STORE_COMMANDS:
            argv += ["--store", str(where)]
        full_env: dict[str, str | None] = dict(env or {})
        if user is not None:
            full_env["ERFLOW_USER"] = user
        return self.runner.invoke(app, argv, input=input, env=full_env, catch_exceptions=False)

    def ok(self, *args: str, user: str | None = None, input: str | None = None, **kw: Any) -> Result:
        result = self(*args, user=user, input=input, **kw)
        assert result.exit_code == 0, describe(result)
        return result

    def json(self, *args: str, user: str | None = None, input: str | None = None, **kw: Any) -> Any:
        result = self.ok(*args, "--json", user=user, input=input, **kw)
        return json.loads(result.stdout)

    # --- the store ---------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        assert self.store is not None
        return self.store

    def init(self) -> Path:
        self.ok("init", str(self.root))
        return self.root

    def snapshot(self) -> Snapshot:
        return snapshot(self.root)

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def show(self, ticket_id: str, user: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = self.json("show", ticket_id, user=user)
        return data

    def path(self, ticket_id: str) -> Path:
        return ticket_path(self.root, ticket_id)

    def state(self, ticket_id: str) -> str:
        """The state as the ticket file says (cheaper than ``show`` when a test only needs that)."""
        match = re.search(r"^state: (\S+)$", self.path(ticket_id).read_text(encoding="utf-8"), re.MULTILINE)
        assert match, ticket_id
        return match.group(1)

    def commit_all(self, message: str) -> None:
        """Commit hand edits (as a person outside erflow would)."""
        self.git("add", "-A")
        self.git(
            "-c", "user.name=Hand Editor", "-c", "user.email=hand@example.com", "commit", "-q", "-m", message
        )

    # --- tickets -------------------------------------------------------------------------------

    def new(self, *flags: str, user: str = SUPPORT) -> str:
        """Create the standard ticket (or one with ``flags``); return its id."""
        result = self.ok("new", "enhancement", *(flags or INTAKE_FLAGS), user=user)
        return result.stdout.strip()

    def advance(self, ticket_id: str, step: Step, *extra: str, user: str | None = None) -> dict[str, Any]:
        name, actor, sets = step
        args = [a for key, value in sets.items() for a in ("--set", f"{key}={value}")]
        data: dict[str, Any] = self.json("advance", ticket_id, name, *args, *extra, user=user or actor)
        return data

    def walk(self, ticket_id: str, steps: Sequence[Step]) -> None:
        for step in steps:
            self.advance(ticket_id, step)

    def ticket_at(self, place: str) -> str:
        """A store in tmp_path holding one standard ticket walked to ``place`` (see PATHS); its id.

        The walk is made once per session and copied (with its git history), to keep the suite fast.
        """
        if place not in _SESSION_CACHE:
            steps = PATHS[place]
            built = Cli(self.cache_dir / place / "store", self.cache_dir)
            # Continue from the longest walk already made that this one starts with.
            prefixes = [p for p in _SESSION_CACHE if steps[: len(PATHS[p])] == PATHS[p]]
            if prefixes:
                start = max(prefixes, key=lambda p: len(PATHS[p]))
                source, ticket_id = _SESSION_CACHE[start]
                shutil.copytree(source, built.root, symlinks=True)
                done = len(PATHS[start])
            else:
                built.init()
                ticket_id = built.new()
                done = 0
            built.walk(ticket_id, steps[done:])
            _SESSION_CACHE[place] = (built.root, ticket_id)
        source, ticket_id = _SESSION_CACHE[place]
        if self.root.exists():
            shutil.rmtree(self.root)
        shutil.copytree(source, self.root, symlinks=True)
        return ticket_id


@pytest.fixture(scope="session")
def walk_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("walked")


@pytest.fixture
def run(tmp_path: Path, walk_cache: Path) -> Cli:
    """The CLI pointed at ``tmp_path/store`` (made by the ``store`` fixture or ``run.ticket_at``)."""
    return Cli(tmp_path / "store", walk_cache)


@pytest.fixture
def bare(walk_cache: Path) -> Cli:
    """The CLI without --store: for init, demo and store discovery."""
    return Cli(None, walk_cache)


@pytest.fixture
def store(run: Cli) -> Path:
    """A fresh store made by ``erflow init``."""
    return run.init()


# ---------------------------------------------------------------------------------------------
# A real SMTP server


@dataclass
class Mailbox:
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login, auth_data.password))
            good = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=good, handled=False)  # handled=False: the server answers 535
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1 that keeps every envelope; ERFLOW_SMTP_* point at it (no TLS).

    It accepts AUTH without TLS for SMTP_USER / SMTP_PASSWORD, so logins can be tested too.
    """
    mailbox = Mailbox(port=free_port())
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=mailbox.port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    monkeypatch.setenv("ERFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ERFLOW_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("ERFLOW_SMTP_TLS", "none")
    try:
        yield mailbox
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------------------
# A real IMAP server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot IMAP server on 127.0.0.1 (one per test session and xdist worker), user ``desk``,
    TLS required: STARTTLS on ``port``, implicit TLS on ``ssl_port``, certificate in ``cafile``.
    Tests keep apart with a folder each (``imap_folder``). Fails, never skips, without Dovecot."""
    try:
        with imapserver.running(free_port(), free_port()) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(f"no IMAP server for the tests: {exc}", pytrace=False)


@pytest.fixture
def imap_folder(dovecot: Dovecot, request: pytest.FixtureRequest) -> str:
    """A new, empty folder on the shared Dovecot, named after the test."""
    folder = "t-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60] + "-" + os.urandom(3).hex()
    dovecot.create(folder)
    return folder


# ---------------------------------------------------------------------------------------------
# Emails of the default templates

SUBJECTS = {
    "intake_acknowledgement": "Enhancement Request {id} - Received",
    "pm_more_info": "Enhancement Request {id} - Additional Details Requested",
    "board_approved_no_quote": "Enhancement Request {id} - Approved for Scheduling",
    "board_approved_quote": "Enhancement Request {id} - Proceeding to Quote",
    "board_declined": "Enhancement Request {id} - Decision Update",
    "board_deferred": "Enhancement Request {id} - Deferred for Additional Review",
    "leadership_returned": "Enhancement Request {id} - Additional Details Requested",
    "leadership_declined": "Enhancement Request {id} - Final Decision",
    "sow_received": "Enhancement Request {id} - SOW Received, Scheduling Underway",
    "schedule_confirmation": "Enhancement Request {id} - Scheduled for Development",
    "development_started": "Enhancement Request {id} - Development Started",
    "delivered": "Enhancement Request {id} - Delivered and Live",
}


def expected_emails(ticket_id: str, *templates: str, sent: bool = False) -> list[dict[str, Any]]:
    """The ``emails`` of ``advance --json`` / ``new --json`` for these templates to the customer."""
    return [
        {
            "template": t,
            "to": CUSTOMER_EMAIL,
            "subject": f"[{ticket_id}] " + SUBJECTS[t].format(id=ticket_id),
            "sent": sent,
        }
        for t in templates
    ]


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make these files and folders unwritable, even for root (chattr +i), for the block."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a file or folder read-only")
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)


def answer_menu(argv: list[str], env: dict[str, str], expect: bytes, choice: bytes = b"1\ny\n") -> int:
    """Run ``argv`` with a pseudo-terminal as stdin and stderr, wait for its menu to ask "Which"
    (and to show ``expect``), answer ``choice`` (the first, then yes to "Commit this change?"), and
    return its exit code."""
    import pty
    import select
    import time

    master, terminal = pty.openpty()
    proc = subprocess.Popen(argv, stdin=terminal, stderr=terminal, stdout=subprocess.PIPE, env=env, text=True)
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"Which" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                seen += os.read(master, 4096)
        assert expect in seen, seen.decode(errors="replace")
        os.write(master, choice)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(master)
    return proc.returncode
