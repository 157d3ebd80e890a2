"""Customer emails: templates rendered sandboxed and strict, messages built and delivered.

The only module of erflow that imports jinja2, smtplib, ssl or email. It never prints; every
failure is an erflow error.
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.message
import email.policy
import email.utils
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.headerregistry import Address
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from erflow.core.addresses import addr_spec, check_line, mailbox
from erflow.core.errors import (
    DeliveryError,
    InvalidData,
    NotFound,
    Refused,
    UsageError,
    located,
)

TLS_MODES = ("starttls", "ssl", "none")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_SUBJECT = re.compile(r"Subject:[ \t]*([^\r\n]*)")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UNDEFINED = re.compile(r"^'([^']+)' is undefined$|has no attribute '([^']+)'")
# What a template's own mistake can raise while rendering (a filter given bad input, ...).
_TEMPLATE_BUGS = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
)
_MAX_LINE = 998  # octets per line allowed by RFC 5322


def _now() -> datetime:
    return datetime.now(timezone.utc).astimezone()


def _no_encoded_words(text: str) -> str:
    """Customer text for a header, kept from being read as RFC 2047: Python's email package decodes
    '=?utf-8?q?...=0A?=' typed by a customer into a real line break, which would start a new header."""
    return text.replace("=?", "= ?")


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Email:
    """One rendered customer email; constructing it validates every header value."""

    template: str
    ticket_id: str
    sender: str
    to: str
    to_name: str
    subject: str
    body: str
    date: datetime = field(default_factory=_now)
    message_id: str = ""

    def __post_init__(self) -> None:
        for what in ("template", "ticket_id", "to_name", "subject", "message_id"):
            check_line(getattr(self, what), what)
        sender = mailbox(self.sender, "sender")
        addr_spec(self.to, "to")
        if self.date.tzinfo is None:
            raise InvalidData("email field 'date' has no time zone offset")
        if not self.message_id:
            msgid = email.utils.make_msgid(domain=sender.domain)
            object.__setattr__(self, "message_id", msgid)

    def as_message(self) -> email.message.EmailMessage:
        return self._message(eight_bit=True)

    def as_text(self) -> str:
        return self.as_message().as_bytes().decode("utf-8")

    def _message(self, *, eight_bit: bool) -> email.message.EmailMessage:
        msg = email.message.EmailMessage(policy=email.policy.default)
        msg["From"] = mailbox(self.sender, "sender")
        to = addr_spec(self.to, "to")
        name = _no_encoded_words(self.to_name)
        msg["To"] = Address(display_name=name, username=to.username, domain=to.domain)
        msg["Subject"] = _no_encoded_words(self.subject)
        msg["Date"] = email.utils.format_datetime(self.date)
        msg["Message-ID"] = self.message_id
        msg["X-Erflow-Ticket"] = self.ticket_id
        lines = self.body.encode("utf-8").splitlines()
        if any(len(line) > _MAX_LINE for line in lines):
            cte = "quoted-printable"
        elif self.body.isascii():
            cte = "7bit"
        else:
            cte = "8bit" if eight_bit else "quoted-printable"
        msg.set_content(self.body, charset="utf-8", cte=cte)
        _check_headers(msg)
        return msg


def _check_headers(msg: email.message.EmailMessage) -> None:
    """The last guard: the message as written has exactly the headers erflow set, no line more."""
    try:
        head = msg.as_bytes(policy=msg.policy.clone(linesep="\n")).split(b"\n\n", 1)[0]
    except (email.errors.MessageError, ValueError) as exc:  # a newer Python refuses to write it
        raise InvalidData(f"email header cannot be written safely: {exc}") from None
    written = [line.split(b":", 1)[0].decode("ascii", "replace") for line in head.split(b"\n")]
    if [n for n in written if n and n[0] not in " \t"] != list(msg.keys()):
        raise InvalidData("email header value would add a header line; refused")


@dataclass(frozen=True)
class _Parsed:
    subject: jinja2.Template
    body: jinja2.Template
    variables: frozenset[str]


class TemplateSet:
    """The email templates of a folder: NAME.j2 holds 'Subject: ...', an empty line, the body."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._loader = jinja2.FileSystemLoader(directory, encoding="utf-8")
        self._env = SandboxedEnvironment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._cache: dict[str, _Parsed] = {}

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        found = self.directory.glob("*.j2")
        return sorted(p.stem for p in found if p.is_file() and not p.name.startswith("."))

    def exists(self, name: str) -> bool:
        return name in self.names()

    def variables(self, name: str) -> set[str]:
        return set(self._parse(name).variables)

    def render(
        self,
        name: str,
        context: Mapping[str, object],
        *,
        ticket_id: str,
        sender: str,
        to: str,
        to_name: str,
    ) -> Email:
        parsed = self._parse(name)
        values = dict(context)
        subject = _one_line(self._render_part(name, parsed.subject, values, ticket_id))
        body = self._render_part(name, parsed.body, values, ticket_id)
        if not subject:
            raise InvalidData(located(self._path(name), 1, "the Subject renders empty"))
        return Email(
            template=name,
            ticket_id=ticket_id,
            sender=sender,
            to=to,
            to_name=to_name,
            subject=subject,
            body=body,
        )

    def _render_part(
        self, name: str, template: jinja2.Template, values: dict[str, object], ticket_id: str
    ) -> str:
        """Render with every failure named: a missing field refuses (exit 3), unsafe code is invalid."""
        try:
            return template.render(values)
        except SecurityError as exc:
            raise InvalidData(located(self._path(name), None, f"unsafe template code: {exc}")) from None
        except jinja2.UndefinedError as exc:
            match = _UNDEFINED.search(exc.message or "")
            missing = [next(g for g in match.groups() if g)] if match else []
            what = f"field '{missing[0]}'" if missing else f"a value ({exc.message})"
            raise Refused(
                f"template '{name}' needs {what}, which ticket {ticket_id} lacks",
                missing=missing,
            ) from None
        except _TEMPLATE_BUGS as exc:  # e.g. a filter given a value it cannot handle
            raise InvalidData(located(self._path(name), None, f"cannot render: {exc}")) from None

    def problems(self) -> list[str]:
        found: list[str] = []
        for name in self.names():
            self._cache.pop(name, None)
            try:
                found.extend(self._load(name)[1])
            except InvalidData as exc:
                found.append(exc.message)
        return found

    def _path(self, name: str) -> str:
        return f"templates/{name}.j2"

    def _parse(self, name: str) -> _Parsed:
        parsed, errors = self._load(name)
        if parsed is None:
            more = len(errors) - 1
            raise InvalidData(errors[0], hint=f"{more} more; run erflow check" if more else None)
        return parsed

    def _load(self, name: str) -> tuple[_Parsed | None, list[str]]:
        """The template split into Subject and body and compiled, or every syntax error."""
        if name in self._cache:
            return self._cache[name], []
        source = self._source(name)
        path = self._path(name)
        match = _SUBJECT.match(source)
        if not match or not match.group(1).strip():
            raise InvalidData(located(path, 1, "the first line must be 'Subject: <text>'"))
        rest = _NEWLINE.split(source[match.end() :], maxsplit=2)
        if len(rest) < 3 or rest[1].strip():
            raise InvalidData(located(path, 2, "the Subject line must be followed by an empty line"))
        errors: list[str] = []
        subject = self._compile(match.group(1), path, 0, errors)
        body = self._compile(rest[2], path, 2, errors)
        if subject is None or body is None:
            return None, errors
        parsed = _Parsed(subject[0], body[0], frozenset(subject[1] | body[1]))
        self._cache[name] = parsed
        return parsed, []

    def _source(self, name: str) -> str:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"template '{name}' not found in {self.directory}")
        try:
            source, _, _ = self._loader.get_source(self._env, f"{name}.j2")
        except jinja2.TemplateNotFound:
            raise NotFound(f"template '{name}' not found in {self.directory}") from None
        except UnicodeDecodeError as exc:
            data = (self.directory / f"{name}.j2").read_bytes()
            line = data[: exc.start].count(b"\n") + 1
            raise InvalidData(located(self._path(name), line, "not valid UTF-8")) from None
        return str(source)

    def _compile(
        self, source: str, path: str, offset: int, errors: list[str]
    ) -> tuple[jinja2.Template, set[str]] | None:
        """Compile one part; `offset` is the number of file lines before it."""
        try:
            tree = self._env.parse(source)
            return self._env.from_string(tree), jinja2.meta.find_undeclared_variables(tree)
        except jinja2.TemplateSyntaxError as exc:
            errors.append(located(path, exc.lineno + offset, exc.message or "syntax error"))
            return None


