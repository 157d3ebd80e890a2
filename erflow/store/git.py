"""git plumbing: running git (in the C locale, its memory bounded), committing, reading status,
blobs and trees, streaming its output.

The only module that runs git. It calls git's own commands (``git commit`` checks and moves the
branch safely, honours hooks and signing) rather than writing objects itself. What erflow's commit
messages say, and reading them back, is erflow.store.commits.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erflow.core.errors import Conflict, ErflowError, UsageError

GATE = "erflow-git-gate"  # the name of the shell that starts git once its pid is known (run_watched)


class GitError(ErflowError):
    exit_code = 1
    output = ""  # all git said (its message holds only the last line)


def _failed(command: str, returncode: int, stdout: str, stderr: str) -> GitError:
    """The error for a git command that failed: its last line of complaint (not one of its hints),
    else its exit code; all it said kept as ``output``."""
    said = (stderr or stdout).strip()
    detail = [line for line in said.splitlines() if line.strip() and not line.startswith("hint:")]
    error = GitError(f"git {command} failed: {detail[-1] if detail else 'exit ' + str(returncode)}")
    error.output = said
    return error


# git maps its packs into memory in windows of up to 1 GiB and keeps up to 8 GiB of them; a log over
# half a million commits touches the whole pack, and the pages it touched count as git's memory
# (942 MB for one `git log` over the 100k-ticket benchmark store). Small windows bound it (216 MB).
# The limit is 128m, not 64m: the audit's `git log --raw` reads trees from all over a 585 MB pack,
# and under 64m it unmapped and mapped windows again all the time (0.40 s for 2,000 commits, half
# of it in the kernel, against 0.21 s; 191 MB).
_GIT_CONFIG = {"core.packedGitWindowSize": "16m", "core.packedGitLimit": "128m"}


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
        self._committer: bool | None = None  # whether git knows user.email (asked once)

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
        if self._committer is None:
            self._committer = bool(self.config("user.email"))
        if not self._committer:
            env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        to_add = list(paths if untracked is None else untracked)
        only = list(paths)
        if to_add:
            # A path new to git makes ``git commit -- paths`` slow (about 130 ms more at 10,000
            # tickets): stage every path instead and commit the index as it is, when nothing else is
            # staged (else the paths alone, leaving the rest staged).
            self.run_watched(["add", "-A", "--", *paths], on_child=on_child)
            staged = set(self.run("diff", "--cached", "--name-only", "-z", "--no-renames").split("\0")) - {""}
            top = "" if (self.root / ".git").exists() else self.run("rev-parse", "--show-prefix").strip()
            if staged <= {top + path for path in paths}:
                only = []
        before = self.head() if parent == _ASK else parent
        try:
            args = ["commit", "-q", "--no-edit", "-F", "-", *(["--", *only] if only else [])]
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
        """The repository's git folder (also for a worktree, a submodule or a store in a subfolder):
        found by looking, as git does, for the nearest ``.git`` folder upward; git is asked only
        when the first ``.git`` met is a file (a linked work tree, a submodule) or none is found."""
        for folder in (self.root, *self.root.parents):
            dot = folder / ".git"
            if dot.is_dir():
                return dot
            if dot.exists():
                break
        return Path(self.run("rev-parse", "--absolute-git-dir").strip())

    def blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Read many blobs (by id, or as ``<commit>:<path>``) through one ``git cat-file --batch``."""
        with ObjectReader(self) as reader:
            return reader.blobs(ids)


NULL_BLOB = "0" * 40


# The audit's git processes keep their memory flat whatever the history's size: a small cache of
# delta bases (git's default is 96 MB), the pack mapped in 4 MB windows (within the 64 MB that every
# git erflow runs may map: _GIT_CONFIG), and commits read from the pack rather than through the
# commit-graph (which a batch would touch from end to end).
BOUNDED = (
    "-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitWindowSize=4m", "-c", "core.commitGraph=false",
)  # fmt: skip


def run_bytes(git: Git, args: Sequence[str], *, input: bytes | None = None, stdout: Any = None) -> bytes:
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


def run_together(git: Git, commands: Sequence[Sequence[str]]) -> list[bytes]:
    """Several git commands run at once, each given no input; their raw outputs, in order. A
    failure is a GitError (every command has ended by then)."""
    procs = []
    try:
        for args in commands:
            procs.append(
                subprocess.Popen(
                    ["git", *args],
                    cwd=git.root,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_environment(None),
                )
            )
        said = [proc.communicate() for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:  # interrupted, or a later one could not start
                proc.kill()
            proc.wait()
    for args, proc, (_, stderr) in zip(commands, procs, said, strict=True):
        if proc.returncode != 0:
            command = next(a for a in args if not a.startswith("-") and "=" not in a)
            raise _failed(command, proc.returncode, "", stderr.decode("utf-8", "replace"))
    return [stdout for stdout, _ in said]


class ObjectReader:
    """One ``git cat-file --batch`` kept open for a whole audit: blobs by id, files by
    ``<commit>:<path>``, each asked for in small rounds (a round's names always fit in the pipe, so
    neither side waits on the other), with git's memory bounded as for ``read_commits``."""

    _ROUND = 4096  # bytes of names a round: less than any pipe holds

    def __init__(self, git: Git) -> None:
        self._proc = subprocess.Popen(
            ["git", *BOUNDED, "cat-file", "--batch"],
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
        wanted = [n for n in dict.fromkeys(names) if n and n != NULL_BLOB and "\n" not in n]
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
