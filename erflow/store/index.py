"""The front-matter index: every ticket file's front-matter in ``.erflow/index.sqlite``.

A derived cache, ignored by git and never the source of truth: a row is used only while its file's
stat (mtime, size, inode) is what the row says; new and changed files are parsed again, rows of
vanished files dropped. Any trouble with the database (corrupt, read-only, locked past the busy
timeout, from another erflow) falls back to parsing the files: the cache never fails a command.
Two erflow processes may refresh it at once (WAL, a busy timeout, each write one transaction).

The only module that uses sqlite3, with index_peek (its read-only lookups for shell completion).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from erflow import __version__
from erflow.core.errors import ErflowError, located
from erflow.store import pool
from erflow.store.paths import Stat, plain, walk
from erflow.store.paths import problem as link_problem
from erflow.store.ticketfile import Indexed, Progress, front_matter_bytes

PATH = ".erflow/index.sqlite"
LISTED = ".erflow/list.json"  # what ``list --json`` printed of every ticket, for the index's generation
LEGACY = ".erflow/index.json"  # the index of erflow 0.1: removed when found
SCHEMA = 2  # PRAGMA user_version; with erflow's version, a mismatch rebuilds the index
PROGRESS_FROM = 2000  # a refresh that parses more files than this reports its progress
PAGE = 2000  # rows read per query: no read transaction stays open while the caller works
PARALLEL_FROM = 2000  # a refresh that parses more files than this spreads them over processes
CHUNK = 250  # files a worker process parses per task

Key = tuple[str, str, str]  # created, id, path: the order of entries
Row = tuple[str, int, int, int, str, str, str | None, str | None, str | None, str, str | None, str | None]

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
_PROBLEMS = "SELECT problem FROM files WHERE problem IS NOT NULL ORDER BY created, id, path"
_TEXTS = "SELECT coalesce(meta, 'null') FROM files WHERE problem IS NULL ORDER BY created, id, path"
_INSERT = "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"


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
) -> tuple[list[str], Iterator[str]]:
    """What ``list --json`` prints of the store at ``root`` (brought up to date as ``entries`` does),
    without a Python object per row: the problems of the files that cannot be read, in the list's
    order, and the stored JSON texts of the others of these types and states, in that order, in
    runs joined by ``",\\n"`` (never an empty run). Byte for byte ``entries``' ``raw`` texts."""
    connection = _open_or_none(root)
    if connection is not None:
        try:
            before = _generation(connection)
            _refresh(connection, root, progress)
            listed = None if types or states else _listed(connection, root, before)
            if listed is not None:
                connection.close()
                return listed
            problems = [problem for (problem,) in connection.execute(_PROBLEMS)]
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
) -> Iterator[str]:
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
                    yield ",\n".join(map(itemgetter(0), page))
                    after = page[-1][1:]
                if len(page) < PAGE:
                    return
        except (sqlite3.Error, OSError):
            pass
    items = _from_files(root, types, states, after, progress)
    yield from _joined([item.raw or "null" for item in items if item.problem is None])


def _joined(texts: list[str]) -> list[str]:
    return [",\n".join(texts)] if texts else []


def _listed(
    connection: sqlite3.Connection, root: Path, before: str
) -> tuple[list[str], Iterator[str]] | None:
    """``json_texts`` of every ticket from LISTED, when it was made for the index's generation; else
    made anew when the refresh changed no row (``before``: the generation before it; after a
    change more are likely, a store that is stable for two lists keeps it); else None."""
    generation = _generation(connection)
    kept = _read_listed(root, generation)
    if kept is None and generation == before and _write_listed(connection, root):
        kept = _read_listed(root, generation)
    if kept is None:
        return None
    return kept[0], iter([kept[1]] if kept[1] else [])


def _generation(connection: sqlite3.Connection) -> str:
    row = connection.execute("SELECT value FROM info WHERE key = 'generation'").fetchone()
    return str(row[0]) if row else ""


def _changed(connection: sqlite3.Connection) -> None:
    """In a write transaction: the rows change, so LISTED, made from those of before, is stale."""
    connection.execute("INSERT OR REPLACE INTO info VALUES ('generation', ?)", (os.urandom(8).hex(),))


