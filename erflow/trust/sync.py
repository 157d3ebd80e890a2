"""Clones that merge: the git merge driver for ticket files, and ``erflow sync`` (pull, then push).

The driver merges a ticket field by field and its notes by time (see merge.py); a true conflict is
resolved by a rule, written into the ticket's Notes and reported by ``sync``, never dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erflow.core.errors import Conflict, ErflowError, InvalidData, UsageError
from erflow.store import paths as store_paths
from erflow.store import ticketfile
from erflow.store import tickets as store
from erflow.store.files import write_atomic
from erflow.store.git import Git, GitError

DRIVER = "erflow"
ATTRIBUTES = f"{ticketfile.TICKETS}/**/*.md merge={DRIVER}"
CONFLICTS = "merge-conflicts.jsonl"
PUSH_TRIES = 3


def install_driver(git: Git, git_dir: Path, root: Path) -> None:
    """Tell this clone's git to merge ticket files with erflow (local settings: git never clones them)."""
    prefix = git.run("rev-parse", "--show-prefix").strip()
    line = f"/{prefix}{ATTRIBUTES}"
    attributes = git_dir / "info" / "attributes"
    existing = attributes.read_text(encoding="utf-8").splitlines() if attributes.is_file() else []
    if line not in existing:
        attributes.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(attributes, "\n".join([*existing, line]) + "\n")
    command = f"{shlex.quote(sys.executable)} -m erflow merge-file %O %A %B %P"
    if git.config(f"merge.{DRIVER}.driver") != command:
        git.run("config", f"merge.{DRIVER}.name", "erflow: tickets merged field by field, notes by time")
        git.run("config", f"merge.{DRIVER}.driver", command)


# ---------------------------------------------------------------------------------------------
# The driver git runs for one ticket file


def merge_file(base: Path, ours: Path, theirs: Path, path: str, cwd: Path) -> list[dict[str, str]]:
    """Merge ``theirs`` into ``ours`` in place (git's %A); return the conflicts resolved by rule.

    Raises InvalidData when a side does not parse and IdCollision when two tickets share an id:
    git then reports the file as conflicted and ``sync`` aborts the merge.
    """
    from erflow.trust.merge import merge_ticket

    texts = []
    for side in (base, ours, theirs):
        try:
            texts.append(side.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidData(f"{path}: one side of the merge is not valid UTF-8") from None
    merged = merge_ticket(
        texts[0] or None, texts[1], texts[2], path=path, type_fields=_type_fields(cwd, path)
    )
    write_atomic(ours, merged.text)
    found = [
        {"ticket": c.ticket, "field": c.field, "kept": c.kept, "dropped": c.dropped, "rule": c.rule,
         "describe": c.describe()}
        for c in merged.conflicts
    ]  # fmt: skip
    if found:
        try:
            log = Git(cwd).git_dir() / "erflow" / CONFLICTS
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(item) + "\n" for item in found)
        except (OSError, ErflowError):  # the merge itself stands; the conflict is in the ticket's Notes
            pass
    return found


def _type_fields(cwd: Path, path: str) -> list[str]:
    """The ticket type's field order, from the workflow.yaml of the store the file belongs to."""
    from erflow.store.workflow_file import load_with_problems

    folder = (cwd / path).parent
    for candidate in (folder, *folder.parents):
        if (candidate / store.WORKFLOW).is_file():
            try:
                workflow, _ = load_with_problems(candidate / store.WORKFLOW)
            except ErflowError:
                return []
            if workflow is None:
                return []
            ticket_type = workflow.types.get(_type_in(cwd / path))
            return list(ticket_type.fields) if ticket_type else []
        if candidate == cwd:
            break
    return []


def _type_in(path: Path) -> str:
    try:
        for line in path.read_text(encoding="utf-8").splitlines()[1:40]:
            if line.startswith("type: "):
                return line[6:].strip()
    except (OSError, UnicodeDecodeError):
        pass
    return ""


# ---------------------------------------------------------------------------------------------
# erflow sync


@dataclass
class SyncResult:
    remote: str
    branch: str
    fetched: int = 0  # commits that came in
    pushed: int = 0  # commits that went out
    merge: str | None = None  # the merge commit, if one was made
    conflicts: list[dict[str, str]] = field(default_factory=list)
    renumbered: list[dict[str, str]] = field(default_factory=list)  # {"from", "to", "commit"}

    def as_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "branch": self.branch,
            "fetched": self.fetched,
            "pushed": self.pushed,
            "merge": self.merge,
            "conflicts": self.conflicts,
            "renumbered": self.renumbered,
        }


