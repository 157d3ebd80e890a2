"""The front-matter index: every ticket file's front-matter in ``.erflow/index.sqlite``.

A derived cache, ignored by git and never the source of truth: a row is used only while its file's
stat (mtime, size, inode) is what the row says; new and changed files are parsed again, rows of
vanished files dropped. Any trouble with the database (corrupt, read-only, locked past the busy
timeout, from another erflow) falls back to parsing the files: the cache never fails a command.
Two erflow processes may refresh it at once (WAL, a busy timeout, each write one transaction).

git vouches for the rows when it can (erflow.store.vouch): the index records the tickets/ tree of
HEAD whose ticket files its rows are known to be, byte for byte (their blob ids); while HEAD's tree
is that one and ``git status`` finds nothing under tickets/, no folder is walked and no file
stat-ed by erflow (git does it, in C, with threads). A few files committed since are read alone.

The only module that uses sqlite3, with index_peek (its read-only lookups for shell completion).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from erflow import __version__
from erflow.core.errors import ErflowError
from erflow.store import index_git, index_listed, index_rows
from erflow.store.paths import Stat, plain, walk
from erflow.store.ticketfile import Indexed, Progress

PATH = ".erflow/index.sqlite"
LEGACY = ".erflow/index.json"  # the index of erflow 0.1: removed when found
# PRAGMA user_version; with erflow's version, a mismatch rebuilds the index. 2: info's git_tree and
# generation, which an erflow of schema 1 would leave in place when it changes rows.
SCHEMA = 2
PAGE = 2000  # rows read per query: no read transaction stays open while the caller works

Key = tuple[str, str, str]  # created, id, path: the order of entries

_CREATE = (
    """CREATE TABLE files (
    path TEXT PRIMARY KEY,  -- from the store's root, posix: tickets/ER/4K/ER-4K7M2Q.md
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    blob TEXT NOT NULL,     -- git's blob id of the bytes parsed; '' when they could not be read
    id TEXT NOT NULL,       -- str(meta.get('id', '')), as the list sorts, '' for a bad file
    type TEXT,              -- these three when they are strings, else NULL
    state TEXT,
    owner TEXT,
    created TEXT NOT NULL,  -- str(meta.get('created', '')), '' for a bad file
    meta TEXT,              -- json.dumps(meta, ensure_ascii=False, default=str); NULL for a bad file
    problem TEXT            -- the one-line error of a file that does not parse, else NULL
)""",
    "CREATE INDEX files_order ON files (created, id, path)",
    "CREATE INDEX files_blob ON files (blob)",
    "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_INDEXES = tuple(s for s in _CREATE if s.startswith("CREATE INDEX "))  # CREATE INDEX name ON ...


def entries(
    root: Path, types: tuple[str, ...], states: tuple[str, ...], progress: Progress | None = None
) -> Iterator[Indexed]:
    """The index's rows of the store at ``root``, brought up to date, in (created, id, path) order;
    see Store.indexed. ``progress`` is told how a refresh that parses many files goes."""
    after: Key | None = None
    connection = _open_or_none(root)
    if connection is not None:
        try:
            with contextlib.closing(connection):
                _refresh(connection, root, progress)
                while True:
                    page = _page(connection, after or ("", "", ""), types, states)
                    for path, created, ticket_id, raw, problem, kind, state, owner in page:
                        head = None if problem else (ticket_id, kind, state, owner, created)
                        yield Indexed(f"{root}/{path}", None, problem, raw, head)
                        after = (created, ticket_id, path)
                    if len(page) < PAGE:
                        return
        except (sqlite3.Error, OSError):
            pass  # a cache never fails a command: read the files instead, from where we were
    yield from _from_files(root, types, states, after, progress)


def json_texts(
    root: Path, types: tuple[str, ...], states: tuple[str, ...], progress: Progress | None = None
) -> tuple[list[str], Iterator[bytes]]:
    """What ``list --json`` prints of the store at ``root`` (brought up to date as ``entries`` does),
    without a Python object per row: the problems of the files that cannot be read, in the list's
    order, and the stored JSON texts of the others of these types and states, in that order, in
    runs joined by ``",\\n"`` (never an empty run), UTF-8 encoded: what is kept whole in a file is
    written out as it is read. Byte for byte ``entries``' ``raw`` texts."""
    connection = _open_or_none(root)
    if connection is not None:
        try:
            before = index_git.generation(connection)
            _refresh(connection, root, progress)
            listed = None if types or states else index_listed.kept(connection, root, before)
            if listed is not None:
                connection.close()
                return listed
            problems = [problem for (problem,) in connection.execute(index_listed.PROBLEMS)]
            return problems, _runs(connection, root, types, states, progress)
        except (sqlite3.Error, OSError):
            connection.close()
    items = list(_from_files(root, types, states, None, progress))
    runs = _joined([item.raw or "null" for item in items if item.problem is None])
    return [item.problem for item in items if item.problem is not None], iter(runs)


