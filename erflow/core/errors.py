"""The error types of erflow, each carrying the exit code of the contract.

The core raises these; only the CLI turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence


class ErflowError(Exception):
    """Base error: a one-line message for the user, an optional hint, an exit code; for scripts
    (``--json``), the ticket it concerns and the names it meant ("did you mean"), when known."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        ticket: str | None = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.ticket = ticket
        self.suggestions = list(suggestions)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(ErflowError):
    """Bad option or argument combination."""

    exit_code = 2


class Refused(ErflowError):
    """A rule refused the request: gate not met, no such transition from this state."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        reasons: Sequence[str] = (),
        missing: Sequence[str] = (),
        hint: str | None = None,
        ticket: str | None = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint=hint, ticket=ticket, suggestions=suggestions)
        self.reasons = list(reasons)
        self.missing = list(missing)


class NotFound(ErflowError):
    """A ticket, transition, template, type or store does not exist."""

    exit_code = 4


class NotPermitted(Refused):
    """The actor's roles do not allow the request."""

    exit_code = 5


class InvalidData(ErflowError):
    """workflow.yaml, a template or a ticket file is malformed; the message names file and line."""

    exit_code = 6


class Unreadable(InvalidData):
    """An inbound email that cannot be read as one: empty, not an email, too big or too deeply nested."""


class Conflict(ErflowError):
    """The store is locked or changed underneath; nothing was changed, retry."""

    exit_code = 7


class DeliveryError(ErflowError):
    """An email could not be delivered; nothing was changed."""

    exit_code = 1


class MailSourceError(ErflowError):
    """A mail source (IMAP server, Maildir, mbox) could not be read or updated; nothing was changed."""

    exit_code = 1


def located(path: object, line: int | None, message: str) -> str:
    """Format 'file:line: message' (line omitted when unknown)."""
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"