def _read_listed(root: Path, generation: str) -> tuple[list[str], str] | None:
    """The problems and the texts LISTED holds, if it was made for this generation and is whole;
    None otherwise. The file: the texts joined by ``",\\n"``, a newline, and a line of JSON that
    says which generation they are of, how many bytes they take and the problems."""
    try:
        fd = os.open(root / LISTED, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        cut = data.rfind(b"\n")
        trailer = json.loads(data[cut + 1 :]) if cut >= 0 else None
        if not generation or not isinstance(trailer, dict) or trailer.get("generation") != generation:
            return None
        problems = trailer.get("problems")
        if cut != trailer.get("bytes") or not isinstance(problems, list):
            return None
        return [str(p) for p in problems], str(memoryview(data)[:cut], "utf-8")
    except (OSError, ValueError):  # missing, a symlink, cut short, not ours: made again
        return None


def _write_listed(connection: sqlite3.Connection, root: Path) -> bool:
    """Write LISTED from the rows, read in one transaction (the texts of one generation): written
    as it is read, to a temp file synced and renamed over it. False when it cannot be (a read-only
    store, a symlinked .erflow/: the list is read from the rows as before)."""
    import tempfile

    try:
        plain(root, os.path.dirname(LISTED))  # a link at LISTED itself is replaced, not followed
        fd, tmp = tempfile.mkstemp(prefix=".list.json.", suffix=".tmp", dir=root / os.path.dirname(LISTED))
    except (OSError, ErflowError):
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            connection.execute("BEGIN")  # a read transaction: a refresh elsewhere does not wait on it
            try:
                generation = _generation(connection)
                problems = [problem for (problem,) in connection.execute(_PROBLEMS)]
                cursor, size, joint = connection.execute(_TEXTS), 0, b""
                while page := cursor.fetchmany(PAGE):
                    size += handle.write(joint + ",\n".join([text for (text,) in page]).encode("utf-8"))
                    joint = b",\n"
            finally:
                connection.execute("COMMIT")
            trailer = {"generation": generation, "bytes": size, "problems": problems}
            handle.write(b"\n" + json.dumps(trailer).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, root / LISTED)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


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
            _changed(connection)
            connection.execute(f"PRAGMA user_version = {SCHEMA}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _refresh(connection: sqlite3.Connection, root: Path, progress: Progress | None) -> None:
    """Parse new and changed files, drop rows of vanished ones: one transaction, taken only after
    the parsing, so a refresh holds the write lock briefly. A file's stat is taken before it is
    read: if it changes in between, the row's stat is stale and the next refresh reads it again."""
    walked = walk(root)
    walked.sort()  # in the order of the rows by path (code points, as UTF-8 bytes sort): one comparison
    stored = connection.execute("SELECT path, mtime_ns, size, ino FROM files ORDER BY path").fetchall()
    if walked == stored:
        return
    if not stored and len(walked) > PARALLEL_FROM:
        if not _first_index(connection, root, walked, progress):
            _refresh(connection, root, progress)  # another erflow made it meanwhile: bring it up to date
        return
    on_disk, known = set(walked), set(stored)
    changed = on_disk - known  # new, or changed since their row was written
    if not changed and known <= on_disk:
        return
    rows = list(_parse(root, sorted(changed), progress))
    # Rows of files gone since the last refresh, or since this walk (changed, then not found).
    gone = [(path,) for path in {row[0] for row in known - on_disk} - {row[0] for row in rows}]
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(_INSERT, rows)
        connection.executemany("DELETE FROM files WHERE path = ?", gone)
        _changed(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _first_index(
    connection: sqlite3.Connection, root: Path, walked: list[Stat], progress: Progress | None
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
            for statement in _INDEXES:
                connection.execute(f"DROP INDEX IF EXISTS {statement.split()[2]}")
            rows = _parse(root, walked, progress)
            while batch := list(itertools.islice(rows, CHUNK)):
                connection.executemany(_INSERT, batch)
            for statement in _INDEXES:
                connection.execute(statement)
            _changed(connection)
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


def _parse(root: Path, stats: list[Stat], progress: Progress | None) -> Iterator[Row]:
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


def load_entry(root: Path, rel: str) -> tuple[str, dict[str, Any] | None, str | None] | None:
    """One ticket file (``rel``: posix, from the root) as the index keeps it: its git blob id
    and its front-matter, or why it cannot be read. None when it has vanished meanwhile."""
    where = os.path.join(root, rel)
    try:
        # O_NOFOLLOW: a symlink (walk lists those too) is named, never read through.
        fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(where):
            return "", None, link_problem(os.path.realpath(root), where)
        return "", None, located(rel, None, f"cannot be read: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return "", None, located(rel, None, f"cannot be read: {exc.strerror or exc}")
    import hashlib  # only a refresh that parses a file hashes it

    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id
    try:
        return blob, front_matter_bytes(data, rel), None
    except ErflowError as exc:
        return blob, None, exc.message


def _row(stat: Stat, blob: str, meta: dict[str, Any] | None, problem: str | None) -> Row:
    if meta is None:
        return (*stat, blob, "", None, None, None, "", None, problem)
    raw = json.dumps(meta, ensure_ascii=False, default=str)
    return (
        *stat, blob, str(meta.get("id", "")), _text(meta.get("type")), _text(meta.get("state")),
        _text(meta.get("owner")), str(meta.get("created", "")), raw, None,
    )  # fmt: skip


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _from_files(
    root: Path,
    types: tuple[str, ...],
    states: tuple[str, ...],
    after: Key | None,
    progress: Progress | None,
) -> Iterator[Indexed]:
    """What the index would give, parsed from every file (the index failed); only entries past
    ``after`` when the index failed midway."""
    rows = sorted(_parse(root, walk(root), progress), key=lambda r: (r[9], r[5], r[0]))
    for row in rows:
        path, _, _, _, _, ticket_id, ticket_type, state, _, created, raw, problem = row
        if after is not None and (created, ticket_id, path) <= after:
            continue
        if problem is None and ((types and ticket_type not in types) or (states and state not in states)):
            continue
        yield Indexed(f"{root}/{path}", None, problem, raw)
