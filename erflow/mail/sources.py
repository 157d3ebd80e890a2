"""Where inbound mail comes from: an IMAP folder (erflow.mail.imap), a Maildir or an mbox file.

A source yields the messages it has not yet seen processed, oldest first, as the bytes they are
stored as; ``done`` marks one processed, and is called only once its ticket change is committed.
Nothing here knows about tickets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from erflow.core.errors import MailSourceError, UsageError
from erflow.mail.imap import ImapConfig, ImapSource
from erflow.mail.incoming import Closing, Incoming, Source

__all__ = ["ImapConfig", "ImapSource", "Incoming", "MaildirSource", "MboxSource", "Source"]


class MaildirSource(Closing):
    """The messages of a Maildir not yet seen: those in ``new/`` and those in ``cur/`` without the
    ``S`` (seen) flag. ``done`` moves a message to ``cur/`` and adds ``S`` by one rename, the standard
    Maildir meaning of "seen": a mail client that marks a message read marks it processed too, which
    is good enough for a folder that erflow owns.

    The folder is listed directly (the format is two directories of one file a message); the stdlib
    ``mailbox.Maildir`` checks that it is one. Messages are read as their files hold them.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import mailbox

        self.path = Path(path)
        try:
            mailbox.Maildir(self.path, factory=None, create=False)
        except mailbox.NoSuchMailboxError:
            raise UsageError(f"no Maildir at {str(self.path)!r}: the folder does not exist") from None
        missing = [sub for sub in ("new", "cur", "tmp") if not (self.path / sub).is_dir()]
        if missing:
            raise UsageError(f"{str(self.path)!r} is not a Maildir: it has no {'/, '.join(missing)}/")

    def messages(self) -> Iterator[Incoming]:
        for subdir, name in self._unseen():
            try:
                data = (self.path / subdir / name).read_bytes()
            except FileNotFoundError:
                continue  # moved or deleted by someone else since the listing
            except OSError as exc:
                raise MailSourceError(f"cannot read {self.path / subdir / name}: {exc.strerror}") from None
            yield Incoming(f"maildir {subdir}/{name}", data, _unique(name))

    def done(self, item: Incoming) -> None:
        for subdir in ("new", "cur"):
            for name in self._names(subdir):
                if _unique(name) != item.key:
                    continue
                flags = "".join(sorted(set(_flags(name)) | {"S"}))
                target = self.path / "cur" / f"{item.key}{_COLON}2,{flags}"
                try:
                    os.rename(self.path / subdir / name, target)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise MailSourceError(f"cannot mark {item.where} seen: {exc.strerror}") from None
                return

    def wait(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))

    def _unseen(self) -> list[tuple[str, str]]:
        found: list[tuple[int, str, str]] = []
        for subdir in ("new", "cur"):
            for name in self._names(subdir):
                if subdir == "cur" and "S" in _flags(name):
                    continue
                try:
                    stamp = (self.path / subdir / name).stat().st_mtime_ns
                except FileNotFoundError:
                    continue
                found.append((stamp, subdir, name))
        found.sort(key=lambda one: (one[0], _unique(one[2])))
        return [(subdir, name) for _, subdir, name in found]

    def _names(self, subdir: str) -> list[str]:
        try:
            with os.scandir(self.path / subdir) as entries:
                return [e.name for e in entries if not e.name.startswith(".") and e.is_file()]
        except OSError as exc:
            raise MailSourceError(f"cannot list {self.path / subdir}: {exc.strerror}") from None


_COLON = ":"


def _unique(name: str) -> str:
    return name.split(_COLON, 1)[0]


def _flags(name: str) -> str:
    _, _, info = name.partition(_COLON)
    return info[2:] if info.startswith("2,") else ""


class MboxSource(Closing):
    """Every message of an mbox file, every time: the file is the MTA's, which appends to it, and
    erflow only reads it (it never rewrites it, so it keeps no mark of what it processed there).
    ``done`` does nothing: receiving is idempotent (a message already received is known by its
    Message-ID and skipped cheaply), so reading all again is correct, only slower as the file grows.

    Each message is given as the bytes that follow its ``From `` line, up to the next one; ``>From``
    quoting in bodies is left as stored (mboxo and mboxrd cannot be told apart). The messages are
    located under a shared fcntl lock, so a message half-appended by an MTA that locks is not read.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UsageError(f"no mbox file at {str(self.path)!r}")
        with self.path.open("rb") as handle:
            start = handle.read(5)
        if start and start != b"From ":
            raise UsageError(f"{str(self.path)!r} is not an mbox file: it does not begin with 'From '")

    def messages(self) -> Iterator[Incoming]:
        import fcntl
        import mailbox

        try:
            box = mailbox.mbox(self.path, factory=None, create=False)
            try:
                with self.path.open("rb") as handle:
                    fcntl.lockf(handle, fcntl.LOCK_SH)
                    try:
                        keys = box.keys()  # the table of contents: the offsets of complete messages
                    finally:
                        fcntl.lockf(handle, fcntl.LOCK_UN)
                for number, key in enumerate(keys, 1):
                    yield Incoming(f"mbox message {number}", box.get_bytes(key), str(number))
            finally:
                box.close()
        except mailbox.NoSuchMailboxError:
            raise MailSourceError(f"the mbox {str(self.path)!r} is gone") from None
        except OSError as exc:
            raise MailSourceError(f"cannot read the mbox {str(self.path)!r}: {exc.strerror}") from None

    def done(self, item: Incoming) -> None:
        return None

    def wait(self, seconds: float) -> None:
        import time

        time.sleep(max(0.0, seconds))
