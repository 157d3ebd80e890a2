"""erflow's commits: the message format with its ``Erflow-*`` trailers, and reading them back from
the log (a ticket's history, the audit's commits, the store at a past date, every state move).

git itself is run by erflow.store.git; this module says what to ask of it and reads the answers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from erflow.store.git import BOUNDED, NULL_BLOB, Git, run_bytes
from erflow.store.git_stream import stream, stream_chunks

TRAILER_PREFIX = "Erflow-"
_SEP = "\x1e"
_END = "\x1f"


@dataclass(frozen=True)
class Change:
    """What one erflow commit did to one ticket, as its message records it."""

    ticket: str
    action: str  # new, advance, set, note, assign, link, email
    actor: str
    transition: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    summary: str = ""
    text: str = ""
    created: tuple[str, ...] = ()
    timer: str | None = None

    def message(self, extra_tickets: Sequence[str] = ()) -> str:
        move = f": {self.from_state} -> {self.to_state}" if self.transition else ""
        subject = f"{self.ticket} {self.action}{' ' + self.transition if self.transition else ''}{move}"
        if self.summary:
            subject += f" ({self.summary})"
        subject = " ".join(subject.split())[:200]
        trailers = [
            f"Erflow-Ticket: {t}" for t in dict.fromkeys((self.ticket, *extra_tickets, *self.created))
        ]
        trailers.append(f"Erflow-Action: {self.action}")
        if self.transition:
            trailers.append(f"Erflow-Transition: {self.transition}")
        if self.from_state is not None:
            trailers.append(f"Erflow-From: {self.from_state}")
        if self.to_state is not None:
            trailers.append(f"Erflow-To: {self.to_state}")
        trailers += [f"Erflow-Created: {t}" for t in self.created]
        if self.timer:
            trailers.append(f"Erflow-Timer: {self.timer}")
        trailers.append(f"Erflow-Actor: {self.actor}")
        body = self.text.strip()
        return subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


@dataclass(frozen=True)
class QuarantineChange:
    """A received message kept in quarantine (mail/quarantine/), and why: no ticket changes."""

    key: str
    reason: str
    actor: str
    action: str = "quarantine"

    def message(self, extra_tickets: Sequence[str] = ()) -> str:
        subject = " ".join(f"mail quarantine {self.key}: {self.reason}".split())[:200]
        return f"{subject}\n\nErflow-Action: {self.action}\nErflow-Actor: {self.actor}\n"


@dataclass(frozen=True)
class DigestChange:
    """The staff digests of one day queued in the outbox (``outbox/digest/<day>/``): whom each goes
    to and how many reminders it holds. No ticket changes."""

    day: str  # ISO date in the workflow calendar's time zone
    recipients: tuple[tuple[str, int], ...]  # (email, number of reminders)
    actor: str
    action: str = "digest"

    def message(self, extra_tickets: Sequence[str] = ()) -> str:
        body = "\n".join(f"- {email}: {count} reminder(s)" for email, count in self.recipients)
        trailers = f"Erflow-Action: {self.action}\nErflow-Digest: {self.day}\nErflow-Actor: {self.actor}\n"
        return f"digest {self.day}\n\n" + (body + "\n\n" if body else "") + trailers


@dataclass(frozen=True)
class RulesChange:
    """A change of the rules (workflow.yaml, templates/) that ``erflow workflow apply`` made: what it
    changed, one phrase a line, the files, and the tickets it moved out of dropped states."""

    actor: str
    changes: tuple[str, ...]
    files: tuple[str, ...]
    moves: tuple[tuple[str, str, str], ...] = ()  # ticket, from-state, to-state
    maps: tuple[tuple[str, str], ...] = ()  # the --map OLD=NEW given
    action: str = "workflow"

    def message(self, extra_tickets: Sequence[str] = ()) -> str:
        """(``extra_tickets`` are the moved tickets, named by ``moves`` already.)"""
        lines = [" ".join(str(c).split()) for c in self.changes]  # one line each: no trailer smuggled in
        subject = f"workflow apply: {'; '.join(lines) or 'no change to roles, gates or states'}"
        subject = " ".join(subject.split())[:200]
        body = [f"- {line}" for line in lines] + [f"- moved {t} from {a} to {b}" for t, a, b in self.moves]
        trailers = [f"Erflow-Ticket: {t}" for t in dict.fromkeys(t for t, _, _ in self.moves)]
        trailers.append(f"Erflow-Action: {self.action}")
        trailers += [f"Erflow-Map: {old}={new}" for old, new in self.maps]
        trailers += [f"Erflow-File: {path}" for path in self.files]
        trailers.append(f"Erflow-Actor: {self.actor}")
        return subject + "\n\n" + ("\n".join(body) + "\n\n" if body else "") + "\n".join(trailers) + "\n"


def parse_trailers(message: str) -> dict[str, list[str]]:
    """The ``Erflow-*`` trailers of a commit message: its last paragraph only, so that a note's text
    (a customer's email, say) cannot pass a line of its own off as one."""
    found: dict[str, list[str]] = {}
    paragraphs = [p for p in message.replace("\r\n", "\n").strip("\n").split("\n\n") if p.strip()]
    for line in paragraphs[-1].splitlines() if paragraphs else ():
        if line.startswith(TRAILER_PREFIX) and ": " in line:
            key, value = line[len(TRAILER_PREFIX) :].split(": ", 1)
            found.setdefault(key.lower(), []).append(value.strip())
    return found


@dataclass
class LogEntry:
    commit: str
    date: str
    author_email: str
    message: str
    blob: str | None  # the file's blob after the commit ("0"*40 when deleted)
    trailers: dict[str, list[str]] = field(default_factory=dict)
    merge: bool = False  # a merge commit (its blob is the merged file)

    def trailer(self, key: str, default: Any) -> Any:
        """The first ``Erflow-<key>`` trailer's value, or ``default``."""
        values = self.trailers.get(key)
        return values[0] if values else default


def file_log(git: Git, path: str, *, follow: bool = False, since: str | None = None) -> list[LogEntry]:
    """Every commit that touched ``path``, oldest first, with the file's blob after each.
    ``follow`` also follows the file across renames (slower: git cannot use its path filters).
    ``since`` (ISO 8601) stops the walk at commits committed before then: git looks at no older
    commit, nor at any commit behind one (so a clock that was wrong can hide later ones too)."""
    fmt = _SEP + "%H%x00%P%x00%aI%x00%ae%x00%B" + _END
    renames = "--follow" if follow else "--no-renames"
    merges = "--diff-merges=first-parent"  # a merge shows the merged file
    limit = [f"--since={since}"] if since else []
    args = ["log", renames, "--raw", "--no-abbrev", merges, *limit, f"--format={fmt}", "--", path]
    out = git.run(*args)
    entries: list[LogEntry] = []
    for chunk in out.split(_SEP)[1:]:
        header, _, raw = chunk.partition(_END)
        commit, parents, date, email, message = header.split("\x00", 4)
        blob = None
        for line in raw.strip().splitlines():
            if line.startswith(":"):
                blob = line.split()[3]
        merge = len(parents.split()) > 1
        entries.append(LogEntry(commit, date, email, message, blob, parse_trailers(message), merge))
    entries.reverse()
    return entries


@dataclass(frozen=True)
class FileChange:
    """One file a commit changed, against its first parent."""

    path: str
    old: str | None  # blob id before (None: added)
    new: str | None  # blob id after (None: deleted)


@dataclass
class CommitRecord:
    """A commit as the audit reads it."""

    commit: str
    parents: tuple[str, ...]
    author_email: str
    date: str
    message: str
    signature: str  # git's %G?: G good, B bad, N none, E cannot check, U/X/Y/R good with a caveat
    changes: list[FileChange]

    @property
    def trailers(self) -> dict[str, list[str]]:
        return parse_trailers(self.message)


# The audit reads commits in batches: one ``git log`` over the whole history holds every commit
# before it prints the first (``--reverse --topo-order``) and maps all of the pack it touches, over
# a gigabyte at half a million commits. A batch's ``git log`` touches only its own commits' objects.
AUDIT_BATCH = 5000


def read_commits(
    git: Git,
    since: str | None,
    *,
    signatures: bool,
    batch: int | None = None,
    on_total: Callable[[int], None] | None = None,
    paths: Sequence[str] = (),
) -> Iterator[CommitRecord]:
    """Every commit reachable from HEAD (and not from ``since``), parents before children, each with
    the files it changed against its first parent (merges included). ``on_total`` is told how many
    there are before the first is given. ``paths`` (pathspecs) keeps only the commits that differ
    there from a parent (every one that differs from its first parent, and some merges that do not).

    The order comes from ``git rev-list --reverse --topo-order`` (into a temporary file, so that
    neither git nor Python holds it); the commits are then read ``batch`` at a time by
    ``git log --no-walk``, the next batch while the caller judges this one."""
    batch = batch or AUDIT_BATCH
    if git.head() is None:
        if on_total is not None:
            on_total(0)
        return
    import tempfile

    revision = f"{since}..HEAD" if since else "HEAD"
    limit = ["--full-history", "--", *paths] if paths else []
    with tempfile.TemporaryFile() as order:
        run_bytes(git, ["rev-list", "--reverse", "--topo-order", revision, *limit], stdout=order)
        if on_total is not None:
            order.seek(0)
            on_total(sum(chunk.count(b"\n") for chunk in iter(lambda: order.read(1 << 20), b"")))
        order.seek(0)
        yield from _read_batches(git, iter(lambda: _take(order, batch), b""), signatures)


# A run's one git log keeps more delta bases than BOUNDED's 16 MB: it reads the tickets' trees,
# each a chain of deltas, commit after commit. At 100k tickets, a run of 20,000 commits: git's user
# time 1.38 -> 0.99 s (its RSS, mapped pack included, 203 -> 285 MB); the whole full audit 68.8 ->
# 63.4 s user, 7.8 -> 8.2 s sys. (With a git per 2000 commits, each filling its own cache, the
# kernel's time grew as much as git's own fell.)
_RUN_BOUNDED = (*BOUNDED, "-c", "core.deltaBaseCacheLimit=96m")  # (git: the last value given wins)


def read_listed(git: Git, commits: Sequence[str], *, signatures: bool) -> Iterator[CommitRecord]:
    """These commits, in this order, as ``read_commits`` gives them: one ``git log`` over them all
    (a few ten thousand at most: a parallel audit's run; each git started costs a tenth of its
    reading in the kernel), each commit given as soon as git has written it."""
    import codecs
    import tempfile

    if not commits:  # (git would read HEAD's history)
        return
    with tempfile.TemporaryFile() as ids:
        ids.write("".join(c + "\n" for c in commits).encode())
        ids.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")  # as one decode of the whole
        rest = ""
        for piece in stream_chunks(git, _log_args(signatures, _RUN_BOUNDED), ids):
            parts = (rest + decoder.decode(piece)).split(_SEP)
            rest = parts.pop()
            yield from (_commit_record(part) for part in parts if part)
        rest += decoder.decode(b"", final=True)
        if rest:
            yield _commit_record(rest)


def _read_batches(git: Git, chunks: Iterator[bytes], signatures: bool) -> Iterator[CommitRecord]:
    """The commits of each chunk (ids, one a line), the next chunk read while this one is used."""
    from concurrent.futures import ThreadPoolExecutor  # imported here: the audit's alone (and logging's)

    with ThreadPoolExecutor(1) as reader:
        pending = reader.submit(_read_batch, git, next(chunks, b""), signatures)
        while records := pending.result():
            pending = reader.submit(_read_batch, git, next(chunks, b""), signatures)
            yield from records


def _take(lines: IO[bytes], count: int) -> bytes:
    return b"".join(itertools.islice(lines, count))


def _read_batch(git: Git, ids: bytes, signatures: bool) -> list[CommitRecord]:
    """These commits (one id a line), in this order, as the audit reads them."""
    if not ids:
        return []
    text = run_bytes(git, _log_args(signatures), input=ids).decode("utf-8", "replace")
    return [_commit_record(part) for part in text.split(_SEP) if part]


def _log_args(signatures: bool, bounded: Sequence[str] = BOUNDED) -> list[str]:
    """``git log`` of the commits named on its input, one a line, as the audit reads them."""
    fmt = _SEP + "%H%x00%P%x00%ae%x00%aI%x00" + ("%G?" if signatures else "N") + "%x00%B" + _END
    return [
        *bounded, "log", "--no-walk=unsorted", "--stdin", "--no-renames", "--raw", "-z",
        "--no-abbrev", "--diff-merges=first-parent", f"--format={fmt}",
    ]  # fmt: skip


def _commit_record(chunk: str) -> CommitRecord:
    header, _, raw = chunk.partition(_END)
    commit, parents, email, date, signature, message = header.split("\x00", 5)
    fields = raw.strip("\x00\n").split("\x00")
    changes = []
    for status_line, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = status_line.lstrip("\n").split()
        if len(parts) < 5 or not parts[0].startswith(":"):
            continue
        old, new = parts[2], parts[3]
        changes.append(FileChange(path, None if old == NULL_BLOB else old, None if new == NULL_BLOB else new))
    return CommitRecord(commit, tuple(parents.split()), email, date, message, signature.strip(), changes)


# ---------------------------------------------------------------------------------------------
# The store at a past date, and every state move (for reports)


def commit_at(git: Git, when: dt.datetime) -> str | None:
    """The newest commit on HEAD's first-parent line whose author date (erflow's clock) is at or
    before ``when``; read newest first, and git is stopped as soon as it is found."""
    if git.head() is None:
        return None
    limit = int(when.timestamp())
    with contextlib.closing(stream(git, ["log", "--first-parent", "--format=%H %at", "HEAD"])) as lines:
        for line in lines:
            commit, _, stamp = line.decode("ascii", "replace").strip().partition(" ")
            if stamp.isdigit() and int(stamp) <= limit:
                return commit
    return None


@dataclass(frozen=True)
class Move:
    """A commit's effect on ticket states, from its trailers: ``ticket`` went to ``to_state`` (None
    when the commit did not say) and each of ``created`` was made, at ``when`` (author time)."""

    when: int  # seconds since the epoch
    ticket: str
    to_state: str | None
    created: tuple[str, ...]


_MOVE_KEYS = ("Erflow-Ticket", "Erflow-To", "Erflow-Created")
# git log's line for a commit's move: its author time, NUL, the move's trailers split by \x1f.
MOVE_FORMAT = "%at%x00%(trailers:" + ",".join(f"key={k}" for k in _MOVE_KEYS) + ",separator=%x1f)"


def read_moves(git: Git, upto: str = "HEAD") -> Iterator[Move]:
    """Every erflow commit reachable from ``upto`` that names a ticket, newest first, streamed."""
    if git.head() is None:
        return
    for raw in stream(git, ["log", f"--format={MOVE_FORMAT}", upto]):
        move = parse_move(raw)
        if move is not None:
            yield move


def parse_move(raw: bytes) -> Move | None:
    """The move in one line of ``git log --format=MOVE_FORMAT``; None when it names no ticket."""
    fields = move_fields(raw)
    return None if fields is None else Move(*fields)


# A move as plain values, for readers of every move in the history (no object a commit):
# (author time, ticket, state moved to or None, tickets created).
MoveFields = tuple[int, str, str | None, tuple[str, ...]]


def move_fields(raw: bytes) -> MoveFields | None:
    """``parse_move``'s move as a plain tuple; None when the line names no ticket."""
    stamp, _, trailers = raw.decode("utf-8", "replace").rstrip("\n").partition("\x00")
    ticket, to_state, created = "", None, []
    for item in trailers.split("\x1f"):
        key, _, value = item.partition(": ")
        if key == "Erflow-Ticket" and not ticket:
            ticket = value.strip()
        elif key == "Erflow-To" and to_state is None:
            to_state = value.strip()
        elif key == "Erflow-Created":
            created.append(value.strip())
    if ticket and stamp.isdigit():
        return int(stamp), ticket, to_state, tuple(created)
    return None
