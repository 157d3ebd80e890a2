"""Tests of erflow.notify: the shipped templates, strict and sandboxed rendering, safe headers,
and delivery to a real SMTP server (aiosmtpd) in plain, STARTTLS, implicit TLS and AUTH modes."""

from __future__ import annotations

import email
import email.message
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from erflow.core.errors import DeliveryError, InvalidData, NotFound, Refused, UsageError
from erflow.mail import templates as notify
from erflow.mail.message import Email
from erflow.mail.smtp import SmtpConfig, send
from erflow.mail.templates import TemplateSet

DEFAULTS = Path(notify.__file__).parents[1] / "defaults" / "templates"
SENDER = "Destyn Dagle <destyn@example.com>"
DATE = datetime(2025, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
MESSAGE_ID = "<20250304.1@example.com>"
USER, PASSWORD = "destyn", "c0rrect-h0rse-battery"

FULL = {
    "id": "ER-4K7M2Q",
    "customer_name": "Ada Lovelace",
    "product": "Ledger",
    "title": "Export invoices to CSV",
    "link": "https://support.example.com/requests/ER-4K7M2Q",
    "sender_name": "Destyn Dagle",
    "decline_reason": "It duplicates the existing report builder.",
    "review_date": "Q3 2025",
    "info_needed": "Which columns the export needs.",
    "return_feedback": "The expected monthly volume.",
    "projected_delivery_date": "2025-06-30",
    "live_date": "2025-07-01",
}

SUBJECTS = {
    "intake_acknowledgement": "Enhancement Request ER-4K7M2Q - Received",
    "pm_more_info": "Enhancement Request ER-4K7M2Q - Additional Details Requested",
    "board_declined": "Enhancement Request ER-4K7M2Q - Decision Update",
    "board_deferred": "Enhancement Request ER-4K7M2Q - Deferred for Additional Review",
    "board_approved_quote": "Enhancement Request ER-4K7M2Q - Proceeding to Quote",
    "board_approved_no_quote": "Enhancement Request ER-4K7M2Q - Approved for Scheduling",
    "leadership_returned": "Enhancement Request ER-4K7M2Q - Additional Details Requested",
    "leadership_declined": "Enhancement Request ER-4K7M2Q - Final Decision",
    "sow_received": "Enhancement Request ER-4K7M2Q - SOW Received, Scheduling Underway",
    "development_started": "Enhancement Request ER-4K7M2Q - Development Started",
    "delivered": "Enhancement Request ER-4K7M2Q - Delivered and Live",
}

INTAKE_TEXT = """\
From: Destyn Dagle <destyn@example.com>
To: Ada Lovelace <ada@example.com>
Subject: Enhancement Request ER-4K7M2Q - Received
Date: Tue, 04 Mar 2025 09:30:00 -0500
Message-ID: <20250304.1@example.com>
X-Erflow-Ticket: ER-4K7M2Q
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

Hi Ada Lovelace,

We’ve received your enhancement request for Ledger (Export invoices to CSV). \
Our product team will review the details and follow up after the initial review.

https://support.example.com/requests/ER-4K7M2Q

Thank you,
Destyn Dagle
"""


def render(name: str, templates: TemplateSet | None = None, **changes: object) -> Email:
    context = {**FULL, **changes}
    return (templates or TemplateSet(DEFAULTS)).render(
        name,
        context,
        ticket_id="ER-4K7M2Q",
        sender=SENDER,
        to="ada@example.com",
        to_name="Ada Lovelace",
    )


def headers_of(text: str) -> email.message.EmailMessage:
    message = email.message_from_string(text, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def write_template(directory: Path, name: str, text: str) -> TemplateSet:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.j2").write_text(text, encoding="utf-8")
    return TemplateSet(directory)


# --- the shipped templates ------------------------------------------------------------


def test_the_eleven_seed_templates_are_shipped_and_well_formed() -> None:
    templates = TemplateSet(DEFAULTS)
    assert set(SUBJECTS) <= set(templates.names())  # the other request types add their own
    assert templates.problems() == []


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_every_template_renders_the_seed_subject_and_a_signed_body(name: str) -> None:
    mail = render(name)
    assert mail.subject == SUBJECTS[name]
    assert mail.body.startswith(("Hi Ada Lovelace,\n\n", "Dear Ada Lovelace,\n\n"))
    assert mail.body.endswith(
        "\n\nhttps://support.example.com/requests/ER-4K7M2Q\n\nThank you,\nDestyn Dagle\n"
    )
    assert "{" not in mail.body and "[" not in mail.body


def test_intake_acknowledgement_renders_exactly_as_the_snapshot() -> None:
    mail = replace(render("intake_acknowledgement"), date=DATE, message_id=MESSAGE_ID)
    assert mail.as_text() == INTAKE_TEXT


def test_intake_acknowledgement_leaves_out_the_product_when_it_is_not_known_yet() -> None:
    context = {k: v for k, v in FULL.items() if k != "product"}
    mail = TemplateSet(DEFAULTS).render(
        "intake_acknowledgement",
        context,
        ticket_id="ER-4K7M2Q",
        sender=SENDER,
        to="ada@example.com",
        to_name="",
    )
    assert "We’ve received your enhancement request (Export invoices to CSV)." in mail.body


def test_declines_list_the_reason_as_a_bullet() -> None:
    assert "\n\n• It duplicates the existing report builder.\n\n" in render("board_declined").body
    assert "\n\n• The expected monthly volume.\n\n" in render("leadership_returned").body


def test_variables_lists_the_fields_a_template_uses() -> None:
    assert TemplateSet(DEFAULTS).variables("board_declined") == {
        "id",
        "customer_name",
        "title",
        "decline_reason",
        "link",
        "sender_name",
    }


# --- strict and sandboxed rendering ---------------------------------------------------


def test_a_missing_field_is_refused_naming_the_field() -> None:
    context = {k: v for k, v in FULL.items() if k != "decline_reason"}
    with pytest.raises(Refused) as caught:
        TemplateSet(DEFAULTS).render(
            "board_declined",
            context,
            ticket_id="ER-4K7M2Q",
            sender=SENDER,
            to="ada@example.com",
            to_name="Ada",
        )
    assert caught.value.missing == ["decline_reason"]
    assert caught.value.message == (
        "template 'board_declined' needs field 'decline_reason', which ticket ER-4K7M2Q lacks"
    )


def test_an_unknown_template_is_not_found() -> None:
    with pytest.raises(NotFound, match="template 'nope' not found in"):
        render("nope")
    with pytest.raises(NotFound):
        render("../templates/delivered")
    assert not TemplateSet(DEFAULTS).exists("nope")
    assert TemplateSet(DEFAULTS).exists("delivered")


def test_template_code_in_customer_text_renders_literally() -> None:
    title = "{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %}"
    mail = render("board_declined", title=title, decline_reason="{{ ''.__class__ }}")
    assert f"enhancement request: {title}\n" in mail.body
    assert "• {{ ''.__class__ }}\n" in mail.body
    assert "49" not in mail.body


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ title.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_the_sandbox_blocks_python_internals_in_a_template(tmp_path: Path, expression: str) -> None:
    templates = write_template(tmp_path, "evil", f"Subject: x\n\n{expression}\n")
    with pytest.raises(InvalidData, match=r"^templates/evil\.j2: unsafe template code"):
        render("evil", templates)


def test_a_template_bug_at_render_time_is_invalid_data(tmp_path: Path) -> None:
    templates = write_template(tmp_path, "bug", "Subject: x\n\n{{ 1 // 0 }}\n")
    with pytest.raises(InvalidData, match=r"^templates/bug\.j2: cannot render"):
        render("bug", templates)


# --- no header injection --------------------------------------------------------------


@pytest.mark.parametrize("title", ["x\r\nBcc: evil@example.com", "x\n", "x\rBcc: a@b.c"])
def test_a_title_with_line_breaks_adds_no_header(tmp_path: Path, title: str) -> None:
    templates = write_template(tmp_path, "echo", "Subject: Re: {{ title }} ({{ id }})\n\n{{ title }}\n")
    for mail in (
        render("echo", templates, title=title),
        render("board_declined", title=title),
    ):
        message = headers_of(mail.as_text())
        assert len(message.get_all("To", [])) == 1
        assert message.get_all("Bcc") is None
        assert "\n" not in mail.subject and "\r" not in mail.subject
    echoed = headers_of(render("echo", templates, title=title).as_text())
    assert echoed["Subject"] == " ".join(f"Re: {title} (ER-4K7M2Q)".split())


def test_control_characters_in_the_subject_collapse_to_one_space(
    tmp_path: Path,
) -> None:
    templates = write_template(tmp_path, "s", "Subject:  {{ title }}  \n\nbody\n")
    assert render("s", templates, title="a\t\x0b\x00\x1b b\u2028c\x85").subject == "a b c"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("to", "ada@example.com\r\nBcc: evil@example.com"),
        ("to", "ada@example.com\x00"),
        ("to_name", "Ada\nBcc: evil@example.com"),
        ("to_name", "Ada\r"),
        ("sender", "Destyn <destyn@example.com>\nBcc: evil@example.com"),
    ],
)
def test_a_line_break_or_nul_in_an_address_is_invalid_data_naming_the_field(
    field_name: str, value: str
) -> None:
    arguments = {
        "ticket_id": "ER-1",
        "sender": SENDER,
        "to": "a@example.com",
        "to_name": "",
    }
    arguments[field_name] = value
    with pytest.raises(InvalidData, match=f"email field '{field_name}'"):
        TemplateSet(DEFAULTS).render("delivered", FULL, **arguments)


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("to", "not-an-address"),
        ("to", "Ada <ada@example.com>"),
        ("to", "a@b, c@d"),
        ("sender", "a@b, c@d"),
        ("sender", "nobody"),
    ],
)
def test_an_invalid_address_is_invalid_data_naming_the_field(field_name: str, value: str) -> None:
    arguments = {
        "ticket_id": "ER-1",
        "sender": SENDER,
        "to": "a@example.com",
        "to_name": "",
    }
    arguments[field_name] = value
    with pytest.raises(InvalidData, match=f"email field '{field_name}' is not a valid address"):
        TemplateSet(DEFAULTS).render("delivered", FULL, **arguments)


