"""Delivering emails over SMTP, configured from ERFLOW_SMTP_* variables.

The only module of erflow that imports smtplib or ssl. Every failure is a DeliveryError (or, for
the settings, a UsageError).
"""

from __future__ import annotations

import contextlib
import dataclasses
import smtplib
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from erflow.core.addresses import mailbox
from erflow.core.errors import DeliveryError, InvalidData, UsageError
from erflow.mail.endpoint import cafile, endpoint, tls_context
from erflow.mail.message import Email, one_line
from erflow.mail.outbox import Entry

TLS_MODES = ("starttls", "ssl", "none")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


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
        found = endpoint(env, "SMTP", TLS_MODES, _DEFAULT_PORTS)
        if found is None:
            return None
        host, tls, port = found
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
        return cls(host, port, user, password, tls, sender, cafile(env, "SMTP"))

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
        with _session(config, timeout) as smtp:
            eight_bit = smtp.has_extn("8bitmime")
            for one in emails:
                if config.sender is not None:
                    one = dataclasses.replace(one, sender=config.sender)
                envelope_from = mailbox(one.sender, "sender").addr_spec
                message = one.as_message(eight_bit=eight_bit)
                smtp.send_message(message, from_addr=envelope_from, to_addrs=[one.to])
                sent += 1
    except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
        raise _delivery_error(exc, config, sent, len(emails)) from None


@dataclass
class Outcome:
    """What became of one message handed to ``deliver``: ``sent`` (the server accepted it),
    ``refused`` (it answered an error code: not accepted; ``permanent`` for 5xx), ``unknown`` (the
    session broke during its transaction: accepted or not, nobody knows) or ``not tried`` (the
    session failed before it; ``error`` says why)."""

    status: str = "not tried"
    error: str | None = None
    permanent: bool = False


def deliver(
    entries: Sequence[Entry],
    config: SmtpConfig,
    *,
    before: Callable[[int], None],
    accepted: Callable[[int], None],
    timeout: float = 30.0,
) -> list[Outcome]:
    """Hand outbox entries (their bytes as they are) to the server in one session. ``before(i)`` runs
    before the transaction of entry ``i`` begins, ``accepted(i)`` once the server has accepted it:
    the caller records both durably. Never raises for a delivery problem: each entry's outcome says."""
    outcomes = [Outcome() for _ in entries]
    current: int | None = None
    try:
        with _session(config, timeout) as smtp:
            eight_bit = smtp.has_extn("8bitmime")
            for number, entry in enumerate(entries):
                data, options = entry.wire(eight_bit)
                current = number
                before(number)
                try:
                    smtp.sendmail(entry.envelope_from, [entry.to], data, mail_options=options)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                    code = getattr(exc, "smtp_code", 550)
                    if isinstance(exc, smtplib.SMTPRecipientsRefused):
                        code = min((c for c, _ in exc.recipients.values()), default=550)
                    outcomes[number] = Outcome(
                        "refused", _delivery_error(exc, config, 0, 1).message, permanent=code >= 500
                    )
                    current = None
                    if code == 421:  # the server is closing the session
                        break
                    continue
                current = None
                outcomes[number] = Outcome("sent")
                accepted(number)
    except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
        problem = _delivery_error(exc, config, 0, 1).message
        for number, outcome in enumerate(outcomes):
            if number == current:
                outcomes[number] = Outcome("unknown", problem)
            elif outcome.status == "not tried":
                outcome.error = problem
    return outcomes


@contextlib.contextmanager
def _session(config: SmtpConfig, timeout: float) -> Iterator[smtplib.SMTP]:
    """A session with the server, greeted, under TLS as configured, logged in."""
    context = None if config.tls == "none" else tls_context(config.cafile)
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
        yield smtp


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
    return DeliveryError(one_line(message), hint=hint)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
