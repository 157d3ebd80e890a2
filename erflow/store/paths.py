"""The one rule for the paths erflow reads and writes: nothing outside the store, and no symlink
where erflow keeps its own files.

- ``inside(root, path)``: the path, every symlink on the way resolved, lies in the store's real root
  (workflow.yaml may be a symlink to a file elsewhere in the store).
- ``plain(root, path)``: inside, and no symlink on the way at all, wherever it points. Ticket files,
  templates and every file erflow writes are held to it: git stores a symlink as a link (its target
  differs between clones, and ``git add`` refuses a path through one), and a ticket reachable by two
  paths would be two tickets with one id.

Both take ``path`` absolute or relative to ``root`` (a path that does not exist yet is resolved as
far as it exists) and raise InvalidData (exit 6) naming the path from the store's root, the way the
user sees it. ``links(root, folder)`` lists every symlink under a folder, for ``erflow check``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from pathlib import Path

from erflow.core.errors import InvalidData

Stat = tuple[str, int, int, int]  # path from the root, st_mtime_ns, st_size, st_ino
_HINT = "replace the symlink by the folder or file itself; nothing was read or changed"


def inside(root: Path, path: Path | str) -> Path:
    """``path`` resolved; InvalidData when it leads outside the real root ``root``."""
    real_root = os.path.realpath(root)
    target = os.path.join(real_root, path)
    resolved = os.path.realpath(target)
    if not _within(real_root, resolved):
        link = _first_link(real_root, target)
        if link is None:
            raise InvalidData(f"{_shown(real_root, target)}: leads outside the store, refused")
        raise InvalidData(problem(real_root, link), hint=_HINT)
    return Path(resolved)


def plain(root: Path, path: Path | str) -> Path:
    """``path`` inside the store with no symlink on the way from ``root``; InvalidData otherwise.

    One lstat per part of the path below the root (a part that does not exist yet ends the walk:
    nothing below it can be a link), not a realpath of the whole: ``check`` asks this of every
    ticket file."""
    real_root = _real_root(os.path.abspath(root))
    target = os.path.normpath(os.path.join(real_root, path))
    if not target.startswith(real_root + os.sep):
        return inside(root, target)  # the root itself, or outside: inside() decides and names it
    here = real_root
    for part in target[len(real_root) + 1 :].split(os.sep):
        here = os.path.join(here, part)
        try:
            mode = os.lstat(here).st_mode
        except OSError:
            break
        if stat.S_ISLNK(mode):
            raise InvalidData(problem(real_root, here), hint=_HINT)
    return Path(target)


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def links(root: Path, folder: Path | str) -> list[str]:
    """Every symlink under ``folder`` (or ``folder`` itself), not followed: a line naming each."""
    real_root = os.path.realpath(root)
    start = os.path.join(real_root, folder)
    if os.path.islink(start):
        return [problem(real_root, start)]
    found: list[str] = []
    pending = [start]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                if entry.is_symlink():
                    found.append(problem(real_root, entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return sorted(found)


def problem(root: str, link: str) -> str:
    """The line that names the symlink ``link`` (absolute): leading outside the store, or merely
    a symlink where erflow follows none."""
    if _within(root, os.path.realpath(link)):
        what = "erflow follows none in tickets/, templates/ or to a file it writes"
        return f"{_shown(root, link)}: a symlink, refused: {what}"
    return f"{_shown(root, link)}: a symlink leading outside the store, refused"


def _within(root: str, resolved: str) -> bool:
    return resolved == root or resolved.startswith(root + os.sep)


def _first_link(root: str, target: str) -> str | None:
    """The first symlink on the way from ``root`` to ``target`` (both absolute), or None."""
    if not target.startswith(root + os.sep):
        return None
    here = root
    for part in os.path.relpath(target, root).split(os.sep):
        here = os.path.join(here, part)
        if os.path.islink(here):
            return here
    return None


def _shown(root: str, path: str) -> str:
    """``path`` as the user knows it: from the store's root, posix; absolute when outside it."""
    if path.startswith(root + os.sep):
        return Path(os.path.relpath(path, root)).as_posix()
    return path


def walk(root: Path, *, stat_files: bool = True) -> list[Stat]:
    """Every ``*.md`` file under tickets/, and every symlink there (file or folder, not followed:
    reading one is refused, naming it), with its stat, as (path from the root in posix form,
    mtime_ns, size, inode): os.scandir and plain strings, no Path per file. ``stat_files=False``:
    the files' stats are left 0 (whoever reads them takes them then: a first index)."""
    from erflow.store.ticketfile import TICKETS  # here: workflow.yaml's check needs no YAML

    found: list[Stat] = []
    top = os.path.join(root, TICKETS)
    with contextlib.suppress(OSError):
        if os.path.islink(top):  # tickets/ itself: named, never listed through
            stat = os.lstat(top)
            return [(TICKETS, stat.st_mtime_ns, stat.st_size, stat.st_ino)]
    pending = [(top, f"{TICKETS}/")]
    while pending:
        folder, prefix = pending.pop()
        try:
            listing = os.scandir(folder)
        except OSError:
            continue
        with listing:
            for entry in listing:
                name = entry.name
                try:
                    if entry.is_symlink():
                        stat = entry.stat(follow_symlinks=False)
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, f"{prefix}{name}/"))
                        continue
                    elif name.endswith(".md") and entry.is_file(follow_symlinks=False):
                        if not stat_files:
                            found.append((prefix + name, 0, 0, 0))
                            continue
                        stat = entry.stat(follow_symlinks=False)
                    else:
                        continue
                    found.append((prefix + name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
                except OSError:
                    continue  # vanished meanwhile
    return found
