"""The index's record of the tickets/ tree of HEAD whose ticket files its rows are known to be
(see erflow.store.index and erflow.store.vouch): reading, judging and keeping it, and the rows
changed under it."""

from __future__ import annotations

import os
from pathlib import Path
from stat import S_ISLNK, S_ISREG
from typing import TYPE_CHECKING

from erflow.store.index_rows import INSERT, Row, parse
from erflow.store.paths import Stat
from erflow.store.ticketfile import Progress

if TYPE_CHECKING:
    import sqlite3

    from erflow.store.vouch import Head

CATCH_UP_MOST = 2000  # ticket files changed between two trees that a refresh reads without a walk
GENERATION = "generation"  # info: a token changed by every write to the rows (index_listed keeps by it)
TREE = "git_tree"  # info: '<tree id>': the rows are exactly that tickets/ tree's files; '<tree id> no'


def said(connection: sqlite3.Connection) -> tuple[str, bool] | None:
    """The tree the index last judged its rows against, and whether they were that tree's files."""
    row = connection.execute("SELECT value FROM info WHERE key = ?", (TREE,)).fetchone()
    if row is None:
        return None
    tree, _, no = row[0].partition(" ")
    return tree, not no


def judge(
    connection: sqlite3.Connection,
    root: Path,
    tree: str,
    tree_files: dict[str, str] | None,
    progress: Progress | None,
) -> None:
    """Record whether the rows' (path, blob) are exactly ``tree_files``, the ticket files of HEAD's
    tickets/ tree as they are on disk (None: git cannot vouch for them while HEAD is there). The
    few rows that differ are read again first: a file edited in place with its size and time kept
    looks unchanged to a walk, not to git. Recorded in a write transaction, against the rows'
    generation: rows another refresh changed meanwhile are compared again."""
    read, same = "", False  # the rows of generation ``read`` are, or are not, tree_files
    if tree_files is not None:
        read, rows = _blobs(connection)
        differ = (
            []
            if rows == tree_files
            else [p for p in rows.keys() | tree_files.keys() if rows.get(p) != tree_files.get(p)]
        )
        if 0 < len(differ) <= CATCH_UP_MOST:
            write(connection, *reread(root, sorted(differ), progress))
            read, rows = _blobs(connection)
        same = rows == tree_files
    connection.execute("BEGIN IMMEDIATE")
    try:
        judged = said(connection)
        if judged is None or judged[0] != tree:
            if same and generation(connection) != read:  # another erflow changed rows meanwhile
                same = _blobs(connection)[1] == tree_files
            value = tree if same else f"{tree} no"
            connection.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (TREE, value))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _blobs(connection: sqlite3.Connection) -> tuple[str, dict[str, str]]:
    """The rows' generation and (path, blob id) of each, read together (in the caller's
    transaction, or in one of its own)."""
    opened = not connection.in_transaction
    if opened:
        connection.execute("BEGIN")
    try:
        return generation(connection), dict(connection.execute("SELECT path, blob FROM files"))
    finally:
        if opened:
            connection.execute("COMMIT")


def catch_up(
    connection: sqlite3.Connection, root: Path, old: str, head: Head, progress: Progress | None
) -> bool:
    """Rows that were the tree ``old``'s made ``head``'s (git vouches for the working tree) by
    reading only the ticket files that differ between the two trees, when they are few: each row
    must then hold the blob id that git has for its file. False when that cannot be done (the
    rows are left as they were)."""
    from erflow.store import vouch

    differ = vouch.changes(root, old, head.tree, CATCH_UP_MOST)
    if differ is None:
        return False
    rows, gone = reread(root, sorted(differ), progress)
    if {row[0]: row[4] for row in rows} != {rel: blob for rel, blob in differ.items() if blob is not None}:
        return False
    connection.execute("BEGIN IMMEDIATE")
    try:
        if said(connection) != (old, True):  # another erflow changed the rows meanwhile
            connection.execute("ROLLBACK")
            return False
        connection.executemany(INSERT, rows)
        connection.executemany("DELETE FROM files WHERE path = ?", gone)
        changed(connection)
        connection.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (TREE, head.tree))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return True


def reread(root: Path, paths: list[str], progress: Progress | None) -> tuple[list[Row], list[tuple[str]]]:
    """The rows of these paths (from the root) as a walk would make them, and those of them that
    have none: not there, or not a file a walk lists (a ``*.md`` file, or a symlink)."""
    stats: list[Stat] = []
    for rel in paths:
        try:
            st = os.lstat(os.path.join(root, rel))
        except OSError:
            continue
        if S_ISLNK(st.st_mode) or (S_ISREG(st.st_mode) and rel.endswith(".md")):
            stats.append((rel, st.st_mtime_ns, st.st_size, st.st_ino))
    rows = list(parse(root, stats, progress))
    return rows, [(rel,) for rel in set(paths) - {row[0] for row in rows}]


def write(connection: sqlite3.Connection, rows: list[Row], gone: list[tuple[str]]) -> None:
    """Rows written and removed in one transaction that forgets the tree they were known to be."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(INSERT, rows)
        connection.executemany("DELETE FROM files WHERE path = ?", gone)
        changed(connection)
        connection.execute("DELETE FROM info WHERE key = ? AND value NOT LIKE '% no'", (TREE,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def generation(connection: sqlite3.Connection) -> str:
    row = connection.execute("SELECT value FROM info WHERE key = ?", (GENERATION,)).fetchone()
    return str(row[0]) if row else ""


def changed(connection: sqlite3.Connection) -> None:
    """In a write transaction: the rows change, so what was kept of them before is stale."""
    connection.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (GENERATION, os.urandom(8).hex()))
