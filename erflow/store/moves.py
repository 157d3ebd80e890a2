"""Every state move in the history, kept between runs: what ``commits.read_moves`` reads from one
``git log`` over all history, read from git only once.

The cache, ``<git dir>/erflow/moves.v2``, holds the walk from one commit (its tip): a header line
(``erflow-moves``, the cache's version and the log format's digest, the tip, the sha256 of the rest),
then one line a commit in ``git log``'s order: the commit id alone (it names no ticket), or
``commit\\x1fauthor time\\x1fticket\\x1f=state (empty: none)[\\x1fcreated]...``. A trailer value
never holds ``\\x1f`` (git's separator between trailers) nor a line end, so a line splits back whole.

A run from the tip reads the file (its checksum catches damage) and no git history at all; a run
from a commit that only adds a line of commits on top (each with one parent) reads those from git;
any other reads ``git rev-list`` and asks git only for the commits not cached; no usable cache, one
streamed ``git log``. A commit's message never changes, so a line never goes stale; a cache that is
missing, damaged or of another version is written anew, and a read-only git folder goes without.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from erflow.core.errors import InvalidData
from erflow.store.commits import MOVE_FORMAT, Move, MoveFields, move_fields
from erflow.store.git import Git, GitError, run_bytes
from erflow.store.git_stream import stream

CACHE = "moves.v2"
LEGACY = ("moves.json",)  # earlier versions' caches, removed when this one is written
VERSION = 2
_FORMAT = f"--format=%H {MOVE_FORMAT}"
_DIGEST = hashlib.sha256(f"{VERSION} {MOVE_FORMAT}".encode()).hexdigest()[:16]
_MAGIC = b"erflow-moves"
EXTEND_MAX = 20_000  # new commits on top of the cached tip read by one walk; more: a full walk
# The walk reads only commits, which git packs side by side: a smaller share of the pack mapped at
# once than erflow's 128m costs it no time (100k: 3.5 s either way) and 50 MB of memory less.
_SMALL_MAP = ("-c", "core.packedGitLimit=32m")
_CHUNK = 4096  # cache lines written (and hashed) at a time
_READ = 1 << 20  # bytes of the cache decoded at a time


def read_moves(git: Git, upto: str = "HEAD") -> Iterator[Move]:
    """The same moves as ``commits.read_moves``, in the same order, each commit read from git only
    the first time it is met."""
    for when, ticket, to_state, created in move_tuples(git, upto):
        yield Move(when, ticket, to_state, created)


def move_tuples(git: Git, upto: str = "HEAD") -> Iterator[MoveFields]:
    """``read_moves``'s moves as plain tuples (author time, ticket, state or None, created)."""
    if git.head() is None:
        return
    tip = run_bytes(git, ["rev-parse", "--verify", "--end-of-options", f"{upto}^{{commit}}"]).strip()
    path = cache_path(git)
    cached = _read(path)
    if cached is None:
        yield from _walk(git, path, tip)
        return
    old_tip, body = cached
    if old_tip == tip:
        yield from _parse(body, path)
        return
    if _on_top(git, tip, old_tip):
        yield from _extend(git, path, tip, old_tip, body)
    else:
        yield from _listed(git, path, tip, body)


def cache_path(git: Git) -> Path:
    return git.git_dir() / "erflow" / CACHE


def _lines(raw_lines: Iterable[bytes]) -> Iterator[tuple[bytes, MoveFields | None]]:
    """Each commit's id and move from ``git log --format=%H MOVE_FORMAT``'s lines; a line that
    continues the one before (a folded trailer: it starts with a space) is no commit's."""
    for raw in raw_lines:
        commit, _, line = raw.partition(b" ")
        if len(commit) >= 40 and commit.isalnum():
            yield commit, move_fields(line)


def _line(commit: bytes, move: MoveFields | None) -> bytes:
    """The cache's line for a commit, without its line end."""
    if move is None:
        return commit
    when, ticket, to_state, created = move
    state = "" if to_state is None else "=" + to_state
    return commit + "\x1f".join(["", str(when), ticket, state, *created]).encode("utf-8")


def _walk(git: Git, path: Path, tip: bytes) -> Iterator[MoveFields]:
    """Every move from one streamed ``git log``, written to the cache as it goes."""
    out = _Writer.open(path, tip)
    done = False
    try:
        for commit, move in _lines(stream(git, [*_SMALL_MAP, "log", _FORMAT, tip.decode("ascii")])):
            if out is not None:
                out.add(_line(commit, move))
            if move is not None:
                yield move
        done = True
    finally:
        if out is not None:
            out.close(keep=done)


def _on_top(git: Git, tip: bytes, old_tip: bytes) -> bool:
    """Whether ``tip`` is ``old_tip`` with a line of commits on top, one parent each (at most
    EXTEND_MAX): git's walk from ``tip`` then gives them first, then the walk from ``old_tip``."""
    limit = f"--max-count={EXTEND_MAX + 1}"
    try:
        out = run_bytes(git, ["rev-list", "--parents", limit, tip.decode(), "^" + old_tip.decode(), "--"])
    except GitError:  # the cached tip is no longer in the repository
        return False
    rows = [line.split() for line in out.splitlines()]
    if not rows or len(rows) > EXTEND_MAX:
        return False
    below = [*(row[0] for row in rows[1:]), old_tip]
    return all(row[1:] == [under] for row, under in zip(rows, below, strict=True))


