"""The list of every ticket that ``list --json`` prints, kept whole in ``.erflow/list.json`` for the
index's generation (a token its every write to the rows changes): one file read instead of a query in
list order, whose rows lie all over the database. A cache of the index: deleting it loses nothing."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from erflow.core.errors import ErflowError
from erflow.store import index_git
from erflow.store.paths import plain

if TYPE_CHECKING:
    import sqlite3

LISTED = ".erflow/list.json"
PAGE = 2000  # rows read and written at a time
_TAIL = 65536  # bytes read from the end of LISTED to find its trailer (all of it if not there)
# NOT INDEXED: one pass over the table and a sort of the few problems, not a lookup of every row in
# the order's index (100k rows: 0.10 s -> 0.02 s).
PROBLEMS = "SELECT problem FROM files NOT INDEXED WHERE problem IS NOT NULL ORDER BY created, id, path"
_TEXTS = "SELECT coalesce(meta, 'null') FROM files WHERE problem IS NULL ORDER BY created, id, path"


def kept(connection: sqlite3.Connection, root: Path, before: str) -> tuple[list[str], Iterator[bytes]] | None:
    """``json_texts`` of every ticket from LISTED, when it was made for the index's generation; else
    made anew when the refresh changed no row (``before``: the generation before it; after a
    change more are likely, a store that is stable for two lists keeps it); else None."""
    generation = index_git.generation(connection)
    kept = _read_listed(root, generation)
    if kept is None and generation == before and _write_listed(connection, root):
        kept = _read_listed(root, generation)
    if kept is None:
        return None
    return kept[0], iter([kept[1]] if kept[1] else [])


def _read_listed(root: Path, generation: str) -> tuple[list[str], bytes] | None:
    """The problems and the texts LISTED holds, if it was made for this generation and is whole;
    None otherwise. The file: the texts joined by ``",\\n"``, a newline, and a line of JSON that
    says which generation they are of, how many bytes they take and the problems. The texts are
    read last, once the line is checked, and given as bytes: they are written out as they are."""
    try:
        fd = os.open(root / LISTED, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - _TAIL)
            handle.seek(start)
            tail = handle.read()
            if b"\n" not in tail and start:  # a trailer longer than _TAIL (many problems)
                handle.seek(start := 0)
                tail = handle.read()
            cut = start + tail.rfind(b"\n")
            trailer = json.loads(tail[cut - start + 1 :]) if cut >= start else None
            if not generation or not isinstance(trailer, dict) or trailer.get("generation") != generation:
                return None
            problems = trailer.get("problems")
            if cut != trailer.get("bytes") or not isinstance(problems, list):
                return None
            handle.seek(0)
            texts = handle.read(cut)
        if len(texts) != cut:
            return None
        return [str(p) for p in problems], texts
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
                generation = index_git.generation(connection)
                problems = [problem for (problem,) in connection.execute(PROBLEMS)]
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
