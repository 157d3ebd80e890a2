"""Reading inbound mail from an IMAP folder, configured from ERFLOW_IMAP_* variables.

A message is processed once it carries the keyword ``$Erflow`` (not ``\\Seen``: a person may have
read it in webmail). Messages are fetched one at a time by UID with ``BODY.PEEK[]``, so their bytes
are the server's, unparsed, and reading sets no flag. Every failure is a MailSourceError (or, for the
settings, a UsageError) with one line naming host:port and the server's reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from erflow.core.errors import MailSourceError, UsageError
from erflow.mail.endpoint import cafile, endpoint, tls_context
from erflow.mail.incoming import Incoming
from erflow.mail.message import one_line

if TYPE_CHECKING:
    from imap_tools import BaseMailBox

TLS_MODES = ("ssl", "starttls", "none")
_DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
KEYWORD = "$Erflow"
_IDLE_LIMIT = 25 * 60.0  # RFC 2177: re-issue IDLE at least every 29 minutes


@dataclass(frozen=True)
class ImapConfig:
    """How to reach the IMAP folder, from ERFLOW_IMAP_* variables."""

    host: str
    port: int
    user: str
    password: str
    tls: str = "ssl"
    folder: str = "INBOX"
    cafile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ImapConfig | None:
        found = endpoint(env, "IMAP", TLS_MODES, _DEFAULT_PORTS)
        if found is None:
            return None
        host, tls, port = found
        user = env.get("ERFLOW_IMAP_USER") or None
        password = env.get("ERFLOW_IMAP_PASSWORD") or None
        if user is None:
            raise UsageError("ERFLOW_IMAP_USER is not set (IMAP needs a user and a password)")
        if password is None:
            raise UsageError("ERFLOW_IMAP_PASSWORD is not set (IMAP needs a user and a password)")
        folder = env.get("ERFLOW_IMAP_FOLDER", "").strip() or "INBOX"
        if any(ord(c) < 32 or ord(c) == 127 for c in folder):
            raise UsageError(f"ERFLOW_IMAP_FOLDER is not a folder name: {folder!r}")
        return cls(host, port, user, password, tls, folder, cafile(env, "IMAP"))

    def __repr__(self) -> str:
        return (
            f"ImapConfig(host={self.host!r}, port={self.port}, user={self.user!r}, password='***', "
            f"tls={self.tls!r}, folder={self.folder!r}, cafile={self.cafile!r})"
        )


class ImapSource:
    """The messages of one IMAP folder without the keyword $Erflow, oldest (lowest UID) first.

    Connects and logs in on creation; ``close`` (or leaving the ``with`` block) logs out.
    """

    def __init__(self, config: ImapConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self._box = self._call(lambda: _connect(config, timeout), "cannot connect")
        self._idle = self._call(lambda: "IDLE" in _capabilities(self._box), "cannot connect")

    def messages(self) -> Iterator[Incoming]:
        client = self._box.client
        uids = self._call(
            lambda: _answer(client.uid("SEARCH", "UNDELETED", "UNKEYWORD", KEYWORD), "SEARCH"),
            "cannot search",
        )
        found = sorted(int(uid) for uid in b" ".join(u for u in uids if u).split())
        for uid in found:
            data = self._call(lambda uid=uid: _fetch(client, uid), f"cannot fetch uid {uid}")
            if data is not None:
                yield Incoming(f"imap {self.config.folder} uid {uid}", data, str(uid))

    def done(self, item: Incoming) -> None:
        client = self._box.client
        self._call(
            lambda: _answer(client.uid("STORE", item.key, "+FLAGS.SILENT", f"(\\Seen {KEYWORD})"), "STORE"),
            f"cannot mark uid {item.key} processed",
        )

    def wait(self, seconds: float) -> None:
        """IDLE until the folder changes or ``seconds`` pass, when the server has IDLE; else sleep."""
        deadline = time.monotonic() + max(0.0, seconds)
        while (left := deadline - time.monotonic()) > 0:
            if not self._idle:
                time.sleep(left)
                return
            if self._call(lambda: self._box.idle.wait(timeout=min(left, _IDLE_LIMIT)), "IDLE failed"):
                return

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._box.logout()

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, action: Any, doing: str) -> Any:
        """Run ``action``; any failure of the server, the network or TLS becomes a MailSourceError."""
        import imaplib

        from imap_tools.errors import ImapToolsError

        try:
            return action()
        except (ImapToolsError, imaplib.IMAP4.error, OSError, ValueError, UnicodeError) as exc:
            raise _source_error(exc, self.config, doing) from None


def _connect(config: ImapConfig, timeout: float) -> BaseMailBox:
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    box: BaseMailBox
    if config.tls == "ssl":
        box = MailBox(config.host, config.port, timeout=timeout, ssl_context=tls_context(config.cafile))
    elif config.tls == "starttls":
        box = MailBoxStartTls(
            config.host, config.port, timeout=timeout, ssl_context=tls_context(config.cafile)
        )
    else:
        box = MailBoxUnencrypted(config.host, config.port, timeout=timeout)
    try:
        box.login(config.user, config.password, initial_folder=config.folder)
    except BaseException:
        with contextlib.suppress(Exception):
            box.client.shutdown()
        raise
    return box


def _capabilities(box: BaseMailBox) -> set[str]:
    """What the server announces once logged in (it may announce more than before login)."""
    answer = _answer(box.client.capability(), "CAPABILITY")
    return {word.upper() for word in b" ".join(a for a in answer if a).decode("ascii", "replace").split()}


def _fetch(client: Any, uid: int) -> bytes | None:
    """The raw bytes of message ``uid`` (None when it was expunged meanwhile); sets no flag."""
    for part in _answer(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH"):
        if isinstance(part, tuple) and b"BODY[]" in part[0].upper():
            data: bytes = part[1]
            return data
    return None


def _answer(result: tuple[str, list[Any]], command: str) -> list[Any]:
    """The data of an OK answer; any other raises (the server's words included)."""
    import imaplib

    status, data = result
    if status != "OK":
        raise imaplib.IMAP4.error(f"{command} answered {status} {_words(data)}")
    return data


def _source_error(exc: BaseException, config: ImapConfig, doing: str) -> MailSourceError:
    import ssl

    from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError, UnexpectedCommandStatusError

    hint = None
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"TLS certificate not trusted ({exc.verify_message})"
        hint = "set ERFLOW_IMAP_CAFILE to a CA bundle that trusts the server"
    elif isinstance(exc, MailboxLoginError):
        reason = f"login as {config.user!r} refused ({_words(exc.command_result[1])})"
    elif isinstance(exc, MailboxFolderSelectError):
        reason = f"folder {config.folder!r} cannot be opened ({_words(exc.command_result[1])})"
    elif isinstance(exc, UnexpectedCommandStatusError):
        reason = f"server answered {exc.command_result[0]} {_words(exc.command_result[1])}"
    elif isinstance(exc, TimeoutError):
        reason = "timed out"
    elif isinstance(exc, UnicodeError):
        reason = "non-ASCII text where IMAP allows only ASCII (user name or password)"
    else:
        reason = str(exc) or type(exc).__name__
    message = f"{doing} via IMAP {config.host}:{config.port} ({config.tls}): {reason}"
    if config.password:
        message = message.replace(config.password, "***")
    return MailSourceError(one_line(message), hint=hint)


def _words(data: object) -> str:
    """The text of a server's answer data (a list of bytes, or a string)."""
    parts = data if isinstance(data, list) else [data]
    text = " ".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts if p)
    return text.strip() or "no reason given"
