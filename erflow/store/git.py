"""git: commits with a message a program can read back, and each ticket's life from the log.

The only module that runs git. It calls git's own commands (``git commit`` checks and moves the
branch safely, honours hooks and signing) rather than writing objects itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import subprocess
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from erflow.core.errors import Conflict, ErflowError, UsageError

TRAILER_PREFIX = "Erflow-"
_SEP = "\x1e"
_END = "\x1f"


class GitError(ErflowError):
    exit_code = 1


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


def parse_trailers(message: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in message.splitlines():
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


def _failed(command: str, returncode: int, stdout: str, stderr: str) -> GitError:
    """The error for a git command that failed: its last line of complaint, else its exit code."""
    detail = (stderr or stdout).strip().splitlines()
    return GitError(f"git {command} failed: {detail[-1] if detail else 'exit ' + str(returncode)}")


# git maps its packs into memory in windows of up to 1 GiB and keeps up to 8 GiB of them; a log over
# half a million commits touches the whole pack, and the pages it touched count as git's memory
# (942 MB for one `git log` over the 100k-ticket benchmark store). Small windows bound it (216 MB)
# at no cost in time measured there.
_GIT_CONFIG = {"core.packedGitWindowSize": "16m", "core.packedGitLimit": "64m"}


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """git's environment: erflow's, plus ``extra``, in the C locale unless told otherwise, with
    erflow's memory limits added to any configuration given through the environment."""
    full = {**os.environ, **(extra or {})}
    full.setdefault("LC_ALL", "C")
    try:
        count = int(full.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    for key, value in _GIT_CONFIG.items():
        full[f"GIT_CONFIG_KEY_{count}"] = key
        full[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    full["GIT_CONFIG_COUNT"] = str(count)
    return full


@dataclass(frozen=True)
class Status:
    """What ``git status`` told about some paths."""

    head: str | None  # None: the repository has no commit yet
    dirty: list[str]  # the paths with changes not committed, untracked ones included


_ASK = "ask git"  # Git.commit's parent when the caller does not know it


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> str:
        full_env = _environment(env)
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.root,
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=full_env,
            )
        except FileNotFoundError:
            raise UsageError("git is not installed or not on PATH") from None
        if check and proc.returncode != 0:
            raise _failed(args[0], proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout

    def init(self) -> None:
        self.run("init", "-q", "-b", "main")

    def config(self, key: str) -> str | None:
        value = self.run("config", "--get", key, check=False).strip()
        return value or None

    def head(self) -> str | None:
        out = self.run("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).strip()
        return out or None

    def dirty(self, paths: Iterable[str]) -> list[str]:
        """Paths with changes not committed (staged or not), including untracked ones."""
        paths = list(paths)
        return self.status(paths).dirty if paths else []

    def status(self, paths: Iterable[str]) -> Status:
        """HEAD and which of ``paths`` have changes not committed (staged or not, untracked ones
        included), from one ``git status`` limited to those paths (it reads the index, but looks at
        no other file). In a repository without a commit, nothing counts as changed."""
        paths = list(paths)
        if not paths:
            return Status(self.head(), [])
        args = ["status", "--porcelain=v2", "-z", "--branch", "--no-ahead-behind"]
        out = self.run(*args, "--untracked-files=all", "--", *paths)
        head: str | None = None
        dirty: list[str] = []
        fields = iter(out.split("\0"))
        for item in fields:
            kind, _, rest = item.partition(" ")
            if kind == "#":
                if rest.startswith("branch.oid ") and rest != "branch.oid (initial)":
                    head = rest.split(" ", 1)[1]
            elif kind in ("1", "u", "?", "!"):
                dirty.append(rest.split(" ", {"1": 7, "u": 9}.get(kind, 0))[-1])
            elif kind == "2":
                dirty.append(rest.split(" ", 8)[-1])
                dirty.append(next(fields, ""))  # where it was renamed from
        return Status(head, dirty if head is not None else [])

    def commit(
        self,
        paths: Sequence[str],
        message: str,
        author: tuple[str, str],
        date: str | None = None,
        on_child: Callable[[int], None] | None = None,
        *,
        parent: str | None = _ASK,
        untracked: Sequence[str] | None = None,
    ) -> str:
        """Commit exactly these paths, authored by ``author`` at ``date`` (erflow's clock, so that the
        history agrees with the ticket's own entries); return the new commit id.

        ``parent`` is HEAD as the caller last saw it (asked of git when not given); ``untracked``, the
        paths git does not track yet, which ``git add`` stages first (all of them when not given: the
        others, tracked, ``git commit -- paths`` takes as they are, without a ``git add`` that would
        read and write the whole index once more).

        ``on_child`` is given the pid of each git process (``add``, then ``commit``) before git runs
        (see ``run_watched``): should erflow be killed, its journal tells which git may still be
        finishing the commit."""
        name, email = author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
        if date:
            env["GIT_AUTHOR_DATE"] = date
        if not self.config("user.email"):
            env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        to_add = list(paths if untracked is None else untracked)
        if to_add:
            self.run_watched(["add", "-A", "--", *to_add], on_child=on_child)
        before = self.head() if parent == _ASK else parent
        try:
            args = ["commit", "-q", "--no-edit", "-F", "-", "--", *paths]
            self.run_watched(args, input=message, env=env, on_child=on_child)
        except GitError as exc:
            if (self.root / ".git" / "index.lock").exists():
                raise Conflict(
                    f"{exc.message}: .git/index.lock is held", hint="retry; nothing was changed"
                ) from None
            raise
        after = self.head()
        if after is None or after == before:
            raise GitError("git commit made no commit")
        return after

    def write_commit_graph(self) -> bool:
        """Add the commits that git's commit-graph lacks to it, with changed-path Bloom filters, by
        which ``git log -- path`` (``erflow history``) passes over, unread, the commits that did not
        touch that path. Incremental (a new layer, merged with small ones as git's maintenance does):
        a few hundredths of a second for a few commits, even in a history of 500,000. Derived data:
        whether it worked is returned, never raised."""
        try:
            self.run("commit-graph", "write", "--reachable", "--changed-paths", "--split", "--no-progress")
        except ErflowError:
            return False
        return True

    def run_watched(
        self,
        args: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        on_child: Callable[[int], None] | None = None,
    ) -> str:
        """``run``, telling ``on_child`` the git process's pid before git may start.

        On POSIX, git is started behind a gate: a shell that waits for one line on its stdin, then
        becomes git (same pid). The line is sent only once ``on_child`` has returned, so should erflow
        be killed before that, the shell reads end-of-file and git never runs. If ``on_child`` fails,
        git is not started either (the error is raised)."""
        from erflow.store.journal import GATE

        full_env = _environment(env)
        argv = ["git", *args]
        gated = on_child is not None and os.name == "posix"
        if gated:
            argv = ["/bin/sh", "-c", 'read -r go && exec "$@"', GATE, *argv]
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=full_env,
            )
        except FileNotFoundError:
            raise UsageError("git is not installed or not on PATH") from None
        with proc:
            try:
                if on_child is not None:
                    on_child(proc.pid)
            except BaseException:
                proc.communicate("")  # the gate stays shut: the shell exits, git never runs
                raise
            try:
                stdout, stderr = proc.communicate(("go\n" if gated else "") + (input or ""))
            except BaseException:
                proc.wait()  # interrupted: let git end first, so that HEAD says whether it committed
                raise
        if gated and proc.returncode == 127:  # the shell found no git to become
            raise UsageError("git is not installed or not on PATH")
        if proc.returncode != 0:
            raise _failed(args[0], proc.returncode, stdout, stderr)
        return stdout

    def commit_of(self, rev: str) -> tuple[tuple[str, ...], str] | None:
        """A commit's parents and its message as stored; None when ``rev`` names no commit."""
        try:
            raw = self.run("cat-file", "commit", rev)
        except GitError:
            return None
        header, _, message = raw.partition("\n\n")
        parents = tuple(line.split()[1] for line in header.splitlines() if line.startswith("parent "))
        return parents, message

    def unstage(self, paths: Sequence[str]) -> None:
        if self.head() is not None:
            self.run("reset", "-q", "--", *paths, check=False)
        else:
            self.run("rm", "-q", "--cached", "--ignore-unmatch", "--", *paths, check=False)

    def git_dir(self) -> Path:
        """The repository's git folder (also for a worktree, a submodule or a store in a subfolder)."""
        plain = self.root / ".git"
        if plain.is_dir():
            return plain
        return Path(self.run("rev-parse", "--absolute-git-dir").strip())

    def uncommit(self, commit: str, parent: str, paths: Sequence[str]) -> None:
        """Take back erflow's own last commit: move the branch from ``commit`` to ``parent`` only if it
        still points at ``commit``, and reset those paths in the index."""
        self.run(
            "update-ref",
            "-m",
            "erflow: take back a change whose email could not be sent",
            "HEAD",
            parent,
            commit,
        )
        self.run("reset", "-q", parent, "--", *paths)

    def log(self, path: str, *, follow: bool = False, since: str | None = None) -> list[LogEntry]:
        """Every commit that touched ``path``, oldest first, with the file's blob after each.
        ``follow`` also follows the file across renames (slower: git cannot use its path filters).
        ``since`` (ISO 8601) stops the walk at commits committed before then: git looks at no older
        commit, nor at any commit behind one (so a clock that was wrong can hide later ones too)."""
        fmt = _SEP + "%H%x00%P%x00%aI%x00%ae%x00%B" + _END
        renames = "--follow" if follow else "--no-renames"
        merges = "--diff-merges=first-parent"  # a merge shows the merged file
        limit = [f"--since={since}"] if since else []
        args = ["log", renames, "--raw", "--no-abbrev", merges, *limit, f"--format={fmt}", "--", path]
        out = self.run(*args)
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

    def blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Read many blobs (by id, or as ``<commit>:<path>``) through one ``git cat-file --batch``."""
        with ObjectReader(self) as reader:
            return reader.blobs(ids)


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


_NULL_BLOB = "0" * 40


# The audit reads commits in batches: one ``git log`` over the whole history holds every commit
# before it prints the first (``--reverse --topo-order``) and maps all of the pack it touches, over
# a gigabyte at half a million commits. A batch's ``git log`` touches only its own commits' objects.
AUDIT_BATCH = 5000
# The audit's git processes keep their memory flat whatever the history's size: a small cache of
# delta bases (git's default is 96 MB), the pack mapped in 4 MB windows (within the 64 MB that every
# git erflow runs may map: _GIT_CONFIG), and commits read from the pack rather than through the
# commit-graph (which a batch would touch from end to end).
_BOUNDED = (
    "-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitWindowSize=4m", "-c", "core.commitGraph=false",
)  # fmt: skip


def read_commits(
    git: Git,
    since: str | None,
    *,
    signatures: bool,
    batch: int | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Iterator[CommitRecord]:
    """Every commit reachable from HEAD (and not from ``since``), parents before children, each with
    the files it changed against its first parent (merges included). ``on_total`` is told how many
    there are before the first is given.

    The order comes from ``git rev-list --reverse --topo-order`` (into a temporary file, so that
    neither git nor Python holds it); the commits are then read ``batch`` at a time by
    ``git log --no-walk``, the next batch while the caller judges this one."""
    batch = batch or AUDIT_BATCH
    if git.head() is None:
        if on_total is not None:
            on_total(0)
        return
    revision = f"{since}..HEAD" if since else "HEAD"
    with tempfile.TemporaryFile() as order, ThreadPoolExecutor(1) as reader:
        _run_bytes(git, ["rev-list", "--reverse", "--topo-order", revision], stdout=order)
        if on_total is not None:
            order.seek(0)
            on_total(sum(chunk.count(b"\n") for chunk in iter(lambda: order.read(1 << 20), b"")))
        order.seek(0)
        pending = reader.submit(_read_batch, git, _take(order, batch), signatures)
        while records := pending.result():
            pending = reader.submit(_read_batch, git, _take(order, batch), signatures)
            yield from records


def _take(lines: IO[bytes], count: int) -> bytes:
    return b"".join(itertools.islice(lines, count))


def _read_batch(git: Git, ids: bytes, signatures: bool) -> list[CommitRecord]:
    """These commits (one id a line), in this order, as the audit reads them."""
    if not ids:
        return []
    fmt = _SEP + "%H%x00%P%x00%ae%x00%aI%x00" + ("%G?" if signatures else "N") + "%x00%B" + _END
    args = [
        *_BOUNDED, "log", "--no-walk=unsorted", "--stdin", "--no-renames", "--raw", "-z",
        "--no-abbrev", "--diff-merges=first-parent", f"--format={fmt}",
    ]  # fmt: skip
    text = _run_bytes(git, args, input=ids).decode("utf-8", "replace")
    return [_commit_record(part) for part in text.split(_SEP) if part]


def _run_bytes(git: Git, args: Sequence[str], *, input: bytes | None = None, stdout: Any = None) -> bytes:
    """git's raw output (or nothing, when it goes to ``stdout``); a failure is a GitError."""
    proc = subprocess.run(
        ["git", *args],
        cwd=git.root,
        input=input,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        env=_environment(None),
    )
    if proc.returncode != 0:
        command = next(a for a in args if not a.startswith("-") and "=" not in a)
        raise _failed(command, proc.returncode, "", proc.stderr.decode("utf-8", "replace"))
    return proc.stdout or b""


class ObjectReader:
    """One ``git cat-file --batch`` kept open for a whole audit: blobs by id, files by
    ``<commit>:<path>``, each asked for in small rounds (a round's names always fit in the pipe, so
    neither side waits on the other), with git's memory bounded as for ``read_commits``."""

    _ROUND = 4096  # bytes of names a round: less than any pipe holds

    def __init__(self, git: Git) -> None:
        self._proc = subprocess.Popen(
            ["git", *_BOUNDED, "cat-file", "--batch"],
            cwd=git.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_environment(None),
        )

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End git: its input first (it stops), then its output (should a round have been cut
        short, git must not wait on us to read the rest)."""
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:  # git ended first, with names still unsent
                    pass
        self._proc.wait()

    def read(self, names: Iterable[str | None]) -> dict[str, tuple[str, bytes]]:
        """For each name that git finds: the object's id and its content."""
        wanted = [n for n in dict.fromkeys(names) if n and n != _NULL_BLOB and "\n" not in n]
        found: dict[str, tuple[str, bytes]] = {}
        while wanted:
            size, count = 0, 0
            while count < len(wanted) and (count == 0 or size + len(wanted[count]) < self._ROUND):
                size += len(wanted[count]) + 1
                count += 1
            found.update(self._round(wanted[:count]))
            wanted = wanted[count:]
        return found

    def blobs(self, names: Iterable[str | None]) -> dict[str, bytes]:
        return {name: data for name, (_, data) in self.read(names).items()}

    def _round(self, names: Sequence[str]) -> Iterator[tuple[str, tuple[str, bytes]]]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write("".join(n + "\n" for n in names).encode())
            stdin.flush()
        except BrokenPipeError:
            raise GitError("git cat-file ended early") from None
        answers = []
        for name in names:
            header = stdout.readline().split()
            if not header:
                raise GitError("git cat-file ended early")
            if len(header) != 3 or header[-1] in (b"missing", b"ambiguous"):
                continue
            data = stdout.read(int(header[2]) + 1)[:-1]
            answers.append((name, (header[0].decode(), data)))
        return iter(answers)


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
        changes.append(
            FileChange(path, None if old == _NULL_BLOB else old, None if new == _NULL_BLOB else new)
        )
    return CommitRecord(commit, tuple(parents.split()), email, date, message, signature.strip(), changes)


def is_ancestor(git: Git, older: str, newer: str) -> bool:
    return _succeeds(git, "merge-base", "--is-ancestor", older, newer)


def _succeeds(git: Git, *args: str) -> bool:
    try:
        git.run(*args)
    except GitError:
        return False
    return True


def merge_base(git: Git, one: str, other: str) -> str | None:
    return git.run("merge-base", one, other, check=False).strip() or None


# ---------------------------------------------------------------------------------------------
# The store at a past date, and every state move (for reports)


def _stream(git: Git, args: Sequence[str]) -> Generator[bytes, None, None]:
    """git's output line by line, as git writes it; a failure is a GitError. Closing the generator
    before the end stops git."""
    with (
        tempfile.TemporaryFile() as errors,  # a file, not a pipe: git never blocks on what it says there
        subprocess.Popen(
            ["git", *args], cwd=git.root, stdout=subprocess.PIPE, stderr=errors, env=_environment(None)
        ) as proc,
    ):
        assert proc.stdout is not None
        try:
            yield from proc.stdout
        except GeneratorExit:
            proc.kill()
            raise
        proc.wait()
        if proc.returncode != 0:
            errors.seek(0)
            raise _failed(args[0], proc.returncode, "", errors.read().decode("utf-8", "replace"))


def commit_at(git: Git, when: dt.datetime) -> str | None:
    """The newest commit on HEAD's first-parent line whose author date (erflow's clock) is at or
    before ``when``; read newest first, and git is stopped as soon as it is found."""
    if git.head() is None:
        return None
    limit = int(when.timestamp())
    with contextlib.closing(_stream(git, ["log", "--first-parent", "--format=%H %at", "HEAD"])) as lines:
        for line in lines:
            commit, _, stamp = line.decode("ascii", "replace").strip().partition(" ")
            if stamp.isdigit() and int(stamp) <= limit:
                return commit
    return None


def tree_files(git: Git, commit: str, folder: str) -> list[tuple[str, str]]:
    """(path, blob id) of every file under ``folder`` (relative to the store) in ``commit``."""
    out = git.run("ls-tree", "-r", "-z", commit, "--", folder)
    files = []
    for entry in out.split("\x00"):
        info, _, path = entry.partition("\t")
        parts = info.split()
        if len(parts) == 3 and parts[1] == "blob":
            files.append((path, parts[2]))
    return files


@dataclass(frozen=True)
class Move:
    """A commit's effect on ticket states, from its trailers: ``ticket`` went to ``to_state`` (None
    when the commit did not say) and each of ``created`` was made, at ``when`` (author time)."""

    when: int  # seconds since the epoch
    ticket: str
    to_state: str | None
    created: tuple[str, ...]


_MOVE_KEYS = ("Erflow-Ticket", "Erflow-To", "Erflow-Created")


def read_moves(git: Git, upto: str = "HEAD") -> Iterator[Move]:
    """Every erflow commit reachable from ``upto`` that names a ticket, newest first, streamed."""
    if git.head() is None:
        return
    keys = ",".join(f"key={k}" for k in _MOVE_KEYS)
    for raw in _stream(git, ["log", f"--format=%at%x00%(trailers:{keys},separator=%x1f)", upto]):
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
            yield Move(int(stamp), ticket, to_state, tuple(created))
