"""The parsed workflow kept in the store's git folder (``.git/erflow/workflow.cache``), so that a
command parses workflow.yaml only when it has changed.

A derived cache: never the source of truth, and it never fails a command; anything wrong with it
(missing, unreadable, stale, truncated, damaged, written by another erflow or Python, a read-only
folder, no git folder) means parsing the file again. It lives in the git folder, beside the
journal and the audit's cache, not in the work tree's .erflow/: a commit can put files in the
work tree (a .gitignore is only a commit away), but never in .git/, and a cache keyed by content
alone that arrived in a commit would swap the rules in force without workflow.yaml showing it.

A cache file is used only when its key matches: the sha256 of the bytes workflow.yaml holds now,
erflow's version, the Python version and the size and mtime of every module of erflow.core (the
model and its loader: a development checkout never gets a copy made by other code under the same
version). A sha256 of the pickle in the header catches a damaged file before it is read. A
workflow with problems is never cached: they are reported on every command.

The copy is a pickle, read back by an Unpickler that resolves only the classes a workflow is made
of (erflow.core.workflow's, Field, Duration, Calendar, and datetime, pathlib and zoneinfo value
types): a pickle names every callable it runs, so a file that names anything else fails to load
and is rebuilt; it cannot run code. That is why not an HMAC (a per-user secret to keep, for a file
only the user's own processes write) nor marshal (a converter for every class, and marshal is not
meant for untrusted input either).
"""

from __future__ import annotations

import copyreg
import functools
import hashlib
import io
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from erflow import __version__
from erflow.core import workflow as model
from erflow.core.record import Record
from erflow.core.workflow import Workflow

FOLDER = "erflow"  # in the git folder, as the journal's
NAME = "workflow.cache"
FORMAT = 1  # bump when the file's layout changes
LIMIT = 16 * 1024 * 1024  # no cache erflow writes, nor the workflow.yaml it stands for, is larger
_MAGIC = b"erflow workflow cache\n"
_SIZE = len(_MAGIC)  # then: workflow.yaml's size (8 bytes), the key, the pickle's sha256, the pickle
_KEY = _SIZE + 8
_DIGEST = _KEY + 32
_PICKLE = _DIGEST + 32


def _is_record(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Record) and value.__module__ == model.__name__


_ALLOWED = {
    *((model.__name__, name) for name, value in vars(model).items() if _is_record(value)),
    ("erflow.core.fields", "Field"),
    ("erflow.core.businesstime", "Duration"),
    ("erflow.core.businesstime", "Calendar"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("zoneinfo", "ZoneInfo"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
}


def read(path: Path) -> Workflow | None:
    """The workflow cached for the workflow.yaml at ``path``, if the cache was made from the bytes
    it holds now (by this erflow and Python); else None."""
    cache = location(path.parent)
    if cache is None:
        return None
    try:
        with open(cache, "rb") as handle:
            blob = handle.read(LIMIT + 1)
        size = int.from_bytes(blob[_SIZE:_KEY], "big")
        if not blob.startswith(_MAGIC) or len(blob) < _PICKLE or len(blob) > LIMIT or size > LIMIT:
            return None
        with path.open("rb") as handle:
            data = handle.read(size + 1)
    except OSError:
        return None
    payload = blob[_PICKLE:]
    if len(data) != size or blob[_KEY:_DIGEST] != _key(data):
        return None
    if hashlib.sha256(payload).digest() != blob[_DIGEST:_PICKLE]:
        return None
    try:
        loaded = _Unpickler(io.BytesIO(payload)).load()
    except Exception:  # noqa: BLE001 - whatever a foreign pickle raises, it is not used
        return None
    if type(loaded) is not Workflow:
        return None
    if loaded.path != path:
        loaded.__dict__["path"] = path  # the path it is read through now; no one else holds it yet
    return loaded


def write(path: Path, data: bytes, workflow: Workflow) -> None:
    """Keep ``workflow``, parsed from ``data`` (workflow.yaml's bytes), for the next command; quietly
    nothing when the store has no git folder or it cannot be written."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    zoneinfo = sys.modules.get("zoneinfo")  # imported by the calendar if it names a zone
    if zoneinfo is not None:
        pickler.dispatch_table = {**copyreg.dispatch_table, zoneinfo.ZoneInfo: _zone}
    try:
        pickler.dump(workflow)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    payload = buffer.getvalue()
    blob = b"".join(
        (_MAGIC, len(data).to_bytes(8, "big"), _key(data), hashlib.sha256(payload).digest(), payload)
    )
    from erflow.store.files import write_atomic

    target = location(path.parent)
    if target is None:
        return
    try:
        target.parent.mkdir(exist_ok=True)
        write_atomic(target, blob, durable=False)
    except OSError:
        pass


def location(root: Path) -> Path | None:
    """Where the cache of the store at ``root`` is kept: in its git folder (a worktree's or a
    submodule's too); None when the store has no git folder of its own."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git / FOLDER / NAME
    try:
        text = dot_git.read_text(encoding="utf-8")  # "gitdir: PATH" in a worktree or submodule
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir: "):
        return None
    git_dir = root / text[len("gitdir: ") :].strip()
    return git_dir / FOLDER / NAME if git_dir.is_dir() else None


def _key(data: bytes) -> bytes:
    """What a cache must have been made from: these bytes, by this erflow, Python and core."""
    return hashlib.sha256(_maker() + hashlib.sha256(data).digest()).digest()


@functools.cache
def _maker() -> bytes:
    parts = [f"format {FORMAT}", __version__, sys.version]
    core = Path(model.__file__).parent
    for folder in (core, core / "loader"):
        try:
            with os.scandir(folder) as entries:
                stats = sorted((e.name, e.stat()) for e in entries if e.name.endswith(".py"))
        except OSError:
            continue  # not files on a disk (a zip): the version alone
        parts += [f"{name} {stat.st_size} {stat.st_mtime_ns}" for name, stat in stats]
    return "\n".join(parts).encode()


def _zone(zone: Any) -> tuple[Any, tuple[str]]:
    """A named zone pickled as ``ZoneInfo(key)``: by default it is pickled through getattr, which
    the reader does not allow (getattr reaches anything)."""
    return type(zone), (zone.key,)


class _Unpickler(pickle.Unpickler):
    """Resolves only the classes a workflow is made of; any other name fails the load."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a workflow")
        return super().find_class(module, name)
