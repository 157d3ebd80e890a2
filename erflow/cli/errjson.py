"""An error of a ``--json`` run as one JSON object on stdout, where a script reads the command's data
(the one error line stays on stderr, as the contract says of every error).

The object: ``{"error", "code", "reasons", "missing", "hint"}``, plus ``"ticket"`` when the error
concerns one and ``"suggestions"`` when it offers names ("did you mean"). Imported only when an error
is reported, so that a run that succeeds does not pay for it."""

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from erflow.core.errors import ErflowError

# "did you mean X?", "did you mean 'X'?", "Did you mean one of: 'X', 'Y'?", "did you mean X or Y?"
_DID_YOU_MEAN = re.compile(r"did you mean (?:one of:? )?(.+?)\?", re.IGNORECASE)
_PREFIX = "erflow: "


def asked(args: Sequence[str]) -> bool:
    """Whether ``--json`` is among the options of ``args`` (not after ``--``, where it is an operand)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def suggested(*texts: str | None) -> list[str]:
    """The names that "did you mean ..." offers in ``texts``, in order, each once."""
    names: dict[str, None] = {}
    for text in texts:
        for found in _DID_YOU_MEAN.finditer(text or ""):
            for name in re.split(r",\s*|\s+or\s+", found.group(1)):
                name = name.strip().strip("'\"`")
                if name:
                    names[name] = None
    return list(names)


def of_error(exc: ErflowError, params: Mapping[str, Any]) -> dict[str, Any]:
    """The object of an erflow error; ``params`` are the command's parsed parameters, where the
    ticket it concerns is found when the error does not name one."""
    data: dict[str, Any] = {
        "error": exc.message,
        "code": exc.exit_code,
        "reasons": list(getattr(exc, "reasons", [])),
        "missing": list(getattr(exc, "missing", [])),
        "hint": exc.hint,
    }
    ticket = exc.ticket or params.get("ticket_id")
    if isinstance(ticket, str) and ticket:
        data["ticket"] = ticket
    suggestions = exc.suggestions or suggested(exc.hint, exc.message)
    if suggestions:
        data["suggestions"] = suggestions
    return data


def of_line(
    line: str, code: int, *, hint: str | None = None, suggestions: Sequence[str] = ()
) -> dict[str, Any]:
    """The object of an error that is only a line (a usage error of click, an unexpected error)."""
    message = line.removeprefix(_PREFIX)
    data: dict[str, Any] = {"error": message, "code": code, "reasons": [], "missing": [], "hint": hint}
    names = list(suggestions) or suggested(message)
    if names:
        data["suggestions"] = names
    return data


def write(data: Mapping[str, Any]) -> None:
    """The object on stdout (laid out as every --json document), flushed before the line on stderr."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