def upstream(git: Git) -> tuple[str, str]:
    """The remote and branch this clone syncs with: its upstream, else origin's branch of that name."""
    branch = git.run("symbolic-ref", "-q", "--short", "HEAD", check=False).strip()
    if not branch:
        raise UsageError("sync needs a branch checked out (HEAD is detached)")
    remote = git.config(f"branch.{branch}.remote")
    merge_ref = git.config(f"branch.{branch}.merge")
    if remote and merge_ref:
        return remote, merge_ref.removeprefix("refs/heads/")
    if "origin" in git.run("remote").split():
        return "origin", branch
    raise UsageError(
        "sync: this clone has no remote to sync with", hint="git remote add origin URL, then erflow sync"
    )


def sync(git: Git, git_dir: Path, root: Path, author: tuple[str, str], now: dt.datetime) -> SyncResult:
    """Pull (merging ticket files with the driver), then push; retry if someone pushed in between.

    Call under the store lock. Refuses, changing nothing, when the work tree has uncommitted changes
    or the merge meets a conflict the driver cannot settle (then the merge is aborted).
    """
    dirty = [line for line in git.run("status", "--porcelain", "--untracked-files=no").splitlines() if line]
    if dirty:
        raise Conflict(
            f"sync: uncommitted changes in {dirty[0][3:]}", hint="commit or discard them, then retry"
        )
    install_driver(git, git_dir, root)
    remote, branch = upstream(git)
    result = SyncResult(remote, branch)
    for _ in range(PUSH_TRIES):
        _pull(git, git_dir, remote, branch, result, author, now)
        git.write_commit_graph()  # what the pull brought (and the merge made) gets its path filters
        ahead = (
            _count(git, f"{remote}/{branch}..HEAD")
            if _exists(git, f"{remote}/{branch}")
            else _count(git, "HEAD")
        )
        if ahead == 0:
            return result
        try:
            git.run("push", "-q", remote, f"HEAD:refs/heads/{branch}")
        except GitError as exc:
            if _moved_meanwhile(exc.output or exc.message):
                continue  # someone pushed meanwhile: pull again
            raise
        result.pushed += ahead
        return result
    raise Conflict(f"sync: {remote}/{branch} kept moving; {PUSH_TRIES} pushes were rejected", hint="retry")


def _pull(
    git: Git,
    git_dir: Path,
    remote: str,
    branch: str,
    result: SyncResult,
    author: tuple[str, str],
    now: dt.datetime,
) -> None:
    git.run("fetch", "-q", remote)
    tracking = f"{remote}/{branch}"
    if not _exists(git, tracking):
        return  # the remote has no such branch yet: the push makes it
    incoming = _count(git, f"HEAD..{tracking}")
    if incoming == 0:
        return
    result.renumbered += renumber_collisions(git, tracking, author, now)
    log = git_dir / "erflow" / CONFLICTS
    log.unlink(missing_ok=True)
    before = git.head()
    try:
        name, email = author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
        if not git.config("user.email"):
            env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        message = f"erflow sync: merge {tracking}\n\nErflow-Action: sync\nErflow-Actor: {email}\n"
        git.run("merge", "-q", "--no-edit", "-m", message, tracking, env=env)
    except GitError as exc:
        conflicted = git.run("diff", "--name-only", "--diff-filter=U").split()
        git.run("merge", "--abort", check=False)
        what = ", ".join(conflicted) or exc.message
        raise Conflict(
            f"sync: the merge with {tracking} stopped at {what}; it was undone, nothing changed",
            hint=f"a ticket erflow could not merge, or a file edited by hand on both sides (workflow.yaml?):"
            f" merge {tracking} by hand, then sync",
        ) from None
    result.fetched += incoming
    after = git.head()
    if after != before and len(git.run("rev-list", "--parents", "-n", "1", "HEAD").split()) > 2:
        result.merge = after
    if log.is_file():
        result.conflicts += [
            json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line
        ]
        log.unlink()


def _moved_meanwhile(said: str) -> bool:
    """Whether git refused a push because the remote branch moved since the fetch: ``! [rejected]
    (fetch first | non-fast-forward)``, or, when it moved while the push ran, ``! [remote rejected]
    (failed to update ref)``. Read from all git said: its hints come last, after the reason."""
    for line in said.splitlines():
        if line.lstrip().startswith("! [rejected]") and ("fetch first" in line or "non-fast-forward" in line):
            return True
        if line.lstrip().startswith("! [remote rejected]") and "failed to update ref" in line:
            return True
    return False


def _exists(git: Git, ref: str) -> bool:
    return bool(git.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).strip())


def _count(git: Git, revision: str) -> int:
    return int(git.run("rev-list", "--count", revision).strip() or 0)