class DocumentSet(TemplateSet):
    """Document templates (templates/documents/NAME.j2): Markdown made from a ticket, such as a
    knowledge article or an invoice. The same sandbox and strictness as emails; no Subject line."""

    def _path(self, name: str) -> str:
        return f"templates/documents/{name}.j2"

    def _load(self, name: str) -> tuple[_Parsed | None, list[str]]:
        if name in self._cache:
            return self._cache[name], []
        errors: list[str] = []
        body = self._compile(self._source(name), self._path(name), 0, errors)
        if body is None:
            return None, errors
        parsed = _Parsed(body[0], body[0], frozenset(body[1]))
        self._cache[name] = parsed
        return parsed, []

    def render_text(self, name: str, context: Mapping[str, object], *, ticket_id: str) -> str:
        return self._render_part(name, self._parse(name).body, dict(context), ticket_id)


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server, from ERFLOW_SMTP_* variables."""

    host: str
    port: int
    user: str | None
    password: str | None
    tls: str
    sender: str | None = None
    cafile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpConfig | None:
        host = env.get("ERFLOW_SMTP_HOST", "").strip()
        if not host:
            return None
        if _WHITESPACE.search(host):
            raise UsageError(f"ERFLOW_SMTP_HOST is not a host name: {host!r}")
        tls = env.get("ERFLOW_SMTP_TLS", "").strip().lower() or "starttls"
        if tls not in TLS_MODES:
            raise UsageError(f"ERFLOW_SMTP_TLS must be starttls, ssl or none, not {tls!r}")
        raw_port = env.get("ERFLOW_SMTP_PORT", "").strip()
        port = _DEFAULT_PORTS[tls]
        if raw_port:
            port = int(raw_port) if raw_port.isdecimal() else 0
            if not 0 < port < 65536:
                raise UsageError(f"ERFLOW_SMTP_PORT must be a port number, not {raw_port!r}")
        user = env.get("ERFLOW_SMTP_USER") or None
        password = env.get("ERFLOW_SMTP_PASSWORD") or None
        if password is not None and user is None:
            raise UsageError("ERFLOW_SMTP_PASSWORD is set but ERFLOW_SMTP_USER is not")
        if user is not None and password is None:
            raise UsageError("ERFLOW_SMTP_USER is set but ERFLOW_SMTP_PASSWORD is not")
        sender = env.get("ERFLOW_SMTP_FROM", "").strip() or None
        if sender is not None:
            try:
                mailbox(sender, "sender")
            except InvalidData:
                raise UsageError(f"ERFLOW_SMTP_FROM is not a valid address: {sender!r}") from None
        cafile = env.get("ERFLOW_SMTP_CAFILE") or None
        if cafile is not None and not Path(cafile).is_file():
            raise UsageError(f"ERFLOW_SMTP_CAFILE is not a file: {cafile!r}")
        return cls(host, port, user, password, tls, sender, cafile)

    def __repr__(self) -> str:
        secret = None if self.password is None else "'***'"
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={secret}, tls={self.tls!r}, sender={self.sender!r}, cafile={self.cafile!r})"
        )


def send(emails: Sequence[Email], config: SmtpConfig, *, timeout: float = 30.0) -> None:
    """Deliver every email in one SMTP session; any failure raises DeliveryError."""
    if not emails:
        return
    sent = 0
    try:
        context = None if config.tls == "none" else _tls_context(config.cafile)
        smtp: smtplib.SMTP
        if config.tls == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with smtp:
            smtp.ehlo_or_helo_if_needed()
            if config.tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo_or_helo_if_needed()  # the session starts afresh under TLS
            if config.user is not None:
                smtp.login(config.user, config.password or "")
            eight_bit = smtp.has_extn("8bitmime")
            for one in emails:
                if config.sender is not None:
                    one = dataclasses.replace(one, sender=config.sender)
                envelope_from = mailbox(one.sender, "sender").addr_spec
                message = one._message(eight_bit=eight_bit)
                smtp.send_message(message, from_addr=envelope_from, to_addrs=[one.to])
                sent += 1
    except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
        raise _delivery_error(exc, config, sent, len(emails)) from None


def _tls_context(cafile: str | None) -> ssl.SSLContext:
    """The system's trusted CAs, plus ERFLOW_SMTP_CAFILE's; certificates are verified."""
    context = ssl.create_default_context()
    if cafile is not None:
        context.load_verify_locations(cafile=cafile)
    return context


def _delivery_error(exc: BaseException, config: SmtpConfig, sent: int, total: int) -> DeliveryError:
    hint = None
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"TLS certificate not trusted ({exc.verify_message})"
        hint = "set ERFLOW_SMTP_CAFILE to a CA bundle that trusts the server"
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        reason = f"login as {config.user!r} refused ({exc.smtp_code} {_text(exc.smtp_error)})"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "recipient refused: " + ", ".join(
            f"{addr} ({code} {_text(text)})" for addr, (code, text) in exc.recipients.items()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        reason = f"server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, UnicodeError):
        reason = "non-ASCII text where SMTP allows only ASCII (user name, password or address)"
    elif isinstance(exc, TimeoutError):
        reason = "timed out"
    else:
        reason = str(exc) or type(exc).__name__
    message = f"cannot send email via {config.host}:{config.port} ({config.tls}): {reason}"
    if sent:
        message += f"; {sent} of {total} emails were sent before the failure"
    if config.password:
        message = message.replace(config.password, "***")
    return DeliveryError(_one_line(message), hint=hint)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
