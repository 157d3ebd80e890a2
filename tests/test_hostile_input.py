"""Hostile input is refused and secrets never leak (issue 4): the cases no other test file covers.

A refusal is the contract's exit code, one line on stderr naming the id, file, field or line at fault,
nothing on stdout, and the store byte for byte as it was (every file, HEAD, git status).

Covered elsewhere and not repeated here: yamlio's own refusals and the 30,000-level documents
(test_yamlio), the ticket parser's refusals (test_ticket_format), ids that are paths for `show` and
`note` (test_refusals), the Jinja sandbox and a raw line break in a title (test_notify), template code
and a raw line break in `--dry-run` output (test_edits_and_reads), the password kept out of output
and git without --debug (test_sending).
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import (
    CUSTOMER_EMAIL,
    INTAKE_FLAGS,
    NICK,
    PM,
    SMTP_PASSWORD,
    SMTP_USER,
    SUPPORT,
    Cli,
    Mailbox,
    describe,
    one_line_error,
)

from erflow.app import forms
from erflow.core import yamlio
from erflow.core.errors import InvalidData
from erflow.mail import message as notify
from erflow.store import ticketfile

EVIL = "evil@attacker.example"
CRLF = "\r\n"


def refused(
    run: Cli,
    code: int,
    *args: str,
    naming: Sequence[str] = (),
    user: str | None = None,
    input: str | bytes | None = None,
    env: dict[str, str | None] | None = None,
) -> str:
    """Refused: exit ``code``, one line on stderr naming each of ``naming``, nothing on stdout,
    nothing changed on disk or in git. Return the line."""
    before = run.snapshot()
    result = run(*args, user=user, input=input, env=env)
    assert result.exit_code == code, describe(result)
    line = one_line_error(result)
    assert result.stdout == "", describe(result)
    for name in naming:
        assert name in line, describe(result)
    assert run.snapshot() == before
    return line


def rel(run: Cli, ticket_id: str) -> str:
    return run.path(ticket_id).relative_to(run.root).as_posix()


def line_of(data: bytes, marker: bytes, start: int = 0) -> int:
    """The 1-based line of the first ``marker`` at or after ``start``."""
    return data.count(b"\n", 0, data.index(marker, start)) + 1


# ---------------------------------------------------------------------------------------------
# Ticket ids that are paths, hold NUL or never end: every command that takes an id


HOSTILE_IDS = ["../../etc/passwd", "ER-../x", "ER-4K7\x00M2Q", "/etc/passwd", "ER-" + "A" * 5000]

ID_COMMANDS = {
    "show": ("show", "{bad}"),
    "advance": ("advance", "{bad}", "submit"),
    "set": ("set", "{bad}", "priority=low"),
    "note": ("note", "{bad}", "hello"),
    "link": ("link", "{bad}", "relates", "{good}"),
    "link-other": ("link", "{good}", "relates", "{bad}"),
    "history": ("history", "{bad}"),
    "email": ("email", "{bad}", "intake_acknowledgement"),
}


@pytest.mark.parametrize("command", list(ID_COMMANDS.values()), ids=list(ID_COMMANDS))
def test_a_hostile_ticket_id_is_not_found_by_any_command_in_one_short_line(
    run: Cli, command: tuple[str, ...]
) -> None:
    good = run.ticket_at("intake")
    for bad in HOSTILE_IDS:
        args = [part.replace("{bad}", bad).replace("{good}", good) for part in command]
        line = refused(run, 4, *args, user=PM, naming=["is not a ticket id", repr(bad[:40])[:10]])
        assert len(line) < 200, line


# ---------------------------------------------------------------------------------------------
# Hostile ticket files, committed (so that only their content is at fault)

Edit = Callable[[bytes, str], bytes]


def _insert_after_priority(extra: bytes) -> Edit:
    return lambda data, _: data.replace(b"priority: normal\n", b"priority: normal\n" + extra, 1)


# id, how the committed file is made from the good one, the marker of the line named (None: no line)
BAD_TICKET_FILES: list[tuple[str, Edit, bytes | None]] = [
    ("not-utf8", lambda d, _: d.replace(b"title: ", b"title: caf\xe9 ", 1), b"caf\xe9"),
    ("byte-order-mark", lambda d, _: b"\xef\xbb\xbf" + d, b"---"),
    ("no-closing-dashes", lambda d, _: d.replace(b"\n---\n", b"\n--\n", 1), None),
    ("not-a-mapping", lambda d, _: b"---\n- a\n- b\n---\n" + d.split(b"\n---\n", 1)[1], b"- a"),
    ("python-tag", _insert_after_priority(b"x: !!python/object/apply:os.system ['touch pwned']\n"), b"x: !!"),
    (
        "billion-laughs",
        _insert_after_priority(b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"),
        b"b: &b",
    ),
    ("duplicate-key", _insert_after_priority(b"priority: high\n"), b"priority: high"),
    ("30000-deep-flow", _insert_after_priority(b"x: " + b"[" * 30_000 + b"\n"), b"x: ["),
    ("30000-deep-block", _insert_after_priority(b"x:\n" + b"- " * 30_000 + b"v\n"), b"- - -"),
    ("huge", lambda d, _: d + b"x" * ticketfile.MAX_TICKET_BYTES, None),
    ("nul-byte", lambda d, _: d.replace(b"Export", b"Ex\x00port", 1), None),
]


def break_ticket(run: Cli, ticket_id: str, edit: Edit, marker: bytes | None) -> str:
    """Commit a hostile version of the ticket's file (as a hand edit); return what the error must name."""
    path = run.path(ticket_id)
    data = edit(path.read_bytes(), ticket_id)
    path.write_bytes(data)
    run.commit_all("a hostile hand edit")
    where = rel(run, ticket_id)
    return f"{where}:{line_of(data, marker)}: " if marker is not None else f"{where}: "