def _runs(
    connection: sqlite3.Connection,
    root: Path,
    types: tuple[str, ...],
    states: tuple[str, ...],
    progress: Progress | None,
) -> Iterator[bytes]:
    """The JSON texts of ``json_texts``, a page per run; from the files, from where it was, should
    the database fail midway."""
    from operator import itemgetter

    after: Key = ("", "", "")
    sql = (
        "SELECT coalesce(meta, 'null'), created, id, path FROM files"
        " WHERE problem IS NULL AND (created, id, path) > (?, ?, ?)"
    )
    for column, wanted in (("type", types), ("state", states)):
        if wanted:
            sql += f" AND {column} IN ({','.join('?' * len(wanted))})"
    sql += " ORDER BY created, id, path LIMIT ?"
    with contextlib.closing(connection):
        try:
            while True:
                page = connection.execute(sql, [*after, *types, *states, PAGE]).fetchall()
                if page:
                    yield ",\n".join(map(itemgetter(0), page)).encode("utf-8")
                    after = page[-1][1:]
                if len(page) < PAGE:
                    return
        except (sqlite3.Error, OSError):
            pass
    items = _from_files(root, types, states, after, progress)
    yield from _joined([item.raw or "null" for item in items if item.problem is None])


def _joined(texts: list[str]) -> list[bytes]:
    return [",\n".join(texts).encode("utf-8")] if texts else []