def _extend(git: Git, path: Path, tip: bytes, old_tip: bytes, body: memoryview) -> Iterator[MoveFields]:
    """The moves of the commits on top of the cached tip, from git, then the cached ones."""
    found = list(_lines(stream(git, ["log", _FORMAT, tip.decode(), "^" + old_tip.decode()])))
    _write(path, tip, [_line(c, m) for c, m in found], body)
    for _, move in found:
        if move is not None:
            yield move
    yield from _parse(body, path)


def _listed(git: Git, path: Path, tip: bytes, cached: memoryview) -> Iterator[MoveFields]:
    """The moves of ``git rev-list tip``'s commits, the cached ones from the cache, the others
    from one ``git log --no-walk`` (most not cached: one walk instead)."""
    commits = run_bytes(git, ["rev-list", tip.decode(), "--"]).split()
    known = {line.partition(b"\x1f")[0]: line for line in bytes(cached).split(b"\n") if line}
    del cached
    missing = {c for c in commits if c not in known}
    if len(missing) * 2 > len(commits):
        yield from _walk(git, path, tip)
        return
    if missing:
        given = b"".join(c + b"\n" for c in commits if c in missing)
        out = run_bytes(git, ["log", "--no-walk=unsorted", "--stdin", _FORMAT], input=given)
        for commit, move in _lines(out.split(b"\n")):
            if commit in missing:
                known[commit] = _line(commit, move)
        body = b"".join(known.get(c, c) + b"\n" for c in commits)
        _write(path, tip, [], body)
    else:
        body = b"".join(known[c] + b"\n" for c in commits)
    yield from _parse(body, path)


def _parse(body: bytes | memoryview, path: Path) -> Iterator[MoveFields]:
    """The moves in the cache's lines (their checksum was checked), decoded a chunk at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    rest, size = "", len(body)
    try:
        for start in range(0, size, _READ):
            lines = (rest + decoder.decode(body[start : start + _READ], start + _READ >= size)).split("\n")
            rest = lines.pop()
            for line in lines:
                parts = line.split("\x1f")
                if len(parts) > 1:
                    state = parts[3]
                    yield int(parts[1]), parts[2], state[1:] if state else None, tuple(parts[4:])
        if rest:
            raise ValueError("the last line has no end")
    except (ValueError, IndexError) as error:
        with contextlib.suppress(OSError):
            path.unlink()  # made by hand with a good checksum: read from git next time
        raise InvalidData(f"{path} is not well formed: it was removed, run the command again") from error


def _header(tip: bytes, checksum: str) -> bytes:
    return b" ".join([_MAGIC, str(VERSION).encode(), _DIGEST.encode(), tip, checksum.encode()]) + b"\n"


def _read(path: Path) -> tuple[bytes, memoryview] | None:
    """The cache's tip and its lines; None when it is missing, of another version or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    end = data.find(b"\n", 0, 200)
    fields = data[:end].split(b" ")
    if end < 0 or len(fields) != 5 or fields[:3] != [_MAGIC, str(VERSION).encode(), _DIGEST.encode()]:
        return None
    body = memoryview(data)[end + 1 :]
    if hashlib.sha256(body).hexdigest().encode() != fields[4]:
        return None
    return fields[3], body


def _write(path: Path, tip: bytes, first: list[bytes], body: bytes | memoryview) -> None:
    """Write the cache for ``tip``: the lines ``first``, then ``body`` (lines with their ends)."""
    out = _Writer.open(path, tip)
    if out is None:
        return
    for line in first:
        out.add(line)
    out.flush()
    out.add_raw(body)
    out.close(keep=True)


class _Writer:
    """A cache being written: a temporary file beside it, renamed over it when whole."""

    def __init__(self, path: Path, tmp: str, handle: IO[bytes], tip: bytes) -> None:
        self.path, self.tmp, self.handle, self.tip = path, tmp, handle, tip
        self.hash = hashlib.sha256()
        self.pending: list[bytes] = []
        handle.write(_header(tip, "0" * 64))  # the same length as the header written at the end

    @classmethod
    def open(cls, path: Path, tip: bytes) -> _Writer | None:
        """A writer, or None when the git folder cannot be written to."""
        import tempfile  # imported here: only a run that writes the cache needs it

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError:
            return None
        return cls(path, tmp, os.fdopen(fd, "wb"), tip)

    def add(self, line: bytes) -> None:
        self.pending.append(line)
        if len(self.pending) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.add_raw(b"\n".join(self.pending) + b"\n")
            self.pending = []

    def add_raw(self, data: bytes | memoryview) -> None:
        self.hash.update(data)
        self.handle.write(data)

    def close(self, *, keep: bool) -> None:
        try:
            if keep:
                self.flush()
                self.handle.seek(0)
                self.handle.write(_header(self.tip, self.hash.hexdigest()))
            self.handle.close()
            if keep:
                os.chmod(self.tmp, 0o644)
                os.replace(self.tmp, self.path)
                for name in LEGACY:
                    with contextlib.suppress(OSError):
                        (self.path.parent / name).unlink()
        except OSError:
            keep = False
        finally:
            if not keep:
                with contextlib.suppress(OSError):
                    os.unlink(self.tmp)
