"""One inbound message as a source gives it, and what every source of inbound mail offers.

Kept apart from erflow.mail.sources so that the IMAP source (erflow.mail.imap) and the file sources
share these without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class Incoming:
    """One raw message: ``where`` it came from (for messages and errors), its RFC 5322 ``data``
    exactly as stored, and ``key``, the source's own handle for ``done`` (IMAP UID, Maildir name)."""

    where: str
    data: bytes = field(repr=False)
    key: str = ""


class Source(Protocol):
    """A place inbound messages are read from."""

    def messages(self) -> Iterator[Incoming]:
        """The messages not yet marked processed, oldest first, read one at a time."""
        ...

    def done(self, item: Incoming) -> None:
        """Mark ``item`` processed, so that ``messages`` no longer yields it."""
        ...

    def wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for new mail (returning early when the source can tell)."""
        ...

    def close(self) -> None: ...


_Self = TypeVar("_Self", bound="Closing")


class Closing:
    """Context-manager methods over ``close``."""

    def close(self) -> None:
        return None

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