@pytest.mark.parametrize(
    ("edit", "marker"), [c[1:] for c in BAD_TICKET_FILES], ids=[c[0] for c in BAD_TICKET_FILES]
)
def test_a_hostile_ticket_file_is_invalid_data_for_reads_changes_links_and_emails(
    run: Cli, edit: Edit, marker: bytes | None
) -> None:
    bad = run.ticket_at("intake")
    good = run.new()
    naming = break_ticket(run, bad, edit, marker)

    refused(run, 6, "show", bad, naming=[naming])
    refused(run, 6, "note", bad, "hello", user=PM, naming=[naming])
    refused(run, 6, "link", good, "relates", bad, user=PM, naming=[naming])
    refused(run, 6, "email", bad, "intake_acknowledgement", "--dry-run", user=PM, naming=[naming])


def test_bad_ticket_files_never_hide_the_others_from_list_reports_and_check(run: Cli) -> None:
    enhancement = run.ticket_at("intake")
    bug = run.ok("new", "bug", "--title", "Search is slow", "--set", "severity=high", user=SUPPORT)
    bug_id = bug.stdout.strip()
    original = run.path(enhancement).read_bytes()
    named = []
    for number, (_, edit, marker) in enumerate(BAD_TICKET_FILES):
        fake = f"ER-ZZZZ{number:02d}"
        path = run.root / "tickets" / "ER" / "ZZ" / f"{fake}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = edit(original.replace(enhancement.encode(), fake.encode()), fake)
        path.write_bytes(data)
        where = path.relative_to(run.root).as_posix()
        named.append(f"{where}:{line_of(data, marker)}: " if marker is not None else f"{where}: ")
    run.commit_all("hostile hand edits")

    listed = run("list", "--json")
    assert listed.exit_code == 0, describe(listed)
    assert sorted(t["id"] for t in json.loads(listed.stdout)) == sorted([enhancement, bug_id])
    for report, expected in (("sla", bug_id), ("workload", SUPPORT)):
        result = run("report", report, "--json")
        assert result.exit_code == 0, describe(result)
        assert expected in result.stdout
        for result_of in (listed, result):
            skipped = [line for line in result_of.stderr.splitlines() if "skipped" in line]
            assert len(skipped) == len(BAD_TICKET_FILES), describe(result_of)
            assert all(any(name in line for line in skipped) for name in named), describe(result_of)
            assert "Traceback" not in result_of.stderr

    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    problems = checked.stdout.splitlines()
    assert len(problems) == len(BAD_TICKET_FILES), describe(checked)
    assert all(any(p.startswith(name) for p in problems) for name in named), describe(checked)