def metas_by_blob(root: Path, blob_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The parsed front-matter of every one of these blobs that a row holds (no refresh needed:
    a blob id names its bytes, so a row is right about its blob even when its file has changed)."""
    wanted = sorted(set(blob_ids))
    found: dict[str, dict[str, Any]] = {}
    if not wanted or not (root / PATH).is_file():
        return found
    try:
        with contextlib.closing(_connect(root)) as connection:
            if not current(connection):
                return found
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT blob, meta FROM files WHERE meta IS NOT NULL AND blob IN ({marks})"
                for blob, raw in connection.execute(sql, chunk):
                    found[blob] = json.loads(raw)
    except (sqlite3.Error, OSError, ValueError):
        return {}
    return found


def current_meta(root: Path, rel: str, stat: tuple[int, int, int]) -> dict[str, Any] | None:
    """The front-matter the index holds for the file ``rel`` (posix, from the root) if its row was
    made from the file with this stat (mtime_ns, size, inode); None otherwise, or on any trouble."""
    if not (root / PATH).is_file():
        return None
    try:
        with contextlib.closing(_connect(root)) as connection:
            if not current(connection):
                return None
            row = connection.execute(
                "SELECT meta FROM files WHERE path = ? AND mtime_ns = ? AND size = ? AND ino = ?"
                " AND meta IS NOT NULL",
                (rel, *stat),
            ).fetchone()
    except (sqlite3.Error, OSError):
        return None
    try:
        return json.loads(row[0]) if row else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The database


def _through_link(root: Path) -> None:
    """Refuse (as a database that cannot be used) an index whose folder is reached through a
    symlink: the cache is never written, nor a file removed, outside the store."""
    try:
        plain(root, PATH)
    except ErflowError:
        raise sqlite3.OperationalError(f"{PATH} is reached through a symlink") from None


def _connect(root: Path) -> sqlite3.Connection:
    _through_link(root)
    timeout = float(os.environ.get("ERFLOW_LOCK_TIMEOUT", "10"))
    # isolation_level=None: no implicit transactions; each write below is one explicit BEGIN..COMMIT.
    connection = sqlite3.connect(root / PATH, timeout=timeout, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a refresh
        connection.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last commit is fine
    except BaseException:
        connection.close()
        raise
    return connection


def _open_or_none(root: Path) -> sqlite3.Connection | None:
    """The index opened as ``_open`` does, or None when it cannot be (the caller reads the files)."""
    try:
        return _open(root)
    except (sqlite3.Error, OSError):
        return None


def _open(root: Path) -> sqlite3.Connection:
    """A connection to an index of this schema and erflow version: made, or rebuilt, as needed.
    A file that is not a database at all is removed and made anew, once."""
    _through_link(root)
    folder = root / PATH
    folder.parent.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(root / LEGACY)
    for attempt in (1, 2):
        try:
            connection = _connect(root)
        except sqlite3.DatabaseError as exc:
            if attempt == 2 or not _is_damage(exc):
                raise
            _remove(root)
            continue
        try:
            if not current(connection):
                _rebuild(connection)
            return connection
        except sqlite3.DatabaseError as exc:
            connection.close()
            if attempt == 2 or not _is_damage(exc):
                raise
            _remove(root)
    raise sqlite3.DatabaseError("unreachable")  # pragma: no cover


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Not a database, or a damaged one (not: locked, read-only, disk full...)."""
    return not isinstance(exc, sqlite3.OperationalError) or "malformed" in str(exc)


def _remove(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{root / PATH}{suffix}")


def current(connection: sqlite3.Connection) -> bool:
    """The index is of this schema and this erflow's version."""
    if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
        return False
    try:
        row = connection.execute("SELECT value FROM info WHERE key = 'erflow'").fetchone()
    except sqlite3.OperationalError:  # no such table
        return False
    return row is not None and row[0] == __version__


def _rebuild(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not current(connection):  # unless another process did it while we waited
            tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                connection.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in _CREATE:
                connection.execute(statement)
            connection.execute("INSERT INTO info VALUES ('erflow', ?)", (__version__,))
            index_git.changed(connection)
            connection.execute(f"PRAGMA user_version = {SCHEMA}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _refresh(connection: sqlite3.Connection, root: Path, progress: Progress | None) -> None:
    """Bring the rows up to date: without a walk when git vouches for them (the recorded tree is
    HEAD's, or a few files away from it: ``catch_up``), else by the files' stat (``_walked``, which
    also reads again what git sees changed); then, unless HEAD's tree was judged already, record
    whether the rows are that tree's (``judge``), for the next refresh to trust git. A tree git
    cannot vouch for (a dirty work tree, a symlink...) is recorded as such: judged once per HEAD."""
    from erflow.store import vouch  # here: index_peek (shell completion) runs no git
    from erflow.store.index_git import catch_up, judge, said

    recorded = said(connection)
    head = vouch.head(root)
    seen: list[str] | None = None  # what git sees changed: [] nothing, None cannot say
    asked = head is not None and recorded is not None and recorded[1]  # only a vouched-for index asks
    if asked and head is not None and recorded is not None:
        seen = vouch.changed(root, head.prefix)
        if seen == [] and (
            recorded[0] == head.tree or catch_up(connection, root, recorded[0], head, progress)
        ):
            return
    asking = vouch.Asked(root, head) if head is not None and not asked else None
    _walked(connection, root, progress, seen or (), meanwhile=asking.start if asking is not None else None)
    if head is None:
        return
    recorded = said(connection)  # the walk forgets a tree it no longer matches; another erflow may judge
    if recorded is not None and recorded[0] == head.tree:
        return  # judged already: the rows are this tree's, or cannot be vouched for while HEAD is here
    if asking is not None:
        seen, tree_files = asking.answers()
    else:
        tree_files = vouch.files(root, head.tree) if seen == [] else None
    judge(connection, root, head.tree, tree_files, progress)


def _walked(
    connection: sqlite3.Connection,
    root: Path,
    progress: Progress | None,
    suspects: Iterable[str] = (),
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Parse new and changed files, drop rows of vanished ones: one transaction, taken only after
    the parsing, so a refresh holds the write lock briefly. A file's stat is taken (fstat) just
    before it is read: if it changes after, the row's stat is stale and the next refresh reads it
    again.
    ``suspects`` (paths git sees changed) are read again whatever their stat (an edit in place
    that kept the size and the time). Rows changed are no longer known to be a tree's: a tree
    recorded as theirs is forgotten. ``meanwhile`` is started once a first index is being made."""
    stored = connection.execute("SELECT path, mtime_ns, size, ino FROM files ORDER BY path").fetchall()
    walked = walk(root, stat_files=bool(stored))  # no rows: every file is read, its stat taken then
    walked.sort()  # in the order of the rows by path (code points, as UTF-8 bytes sort): one comparison
    suspect = set(suspects) if len(suspects := list(suspects)) <= index_git.CATCH_UP_MOST else set()
    if walked == stored and not suspect:
        return
    if not stored and len(walked) > index_rows.PARALLEL_FROM:
        if not _first_index(connection, root, walked, progress, meanwhile):
            _walked(connection, root, progress)  # another erflow made it meanwhile: bring it up to date
        return
    on_disk, known = set(walked), set(stored)
    changed = on_disk - known  # new, or changed since their row was written
    changed.update(entry for entry in walked if entry[0] in suspect)
    if not changed and known <= on_disk:
        return
    rows = list(index_rows.parse(root, sorted(changed), progress))
    # Rows of files gone since the last refresh, or since this walk (changed, then not found).
    gone = [(path,) for path in {row[0] for row in known - on_disk} - {row[0] for row in rows}]
    index_git.write(connection, rows, gone)


def _first_index(
    connection: sqlite3.Connection,
    root: Path,
    walked: list[Stat],
    progress: Progress | None,
    meanwhile: Callable[[], None] | None = None,
) -> bool:
    """An empty index and many files (a fresh clone, a deleted .erflow/): the rows written as the
    worker processes give them, in one transaction, and the two indexes made after the rows. The
    write lock is held while the files are parsed: a second erflow making the same index waits for
    this one (as long as its busy timeout; then it reads the files) rather than parsing them all
    too. False when the index was no longer empty once the lock was had."""
    import itertools

    connection.execute("BEGIN IMMEDIATE")
    try:
        empty = connection.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None
        if empty:
            connection.execute("DELETE FROM info WHERE key = ?", (index_git.TREE,))
            for statement in _INDEXES:
                connection.execute(f"DROP INDEX IF EXISTS {statement.split()[2]}")
            rows = index_rows.parse(root, walked, progress)
            if meanwhile is not None:
                meanwhile()
            while batch := list(itertools.islice(rows, index_rows.CHUNK)):
                connection.executemany(index_rows.INSERT, batch)
            for statement in _INDEXES:
                connection.execute(statement)
            index_git.changed(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return empty


def _page(
    connection: sqlite3.Connection, after: Key, types: tuple[str, ...], states: tuple[str, ...]
) -> list[tuple[str, str, str, str | None, str | None, str | None, str | None, str | None]]:
    sql = (
        "SELECT path, created, id, meta, problem, type, state, owner FROM files"
        " WHERE (created, id, path) > (?, ?, ?)"
    )
    parameters: list[Any] = list(after)
    for column, wanted in (("type", types), ("state", states)):
        if wanted:
            sql += f" AND (problem IS NOT NULL OR {column} IN ({','.join('?' * len(wanted))}))"
            parameters += wanted
    sql += " ORDER BY created, id, path LIMIT ?"
    return connection.execute(sql, [*parameters, PAGE]).fetchall()


# ---------------------------------------------------------------------------------------------
# Rows from files


def _from_files(
    root: Path,
    types: tuple[str, ...],
    states: tuple[str, ...],
    after: Key | None,
    progress: Progress | None,
) -> Iterator[Indexed]:
    """What the index would give, parsed from every file (the index failed); only entries past
    ``after`` when the index failed midway."""
    rows = sorted(index_rows.parse(root, walk(root), progress), key=lambda r: (r[9], r[5], r[0]))
    for row in rows:
        path, _, _, _, _, ticket_id, ticket_type, state, _, created, raw, problem = row
        if after is not None and (created, ticket_id, path) <= after:
            continue
        if problem is None and ((types and ticket_type not in types) or (states and state not in states)):
            continue
        yield Indexed(f"{root}/{path}", None, problem, raw)