def test_a_display_name_with_commas_and_accents_stays_one_recipient() -> None:
    mail = replace(render("delivered"), to_name="Lovelace, Ada (Zoë)")
    message = headers_of(mail.as_text())
    assert len(message["To"].addresses) == 1
    assert message["To"].addresses[0].display_name == "Lovelace, Ada (Zoë)"
    assert message["To"].addresses[0].addr_spec == "ada@example.com"


# --- problems() -----------------------------------------------------------------------


def test_problems_name_the_file_and_line_of_every_mistake(tmp_path: Path) -> None:
    directory = tmp_path / "templates"
    write_template(directory, "ok", "Subject: fine {{ id }}\n\nHello\n")
    write_template(directory, "body", "Subject: fine\n\nline 3\nline 4 {% if x %}\n")
    write_template(directory, "subject", "Subject: {{ id \n\nbody {{ }}\n")
    write_template(directory, "nosubject", "Hello {{ id }}\n\nbody\n")
    write_template(directory, "noblank", "Subject: x\nbody\n")
    (directory / "latin.j2").write_bytes(b"Subject: x\n\ncaf\xe9\n")
    (directory / "notes.txt").write_text("not a template")
    (directory / ".draft.j2").write_text("an editor's swap file")
    assert TemplateSet(directory).problems() == [
        (
            "templates/body.j2:4: Unexpected end of template. Jinja was looking for the"
            " following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to"
            " be closed is 'if'."
        ),
        "templates/latin.j2:3: not valid UTF-8",
        "templates/noblank.j2:2: the Subject line must be followed by an empty line",
        "templates/nosubject.j2:1: the first line must be 'Subject: <text>'",
        "templates/subject.j2:1: unexpected end of template, expected 'end of print statement'.",
        "templates/subject.j2:3: Expected an expression, got 'end of print statement'",
    ]


