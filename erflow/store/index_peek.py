"""What the index holds, looked up without a refresh and without writing (shell completion): the
database opened read-only and immutable, so SQLite takes no lock and makes no -wal or -shm file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from erflow.core.errors import ErflowError
from erflow.store.index import PATH, current
from erflow.store.paths import plain


def titles(root: Path, ids: Iterable[str]) -> dict[str, str]:
    """The title a row holds for each of these ids, as the index was last left (no refresh, no
    write: for shell completion); those it holds, none when it cannot be read."""
    wanted = sorted(set(ids))
    found: dict[str, str] = {}
    with contextlib.suppress(sqlite3.Error, OSError, ErflowError):
        with contextlib.closing(_read_only(root)) as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, json_extract(meta, '$.title') FROM files WHERE id IN ({marks})"
                for ticket_id, title in connection.execute(sql, chunk):
                    if isinstance(title, str):
                        found[ticket_id] = title
    return found


def head_of(root: Path, ticket_id: str) -> tuple[str, tuple[int, int, int], str, str] | None:
    """The path, stat (mtime_ns, size, inode), type and state of the ticket's row, as the index was
    last left (no refresh, no write); the caller compares the stat with the file's. None when
    there is no such row or the index cannot be read."""
    row = None
    with contextlib.suppress(sqlite3.Error, OSError, ErflowError):
        with contextlib.closing(_read_only(root)) as connection:
            row = connection.execute(
                "SELECT path, mtime_ns, size, ino, type, state FROM files WHERE id = ? AND problem IS NULL",
                (ticket_id,),
            ).fetchone()
    if row is None or not isinstance(row[4], str) or not isinstance(row[5], str):
        return None
    return row[0], (row[1], row[2], row[3]), row[4], row[5]


def _read_only(root: Path) -> sqlite3.Connection:
    """The index opened read-only and immutable: no lock taken, no -wal or -shm file made beside it."""
    from urllib.parse import quote

    path = plain(root, PATH)
    if not path.is_file():
        raise FileNotFoundError(path)
    connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True)
    try:
        if not current(connection):
            raise sqlite3.DatabaseError("an index of another erflow")
    except BaseException:
        connection.close()
        raise
    return connection
