"""The journal of the change being made: enough on disk to finish or take back a change whose erflow
process was killed (``kill -9``) at any point.

``<git dir>/erflow/journal.json`` is written, atomically, before the first file of a change is
touched. It holds the commit the change is made on (HEAD, or null in an empty repository), the
message of the commit it will make, every path it writes (relative to the store root) with the
file's bytes before the change (null for a new file), and how far the change got:

=============  ================================================================================
stage          meaning
=============  ================================================================================
writing        files may be half written; nothing is staged or committed
committing     ``git add`` or ``git commit`` runs as ``git_pid`` (and may outlive erflow)
committed      the commit ``commit`` has landed
=============  ================================================================================

It is removed once the change is committed or fully undone. The next change, under the store lock,
reads a journal left behind and settles it (the app's ``_recover``): a commit that did not land is
undone file by file; one that landed is kept (with the outbox entries of the emails it queued,
which the outbox delivers: erflow/app/outbox.py). Before that, ``Store.lock`` waits for a
``git_pid`` still running (``await_git``): a git that outlived the erflow that started it.
(``emails`` and the stage ``sending`` are read from a journal of an older erflow, which sent
emails before removing it: such a change is kept too.)
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from erflow.core.errors import Conflict, InvalidData
from erflow.store.files import write_atomic
from erflow.store.git import GATE

FOLDER = "erflow"
NAME = "journal.json"
STAGES = ("writing", "committing", "committed", "sending")
_POLL = 0.02  # seconds between looks at an orphaned git process


@dataclass(frozen=True)
class Journal:
    parent: str | None  # HEAD when the change began (None: the repository had no commit)
    message: str  # the message of the commit the change makes
    files: Mapping[str, bytes | None]  # path relative to the store root -> bytes before (None: new)
    stage: str = "writing"
    emails: int = 0  # how many emails go out once the commit has landed
    git_pid: int | None = None  # the git process running for the change (stage committing)
    commit: str | None = None  # the commit made (stage committed and after)
    pid: int = field(default_factory=os.getpid)  # the erflow process that wrote the journal

    def at(self, stage: str, **changes: Any) -> Journal:
        """This journal moved on to ``stage`` (with other fields changed too)."""
        return replace(self, stage=stage, **changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "stage": self.stage,
            "parent": self.parent,
            "message": self.message,
            "emails": self.emails,
            "git_pid": self.git_pid,
            "commit": self.commit,
            "files": {
                path: None if data is None else base64.b64encode(data).decode("ascii")
                for path, data in self.files.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any, where: Path) -> Journal:
        try:
            if not isinstance(data, dict) or data.get("stage") not in STAGES:
                raise ValueError("not a journal")
            files = {
                str(path): None if text is None else base64.b64decode(text, validate=True)
                for path, text in data["files"].items()
            }
            for path in files:
                if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
                    raise ValueError(f"{path!r} is not a path inside the store")
            return cls(
                parent=_optional(data["parent"], str),
                message=str(data["message"]),
                files=files,
                stage=str(data["stage"]),
                emails=int(data["emails"]),
                git_pid=_optional(data["git_pid"], int),
                commit=_optional(data["commit"], str),
                pid=int(data["pid"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidData(
                f"{where}: unreadable journal of an interrupted erflow change ({exc})",
                hint="compare the files it lists with git status, put them right by hand, then delete it",
            ) from None


def _optional(value: Any, kind: type[Any]) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value


def location(git_dir: Path) -> Path:
    return git_dir / FOLDER / NAME


def save(git_dir: Path, journal: Journal) -> None:
    """Write the journal atomically (temp file, rename): a reader sees the old or the new one.

    Not fsynced: the journal is there for a killed process, whose writes the kernel still holds; a
    power cut is not covered (nor are the folders fsynced)."""
    data = json.dumps(journal.as_json(), indent=1).encode("utf-8") + b"\n"
    write_atomic(location(git_dir), data, durable=False)


def load(git_dir: Path) -> Journal | None:
    """The journal left in ``git_dir``, or None."""
    path = location(git_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidData(
            f"{path}: unreadable journal of an interrupted erflow change ({exc})",
            hint="compare the files it lists with git status, put them right by hand, then delete it",
        ) from None
    return Journal.from_json(data, path)


def clear(git_dir: Path) -> None:
    """Remove the journal (the change is complete or undone), and any temp file a killed save left."""
    path = location(git_dir)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for stray in path.parent.glob(f".{NAME}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stray.unlink()


def await_git(git_dir: Path, timeout: float) -> None:
    """Wait (up to ``timeout`` seconds) for the git process a killed erflow left running, if any.

    When erflow alone is killed, the ``git commit`` it started carries on and may land the commit
    after erflow died; until it has exited, nobody can tell whether the change landed.
    """
    journal = load(git_dir)
    if journal is None or journal.git_pid is None:
        return
    pid = journal.git_pid
    deadline = time.monotonic() + timeout
    while running_git(pid):
        if time.monotonic() >= deadline:
            raise Conflict(
                f"git process {pid}, started by an erflow process that was killed, is still running",
                hint=f"wait for it to end or stop it, then retry; nothing was changed ({location(git_dir)})",
            )
        time.sleep(_POLL)


def running_git(pid: int) -> bool:
    """Whether ``pid`` is a live git process (not a zombie, not another program that reused the pid)."""
    if not Path("/proc/self/stat").is_file():  # no /proc (macOS, BSD): only whether the pid is in use
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    if state in ("Z", "X", "x", ""):
        return False
    if name.startswith("git"):
        return True
    try:  # the gate (Git.run_watched) before it becomes git
        return GATE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