# ---------------------------------------------------------------------------------------------
# Two clones that gave one id to two different tickets


def renumber_collisions(
    git: Git, tracking: str, author: tuple[str, str], now: dt.datetime
) -> list[dict[str, str]]:
    """Before merging ``tracking``: give every ticket created here whose id the other side gave to a
    different ticket a new id (one commit each, ``Erflow-Action: renumber``), so ids never collide.
    Links to it from this clone's tickets follow it."""
    base = git.run("merge-base", "HEAD", tracking, check=False).strip()
    if not base:
        return []
    ours = _added(git, base, "HEAD")
    theirs = _added(git, base, tracking)
    done = []
    for path in sorted(set(ours) & set(theirs)):
        if ours[path] == theirs[path] or _same_ticket(git, ours[path], theirs[path]):
            continue
        done.append(_renumber(git, path, tracking, author, now))
    return done


def _added(git: Git, base: str, tip: str) -> dict[str, str]:
    """Ticket files added between ``base`` and ``tip``: path -> blob at ``tip``."""
    out = git.run(
        "diff", "--raw", "--no-abbrev", "--no-renames", "--diff-filter=A", "-z", base, tip, "--", "*.md"
    )
    fields = out.strip("\x00").split("\x00")
    found = {}
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = status.split()
        if len(parts) >= 4 and f"/{ticketfile.TICKETS}/" in f"/{path}":
            found[path] = parts[3]
    return found


def _same_ticket(git: Git, one: str, other: str) -> bool:
    blobs = git.blobs([one, other])
    try:
        a, b = (ticketfile.parse(blobs[x].decode("utf-8"), Path(x)).ticket for x in (one, other))
    except (KeyError, UnicodeDecodeError, ErflowError):
        return False
    return all(a.meta.get(k) == b.meta.get(k) for k in ("id", "type", "created"))


def _renumber(
    git: Git, path: str, tracking: str, author: tuple[str, str], now: dt.datetime
) -> dict[str, str]:
    from erflow.core import model

    root = git.root
    old_path = store_paths.plain(root, path)  # nothing read or written through a symlink
    old_text = old_path.read_text(encoding="utf-8")
    ticket = ticketfile.parse(old_text, Path(path)).ticket
    old = ticket.id
    prefix = old.split("-", 1)[0]
    for _ in range(100):
        new = f"{prefix}-{store.new_code()}"
        new_rel = (Path(path).parent.parent / new[len(prefix) + 1 :][:2] / f"{new}.md").as_posix()
        taken = git.run("rev-parse", "-q", "--verify", f"{tracking}:{new_rel}", check=False).strip()
        if not taken and not (root / new_rel).exists():
            break
    else:  # pragma: no cover - 100 taken ids in a row
        raise Conflict(f"sync: no free id to renumber {old}")
    stamp = model.entry(
        now, f"erflow sync: renumbered from {old}: the other clone gave {old} to another ticket"
    )
    renamed = _with_id(old_text, old, new).rstrip("\n")
    renamed = _append_note(renamed, stamp)
    files = [root / rel for rel, *_ in store_paths.walk(root) if not (root / rel).is_symlink()]
    linking = [p for p in files if p != old_path and old in p.read_text("utf-8")]
    write_atomic(store_paths.plain(root, new_rel), renamed + "\n")
    old_path.unlink()
    changed = [path, new_rel]
    for other in linking:
        text = other.read_text(encoding="utf-8")
        write_atomic(other, re.sub(rf"^(- \w+ ){re.escape(old)}$", rf"\g<1>{new}", text, flags=re.M))
        changed.append(other.relative_to(root).as_posix())
    message = (
        f"{new} renumber (was {old}, taken in {tracking})\n\n"
        + "".join(f"Erflow-Ticket: {t}\n" for t in dict.fromkeys([new, old]))
        + f"Erflow-Action: renumber\nErflow-Renumbered: {old}\nErflow-Actor: {author[1]}\n"
    )
    commit = git.commit(changed, message, author, model.timestamp(now))
    return {"from": old, "to": new, "commit": commit}


def _with_id(text: str, old: str, new: str) -> str:
    return re.sub(rf"^id: {re.escape(old)}$", f"id: {new}", text, count=1, flags=re.M)


def _append_note(text: str, entry: str) -> str:
    """Add an entry at the end of the Notes section (before the sections that follow it)."""
    at = text.find("\n## ", text.find("\n## Notes\n") + 1)
    if at < 0:
        return text + "\n" + entry
    head, tail = text[:at].rstrip("\n"), text[at:]
    return head + "\n" + entry + "\n" + tail
