"""git: commits with a message a program can read back, and each ticket's life from the log.

The only module that runs git. It calls git's own commands (``git commit`` checks and moves the
branch safely, honours hooks and signing) rather than writing objects itself.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Conflict, ErflowError, UsageError

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

    def trailer(self, key: str, default: Any) -> Any:
        """The first ``Erflow-<key>`` trailer's value, or ``default``."""
        values = self.trailers.get(key)
        return values[0] if values else default


class Git:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> str:
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("LC_ALL", "C")
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
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise GitError(
                f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}"
            )
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
        if not paths or self.head() is None:
            return []
        out = self.run("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
        return [item[3:] for item in out.split("\0") if item]

    def commit(
        self, paths: Sequence[str], message: str, author: tuple[str, str], date: str | None = None
    ) -> str:
        """Commit exactly these paths, authored by ``author`` at ``date`` (erflow's clock, so that the
        history agrees with the ticket's own entries); return the new commit id."""
        name, email = author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
        if date:
            env["GIT_AUTHOR_DATE"] = date
        if not self.config("user.email"):
            env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        self.run("add", "-A", "--", *paths)
        before = self.head()
        try:
            self.run("commit", "-q", "--no-edit", "-F", "-", "--", *paths, input=message, env=env)
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

    def log(self, path: str, *, follow: bool = False) -> list[LogEntry]:
        """Every commit that touched ``path``, oldest first, with the file's blob after each.
        ``follow`` also follows the file across renames (slower: git cannot use its path filters)."""
        fmt = _SEP + "%H%x00%aI%x00%ae%x00%B" + _END
        renames = "--follow" if follow else "--no-renames"
        out = self.run("log", renames, "--raw", "--no-abbrev", f"--format={fmt}", "--", path)
        entries: list[LogEntry] = []
        for chunk in out.split(_SEP)[1:]:
            header, _, raw = chunk.partition(_END)
            commit, date, email, message = header.split("\x00", 3)
            blob = None
            for line in raw.strip().splitlines():
                if line.startswith(":"):
                    blob = line.split()[3]
            entries.append(LogEntry(commit, date, email, message, blob, parse_trailers(message)))
        entries.reverse()
        return entries

    def blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """Read many blobs through one ``git cat-file --batch``."""
        wanted = [i for i in dict.fromkeys(ids) if i and set(i) != {"0"}]
        if not wanted:
            return {}
        proc = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            input=("\n".join(wanted) + "\n").encode(),
            capture_output=True,
            check=True,
        )
        data = proc.stdout
        result: dict[str, bytes] = {}
        pos = 0
        for blob_id in wanted:
            newline = data.index(b"\n", pos)
            header = data[pos:newline].split()
            pos = newline + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            result[blob_id] = data[pos : pos + size]
            pos += size + 1
        return result