def test_rendering_a_template_with_a_syntax_error_is_invalid_data(
    tmp_path: Path,
) -> None:
    templates = write_template(tmp_path, "bad", "Subject: x\n\n\n{% endfor %}\n")
    with pytest.raises(InvalidData, match=r"^templates/bad\.j2:4: "):
        render("bad", templates)
    with pytest.raises(InvalidData, match=r"^templates/bad\.j2:4: "):
        templates.variables("bad")


# --- SmtpConfig -------------------------------------------------------------------------


def test_smtp_config_is_none_without_a_host() -> None:
    assert SmtpConfig.from_env({}) is None
    assert SmtpConfig.from_env({"ERFLOW_SMTP_HOST": ""}) is None


@pytest.mark.parametrize(("tls", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_smtp_config_defaults_the_port_from_the_tls_mode(tls: str, port: int) -> None:
    config = SmtpConfig.from_env({"ERFLOW_SMTP_HOST": "mail", "ERFLOW_SMTP_TLS": tls})
    assert config == SmtpConfig("mail", port, None, None, tls)


def test_smtp_config_reads_every_variable(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("x")
    env = {
        "ERFLOW_SMTP_HOST": "mail.example.com",
        "ERFLOW_SMTP_PORT": "2525",
        "ERFLOW_SMTP_USER": USER,
        "ERFLOW_SMTP_PASSWORD": PASSWORD,
        "ERFLOW_SMTP_FROM": SENDER,
        "ERFLOW_SMTP_CAFILE": str(cafile),
    }
    assert SmtpConfig.from_env(env) == SmtpConfig(
        "mail.example.com", 2525, USER, PASSWORD, "starttls", SENDER, str(cafile)
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ERFLOW_SMTP_TLS", "tls"),
        ("ERFLOW_SMTP_PORT", "smtp"),
        ("ERFLOW_SMTP_PORT", "70000"),
        ("ERFLOW_SMTP_PORT", "0"),
        ("ERFLOW_SMTP_FROM", "not an address"),
        ("ERFLOW_SMTP_CAFILE", "/nonexistent/ca.pem"),
        ("ERFLOW_SMTP_PASSWORD", "secret-without-user"),
        ("ERFLOW_SMTP_HOST", "mail example"),
    ],
)
def test_a_bad_smtp_variable_is_a_usage_error_naming_it(variable: str, value: str) -> None:
    env = {"ERFLOW_SMTP_HOST": "mail", variable: value}
    with pytest.raises(UsageError) as caught:
        SmtpConfig.from_env(env)
    assert variable in caught.value.message
    assert "secret-without-user" not in str(caught.value)


def test_smtp_config_repr_never_shows_the_password() -> None:
    config = SmtpConfig("mail", 587, USER, PASSWORD, "starttls")
    assert PASSWORD not in repr(config)
    assert PASSWORD not in str(config)
    assert "password='***'" in repr(config)


# --- delivery to a real SMTP server ---------------------------------------------------


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    messages: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        raw = raw.replace(b"\r\n", b"\n")  # as received on the wire, back in local form
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Server:
    inbox: Inbox
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command-line tool."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command-line tool is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    command += " -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
    arguments = [*command.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(arguments, check=True, capture_output=True)
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A running aiosmtpd server; indirect parameters are passed to the Controller."""
    options: dict[str, Any] = dict(getattr(request, "param", {}))
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


def config(port: int, tls: str = "none", **changes: Any) -> SmtpConfig:
    return replace(SmtpConfig("127.0.0.1", port, None, None, tls), **changes)


def test_send_delivers_every_email_over_plain_smtp(smtp_server: Server) -> None:
    mails = [render("delivered"), replace(render("sow_received"), to="bob@example.com")]
    send(mails, config(smtp_server.port), timeout=5)
    assert [(frm, to) for frm, to, _ in smtp_server.inbox.messages] == [
        ("destyn@example.com", ["ada@example.com"]),
        ("destyn@example.com", ["bob@example.com"]),
    ]
    received = smtp_server.inbox.messages[0][2]
    assert received["Subject"] == SUBJECTS["delivered"]
    assert received["X-Erflow-Ticket"] == "ER-4K7M2Q"
    assert received["Message-ID"] == mails[0].message_id
    assert received.get_content() == mails[0].body


def test_send_of_nothing_opens_no_connection() -> None:
    send([], config(free_port()), timeout=5)


def test_the_configured_sender_replaces_the_template_sender(
    smtp_server: Server,
) -> None:
    send(
        [render("delivered")],
        config(smtp_server.port, sender="Erflow <erflow@example.org>"),
        timeout=5,
    )
    mail_from, _, received = smtp_server.inbox.messages[0]
    assert mail_from == "erflow@example.org"
    assert received["From"] == "Erflow <erflow@example.org>"


@pytest.mark.parametrize("smtp_server", [{"decode_data": True}], indirect=True)
def test_a_server_without_8bitmime_gets_quoted_printable(smtp_server: Server) -> None:
    mail = render("intake_acknowledgement")
    send([mail], config(smtp_server.port), timeout=5)
    received = smtp_server.inbox.messages[0][2]
    assert received["Content-Transfer-Encoding"] == "quoted-printable"
    assert received.get_content() == mail.body


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


def test_starttls_with_a_trusted_certificate_delivers_with_login(
    tls_server: Server, certificate: tuple[Path, Path]
) -> None:
    settings = config(
        tls_server.port,
        "starttls",
        cafile=str(certificate[0]),
        user=USER,
        password=PASSWORD,
    )
    send([render("delivered")], settings, timeout=5)
    assert len(tls_server.inbox.messages) == 1


def test_starttls_with_an_untrusted_certificate_delivers_nothing(
    tls_server: Server,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        send([render("delivered")], config(tls_server.port, "starttls"), timeout=5)
    assert "certificate" in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint is not None and "ERFLOW_SMTP_CAFILE" in caught.value.hint
    assert tls_server.inbox.messages == []


def test_implicit_tls_delivers_when_the_certificate_is_trusted(
    certificate: tuple[Path, Path],
) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate))
    controller.start()
    try:
        with pytest.raises(DeliveryError, match="certificate"):
            send([render("delivered")], config(port, "ssl"), timeout=5)
        assert inbox.messages == []
        send(
            [render("delivered")],
            config(port, "ssl", cafile=str(certificate[0])),
            timeout=5,
        )
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    "smtp_server",
    [{"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}],
    indirect=True,
)
def test_login_succeeds_with_the_right_password(smtp_server: Server) -> None:
    send(
        [render("delivered")],
        config(smtp_server.port, user=USER, password=PASSWORD),
        timeout=5,
    )
    assert len(smtp_server.inbox.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    "smtp_server",
    [{"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}],
    indirect=True,
)
def test_a_refused_login_never_shows_the_password(smtp_server: Server) -> None:
    wrong = "hunter2-wrong"
    with pytest.raises(DeliveryError) as caught:
        send(
            [render("delivered")],
            config(smtp_server.port, user=USER, password=wrong),
            timeout=5,
        )
    error = caught.value
    assert error.message.startswith(f"cannot send email via 127.0.0.1:{smtp_server.port} (none):")
    assert f"login as '{USER}' refused (535 " in error.message
    assert wrong not in str(error) and wrong not in repr(error)
    assert smtp_server.inbox.messages == []


@pytest.mark.parametrize(
    "smtp_server",
    [{"authenticator": authenticate, "auth_require_tls": False}],
    indirect=True,
)
def test_a_password_smtp_cannot_encode_is_a_delivery_error_without_it(
    smtp_server: Server,
) -> None:
    wrong = "s\u00e9same-ouvre-toi"
    with pytest.raises(DeliveryError) as caught:
        send([render("delivered")], config(smtp_server.port, user=USER, password=wrong))
    assert "non-ASCII" in caught.value.message
    assert wrong not in str(caught.value)
    assert smtp_server.inbox.messages == []


def test_an_unreachable_server_is_a_one_line_delivery_error() -> None:
    with pytest.raises(DeliveryError) as caught:
        send([render("delivered")], config(free_port(), password=PASSWORD), timeout=5)
    assert caught.value.message.startswith("cannot send email via 127.0.0.1:")
    assert "\n" not in caught.value.message
    assert PASSWORD not in str(caught.value)
