"""The index's rows made from ticket files: each file's git blob id and front-matter, or why it
cannot be read; parsed in worker processes when they are many."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from erflow.core.errors import ErflowError, located
from erflow.store import pool
from erflow.store.paths import Stat
from erflow.store.paths import problem as link_problem
from erflow.store.ticketfile import Progress, front_matter_bytes

PROGRESS_FROM = 2000  # a refresh that parses more files than this reports its progress
PARALLEL_FROM = 2000  # a refresh that parses more files than this spreads them over processes
CHUNK = 250  # files a worker process parses per task
_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode  # json.dumps's, made once
_READ = 1 << 16  # bytes asked for by each read of a file (a ticket file takes one)

Taken = tuple[int, int, int]  # a file's (mtime_ns, size, inode), as the index keeps its stat
Entry = tuple[str, dict[str, Any] | None, str | None, Taken | None]  # see load_entry
Row = tuple[str, int, int, int, str, str, str | None, str | None, str | None, str, str | None, str | None]
INSERT = "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"  # a Row into the index


def parse(root: Path, stats: list[Stat], progress: Progress | None) -> Iterator[Row]:
    """A row for each of these files that still exists, reporting progress when they are many;
    parsed in as many processes as there are CPUs when they are more than PARALLEL_FROM."""
    if len(stats) <= PROGRESS_FROM:
        progress = None
    if progress is not None:
        progress(0, len(stats))
    chunks = [stats[start : start + CHUNK] for start in range(0, len(stats), CHUNK)]
    done = 0
    workers = min(pool.cpus(), len(chunks)) if len(stats) > PARALLEL_FROM else 1
    if workers > 1:
        from erflow.core import yamlio  # noqa: F401 - imported once here, not in every forked worker

        for rows in pool.mapped(_parse_chunk, [str(root)] * len(chunks), list(chunks), workers=workers):
            yield from rows
            done += len(chunks.pop(0))
            if progress is not None:
                progress(done, len(stats))
    for stat in (stat for chunk in chunks for stat in chunk):  # serial, or what the workers left
        entry = load_entry(root, stat[0])
        if entry is not None:
            yield _row(stat, *entry)
        done += 1
        if progress is not None and (done % 500 == 0 or done == len(stats)):
            progress(done, len(stats))


def _parse_chunk(root: str, stats: list[Stat]) -> list[Row]:
    """In a worker process: the rows of these files that still exist."""
    rows = []
    base = Path(root)
    for stat in stats:
        entry = load_entry(base, stat[0])
        if entry is not None:
            rows.append(_row(stat, *entry))
    return rows


def load_entry(root: Path, rel: str) -> Entry | None:
    """One ticket file (``rel``: posix, from the root) as the index keeps it: its git blob id
    and its front-matter, or why it cannot be read, and its (mtime_ns, size, inode) taken just
    before it was read (None when none could be). None when it has vanished meanwhile."""
    where = os.path.join(root, rel)
    try:
        # O_NOFOLLOW: a symlink (walk lists those too) is named, never read through.
        fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(where):
            return "", None, link_problem(os.path.realpath(root), where), None
        return "", None, located(rel, None, f"cannot be read: {exc.strerror or exc}"), _lstat(where)
    try:
        st = os.fstat(fd)
        data = _read_all(fd)
    except OSError as exc:
        return "", None, located(rel, None, f"cannot be read: {exc.strerror or exc}"), None
    finally:
        os.close(fd)
    taken = (st.st_mtime_ns, st.st_size, st.st_ino)
    import hashlib  # only a refresh that parses a file hashes it

    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id
    try:
        return blob, front_matter_bytes(data, rel), None, taken
    except ErflowError as exc:
        return blob, None, exc.message, taken


def _lstat(where: str) -> Taken | None:
    try:
        st = os.lstat(where)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _read_all(fd: int) -> bytes:
    """A file's bytes by os.read, no file object (a first index reads 100,000 of them)."""
    parts = []
    while part := os.read(fd, _READ):
        parts.append(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _row(stat: Stat, blob: str, meta: dict[str, Any] | None, problem: str | None, taken: Taken | None) -> Row:
    """A file's row; its stat as taken when it was read (the walk's when it could not be)."""
    if taken is not None:
        stat = (stat[0], *taken)
    if meta is None:
        return (*stat, blob, "", None, None, None, "", None, problem)
    raw = _JSON(meta)
    return (
        *stat, blob, str(meta.get("id", "")), _text(meta.get("type")), _text(meta.get("state")),
        _text(meta.get("owner")), str(meta.get("created", "")), raw, None,
    )  # fmt: skip


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