# ---------------------------------------------------------------------------------------------
# A hostile workflow.yaml: every command refuses with exit 6, check lists it with its line


def _append(extra: bytes) -> Callable[[bytes], bytes]:
    return lambda data: data.rstrip(b"\n") + b"\n" + extra


# id, how the file is made from the good one, the marker of the line named (searched in what was
# appended; None: no line)
BAD_WORKFLOWS: list[tuple[str, Callable[[bytes], bytes], bytes | None]] = [
    ("byte-order-mark", lambda d: b"\xef\xbb\xbf" + d, b"\xef\xbb\xbf"),
    ("python-tag", _append(b"evil: !!python/object/apply:os.system ['touch pwned']\n"), b"evil"),
    ("billion-laughs", _append(b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"), b"b: &b"),
    ("duplicate-key", _append(b"version: 1\n"), b"version: 1"),
    ("30000-deep-flow", _append(b"x: " + b"[" * 30_000 + b"\n"), b"x: ["),
    ("30000-deep-block", _append(b"x:\n" + b"- " * 30_000 + b"v\n"), b"- - -"),
    ("huge", _append(b"# " + b"x" * yamlio.MAX_BYTES + b"\n"), None),
    ("nul-byte", _append(b"x: a\x00b\n"), b"x: a"),
    ("not-a-mapping", lambda d: b"- a\n- b\n", b"- a"),
    ("not-utf8", _append(b"# caf\xe9\n"), b"# caf"),
]


@pytest.mark.parametrize(
    ("edit", "marker"), [c[1:] for c in BAD_WORKFLOWS], ids=[c[0] for c in BAD_WORKFLOWS]
)
def test_a_hostile_workflow_yaml_makes_every_command_exit_6_and_check_names_its_line(
    run: Cli, edit: Callable[[bytes], bytes], marker: bytes | None
) -> None:
    ticket_id = run.ticket_at("intake")
    path = run.root / "workflow.yaml"
    original = path.read_bytes()
    data = edit(original)
    path.write_bytes(data)
    kept = original.rstrip(b"\n")
    start = len(kept) if data.startswith(kept) else 0  # the marker is looked for in what was added
    naming = "workflow.yaml: " if marker is None else f"workflow.yaml:{line_of(data, marker, start)}: "

    refused(run, 6, "show", ticket_id, naming=[naming])
    refused(run, 6, "list", naming=[naming])
    refused(run, 6, "new", "enhancement", "--title", "x", user=SUPPORT, naming=[naming])
    refused(run, 6, "advance", ticket_id, "submit", user=SUPPORT, naming=[naming])
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    assert [p[: len(naming)] for p in checked.stdout.splitlines()] == [naming], describe(checked)
    assert checked.stderr == "1 problem\n"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
def test_an_unacceptable_character_after_non_ascii_text_is_named_on_its_own_line(char: str) -> None:
    # Found by this file: libyaml counts bytes, so each 'é' or '—' above it pushed the line down.
    with pytest.raises(yamlio.YamlError) as caught:
        yamlio.load(f"a: Café — naïve — déjà vu\nb: ok\nc: x{char}y\n")
    assert caught.value.line == 3


def test_a_workflow_yaml_that_is_not_utf8_is_named_with_its_line(run: Cli) -> None:
    run.ticket_at("intake")
    path = run.root / "workflow.yaml"
    data = path.read_bytes() + b"# caf\xe9\n"
    path.write_bytes(data)
    refused(run, 6, "list", naming=[f"workflow.yaml:{line_of(data, b'caf')}: "])


# ---------------------------------------------------------------------------------------------
# Hostile forms for `erflow new --from`


def deep_json(depth: int) -> bytes:
    """A JSON form nested ``depth`` + 1 levels (the form itself is one)."""
    return b'{"title": "x", "product": ' + b"[" * depth + b"]" * depth + b"}"


# id, the form's bytes, the marker of the line named (None: no line), a word the message holds
BAD_FORMS: list[tuple[str, bytes, bytes | None, str]] = [
    ("python-tag", b"title: x\nproduct: !!python/object/apply:os.system ['id']\n", b"product", "tag"),
    ("billion-laughs", b"title: x\na: &a [x, x, x]\nb: &b [*a, *a, *a]\n", b"b: &b", "aliases"),
    ("duplicate-key", b"title: x\ntitle: y\n", b"title: y", "duplicate key 'title'"),
    ("30000-deep-flow", b"title: x\nproduct: " + b"[" * 30_000 + b"\n", b"product", "nesting"),
    ("30000-deep-block", b"- " * 30_000 + b"x\n", b"- ", "nesting"),
    ("huge", b"title: " + b"x" * forms.MAX_FORM_BYTES + b"\n", None, "larger than"),
    ("not-utf8", b"title: x\nproduct: caf\xe9\n", b"caf", "UTF-8"),
    ("json-duplicate-key", b'{"title": "x", "title": "y"}', None, "duplicate key 'title'"),
    ("json-30000-deep", deep_json(30_000), b"{", "nesting"),
    ("json-one-level-too-deep", deep_json(yamlio.MAX_DEPTH), b"{", "nesting"),
    ("json-huge-integer", b'{"title": "x", "estimate_hours": ' + b"9" * 5000 + b"}", None, "JSON"),
    ("json-nul", b'{"title": "Ex\\u0000port"}', None, "'title'"),
    ("json-escape-in-key", b'{"title": "x", "pro\\u001bduct": "y"}', None, "pro\\x1bduct"),
    ("json-lone-surrogate", b'{"title": "\\ud800"}', None, "'title'"),
]


@pytest.mark.parametrize(
    ("data", "marker", "word"), [c[1:] for c in BAD_FORMS], ids=[c[0] for c in BAD_FORMS]
)
def test_a_hostile_form_is_invalid_data_naming_the_form_and_creates_nothing(
    run: Cli, store: Path, tmp_path: Path, data: bytes, marker: bytes | None, word: str
) -> None:
    form = tmp_path / "form.txt"
    form.write_bytes(data)
    where = f"{form}:{line_of(data, marker)}: " if marker is not None else f"{form}: "
    refused(run, 6, "new", "enhancement", "--from", str(form), user=SUPPORT, naming=[where, word])
    where = where.replace(str(form), "<stdin>")
    refused(run, 6, "new", "enhancement", "--from", "-", user=SUPPORT, input=data, naming=[where, word])


def test_a_json_form_nested_exactly_to_the_limit_is_read() -> None:
    form = forms.read("-", io.StringIO(deep_json(yamlio.MAX_DEPTH - 1).decode()))
    assert form["title"] == "x"


def test_an_endless_form_is_read_no_further_than_the_limit(run: Cli, store: Path) -> None:
    refused(run, 6, "new", "enhancement", "--from", "/dev/zero", user=SUPPORT, naming=["larger than"])


# ---------------------------------------------------------------------------------------------
# Customer text in emails delivered by a real SMTP server: never code, never a header


ECHO_TEMPLATE = "Subject: Re: {{ title }} ({{ id }})\n\nHi {{ customer_name }},\n\n{{ title }}\n"


def delivered(mailbox: Mailbox) -> EmailMessage:
    """The one message the server received, checked: sent to the customer alone, with exactly the
    headers erflow writes, each once, and one recipient in To."""
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == [CUSTOMER_EMAIL]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.keys() == [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Reply-To",
        "X-Erflow-Ticket",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    assert [a.addr_spec for a in message["To"].addresses] == [CUSTOMER_EMAIL]
    for name in ("Subject", "To"):
        assert "\r" not in str(message[name]) and "\n" not in str(message[name])
    return message


def test_template_code_in_every_customer_text_is_delivered_literally(
    run: Cli, store: Path, smtp_server: Mailbox
) -> None:
    title = "{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %}"
    name = "{{ ''.__class__.__mro__ }}"
    description = "{% for x in range(3) %}{{ x }}{% endfor %} {{ cycler.__init__.__globals__ }}"
    result = run(
        "new",
        "enhancement",
        *("--title", title, "--customer-name", name, "--customer-email", CUSTOMER_EMAIL),
        *("--customer-org", "{{ config }}", "--description", description, "--set", "product={{ 6*7 }}"),
        "--send",
        user=SUPPORT,
    )
    assert result.exit_code == 0, describe(result)
    message = delivered(smtp_server)
    ticket_id = result.stdout.strip()
    body = message.get_content().replace(ticket_id, "")
    assert f"Hi {name}," in body
    assert f"for {{{{ 6*7 }}}} ({title})" in body
    assert message["To"].addresses[0].display_name == name
    for evaluated in ("49", "42", "012", "<class", "__globals__"):
        assert evaluated not in body.replace(name, "").replace(title, "")
    shown = run.show(ticket_id)
    assert (shown["title"], shown["customer"], shown["product"]) == (title, "{{ config }}", "{{ 6*7 }}")
    assert shown["body"].startswith(description)


# flag of `new`, the hostile value: each must reach the server without adding a header
HEADER_ATTACKS = [
    ("--title", f"Export\r\nBcc: {EVIL}"),
    ("--title", f"=?utf-8?q?Export=0D=0ABcc:_{EVIL}?="),
    ("--title", f"Export =?utf-8?b?{base64.b64encode(f'{CRLF}Bcc: {EVIL}'.encode()).decode()}?= now"),
    ("--title", f"Export%0d%0aBcc:%20{EVIL}"),
    ("--customer-name", f"Jane\r\nBcc: {EVIL}"),
    ("--customer-name", f"=?utf-8?q?Jane=0D=0ABcc:_{EVIL}?="),
    ("--customer-name", f'"=?utf-8?q?Jane=0ABcc:_{EVIL}?=" <{EVIL}>'),
    ("--customer-name", f"Jane%0D%0ABcc: {EVIL}"),
    ("--customer-name", f"Jane\u2028Bcc: {EVIL}\x85Cc: {EVIL}"),
    ("--customer-name", f"Jane <{EVIL}>, Bob <{EVIL}>"),
]


@pytest.mark.parametrize(("flag", "value"), HEADER_ATTACKS)
def test_line_breaks_raw_or_encoded_in_customer_text_never_add_a_header(
    run: Cli, store: Path, smtp_server: Mailbox, flag: str, value: str
) -> None:
    (store / "templates" / "echo.j2").write_text(ECHO_TEMPLATE, encoding="utf-8")
    given = {"--title": "Export", "--customer-name": "Jane", "--customer-email": CUSTOMER_EMAIL, flag: value}
    ticket_id = run.new(*(part for pair in given.items() for part in pair))

    result = run("email", ticket_id, "echo", "--send", user=PM)

    assert result.exit_code == 0, describe(result)
    message = delivered(smtp_server)
    assert message["X-Erflow-Ticket"] == ticket_id
    assert str(message["Subject"]).endswith(f"({ticket_id})")


def test_the_last_guard_refuses_a_message_whose_written_headers_are_not_the_ones_set() -> None:
    # What erflow's header values are kept from: Python's email package decodes this into a line break.
    message = EmailMessage(policy=email.policy.default)
    message["To"] = CUSTOMER_EMAIL
    message["Subject"] = f"=?utf-8?q?Export=0D=0ABcc:_{EVIL}?="
    with pytest.raises(InvalidData, match="header"):
        notify._check_headers(message)


@pytest.mark.parametrize(
    "value",
    [
        f"{CUSTOMER_EMAIL}\r\nBcc: {EVIL}",
        f"{CUSTOMER_EMAIL}%0d%0aBcc:{EVIL}",
        f"{CUSTOMER_EMAIL}, {EVIL}",
        f"Jane <{CUSTOMER_EMAIL}>",
        f"=?utf-8?q?jane=0D=0ABcc:_{EVIL}?=@acme.example",
        "=?utf-8?q?evil=40attacker.example?=@acme.example",
        "jane%0d%0abcc:evil@acme.example",
        "(comment)jane@acme.example",
        '"jane\r\nbcc"@acme.example',
    ],
)
def test_a_customer_email_that_is_not_one_plain_address_is_refused_and_nothing_is_sent(
    run: Cli, store: Path, smtp_server: Mailbox, value: str
) -> None:
    refused(
        run,
        2,
        *("new", "enhancement", "--title", "x", "--customer-email", value, "--send"),
        user=SUPPORT,
        naming=["customer_email", "is not an email address"],
    )
    assert smtp_server.envelopes == []


def test_a_line_break_hand_edited_into_a_header_field_is_refused_and_nothing_is_sent(
    run: Cli, smtp_server: Mailbox
) -> None:
    ticket_id = run.ticket_at("intake")
    path = run.path(ticket_id)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("customer_name: Jane Doe", f'customer_name: "Jane\\r\\nBcc: {EVIL}"'))
    run.commit_all("a hostile hand edit")

    refused(run, 6, "email", ticket_id, "intake_acknowledgement", "--send", user=PM, naming=["line break"])
    assert smtp_server.envelopes == []


# ---------------------------------------------------------------------------------------------
# A workflow.yaml that names what does not exist


def misreference(run: Cli) -> dict[str, int]:
    """Make submit go to a missing state, for a missing role, needing a missing field, and
    request_info send a missing template; return each one's line in workflow.yaml."""
    path = run.root / "workflow.yaml"
    lines = path.read_text(encoding="utf-8").split("\n")
    submit = lines.index("      - name: submit")
    found: dict[str, int] = {}
    for what, key, old, new in (
        ("state", "to:", "pm_review", "pm_reveiw"),
        ("role", "roles:", "pm]", "pm, wizard]"),
        ("field", "requires:", "customer_email]", "customer_email, budget_code]"),
    ):
        number = next(i for i in range(submit, len(lines)) if lines[i].strip().startswith(key))
        assert old in lines[number], (what, lines[number])
        lines[number] = lines[number].replace(old, new)
        found[what] = number + 1
    email_line = next(i for i, line in enumerate(lines) if line.strip() == "emails: [pm_more_info]")
    lines[email_line] = lines[email_line].replace("pm_more_info", "pm_more_info_v2")
    found["template"] = email_line + 1
    path.write_text("\n".join(lines), encoding="utf-8")
    return found


def test_a_workflow_naming_a_missing_state_role_and_field_is_refused_by_every_command(run: Cli) -> None:
    ticket_id = run.ticket_at("intake")
    lines = misreference(run)
    first = f"workflow.yaml:{lines['state']}: "

    for args in (("show", ticket_id), ("list",), ("new", "enhancement", "--title", "x")):
        refused(run, 6, *args, user=SUPPORT, naming=[first, "pm_reveiw", "and 2 more; run erflow check"])
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    problems = checked.stdout.splitlines()
    for what, word in (("state", "'pm_reveiw'"), ("role", "'wizard'"), ("field", "'budget_code'")):
        assert any(p.startswith(f"workflow.yaml:{lines[what]}: ") and word in p for p in problems), problems


def test_check_lists_a_missing_template_together_with_the_other_broken_references(run: Cli) -> None:
    run.ticket_at("intake")
    lines = misreference(run)
    problems = run("check").stdout.splitlines()
    assert any(p.startswith(f"workflow.yaml:{lines['template']}: ") for p in problems), problems


def test_a_missing_intake_template_is_named_with_its_line_by_check_and_refused_by_new_with_exit_6(
    run: Cli, store: Path
) -> None:
    path = store / "workflow.yaml"
    data = path.read_bytes().replace(b"template: intake_acknowledgement", b"template: intake_ack_v2", 1)
    path.write_bytes(data)
    run.commit_all("the intake acknowledgement renamed, its template not yet")
    naming = f"workflow.yaml:{line_of(data, b'intake_ack_v2')}: "
    checked = run("check")
    assert checked.exit_code == 6, describe(checked)
    assert [p[: len(naming)] for p in checked.stdout.splitlines()] == [naming]
    refused(run, 6, "new", "enhancement", *INTAKE_FLAGS, user=SUPPORT, naming=[naming, "intake_ack_v2"])


# ---------------------------------------------------------------------------------------------
# The SMTP password, with --debug: a traceback is allowed, the password is not


def everything_written(run: Cli) -> str:
    files = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in run.root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(run.root).parts
    )
    return files + run.git("log", "--all", "-p", "--format=%H %an %ae%n%B")


DEBUG_WAYS: dict[str, tuple[tuple[str, ...], dict[str, str | None]]] = {
    "--debug": (("--debug",), {}),
    "ERFLOW_DEBUG": ((), {"ERFLOW_DEBUG": "1"}),
}
SENDING: dict[str, tuple[str, tuple[str, ...]]] = {  # who, what
    "email": (NICK, ("email", "{id}", "board_approved_no_quote", "--send")),
    "advance": (NICK, ("advance", "{id}", "schedule", "--send")),
    "new": (SUPPORT, ("new", "enhancement", *INTAKE_FLAGS, "--send")),
}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("debug", list(DEBUG_WAYS))
@pytest.mark.parametrize("command", list(SENDING.values()), ids=list(SENDING))
def test_a_refused_login_under_debug_leaves_the_email_waiting_and_never_shows_the_password(
    run: Cli,
    smtp_server: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    debug: str,
    command: tuple[str, tuple[str, ...]],
) -> None:
    ticket_id = run.ticket_at("leadership")
    wrong = SMTP_PASSWORD + "-wrong"
    monkeypatch.setenv("ERFLOW_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("ERFLOW_SMTP_PASSWORD", wrong)
    flags, env = DEBUG_WAYS[debug]

    user, args = command
    result = run(*flags, *(part.replace("{id}", ticket_id) for part in args), user=user, env=env)
    flushed = run(*flags, "outbox", "flush", "--json", env=env)

    assert result.exit_code == 0, describe(result)  # the change is made; its email waits in the outbox
    assert flushed.exit_code == 0, describe(flushed)
    for done in (result, flushed):  # (a table wraps long lines: compared without white space)
        assert f"loginas'{SMTP_USER}'refused(535" in "".join((done.stdout + done.stderr).split())
        assert SMTP_PASSWORD not in "".join((done.stdout + done.stderr).split())
    assert smtp_server.logins  # smtplib tries each mechanism the server offers
    assert set(smtp_server.logins) == {(SMTP_USER.encode(), wrong.encode())}
    assert smtp_server.envelopes == []
    (waiting,) = run.json("outbox")
    assert waiting["status"] == "pending" and waiting["attempts"] == 2
    records = run.root / ".git" / "erflow" / "outbox"
    assert all(SMTP_PASSWORD not in p.read_text(encoding="utf-8") for p in records.rglob("*.json"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_send_with_login_under_debug_keeps_the_password_out_of_output_files_and_git(
    run: Cli, smtp_server: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket_id = run.ticket_at("leadership")
    monkeypatch.setenv("ERFLOW_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("ERFLOW_SMTP_PASSWORD", SMTP_PASSWORD)

    result = run("--debug", "advance", ticket_id, "schedule", "--send", "--json", user=NICK)

    assert result.exit_code == 0, describe(result)
    assert smtp_server.logins == [(SMTP_USER.encode(), SMTP_PASSWORD.encode())]
    assert len(smtp_server.envelopes) == 1
    assert SMTP_PASSWORD not in result.stdout + result.stderr
    assert SMTP_PASSWORD not in everything_written(run)
