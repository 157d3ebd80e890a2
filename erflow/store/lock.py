"""The store lock: one erflow change at a time, and none while a git process holds git's index."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from erflow.core.errors import Conflict
from erflow.store import journal


@contextlib.contextmanager
def hold(root: Path, git_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of the store at ``root`` (in the git folder, never committed) for a whole
    read-validate-write-commit."""
    from filelock import FileLock, Timeout  # imported here: only writers pay for it

    if timeout is None:
        timeout = float(os.environ.get("ERFLOW_LOCK_TIMEOUT", "10"))
    lock = FileLock(str(git_dir / "erflow.lock"), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise Conflict(
            f"the store {root} is locked by another erflow process",
            hint="retry; nothing was changed",
        ) from None
    try:
        # A git process left running by a killed erflow holds index.lock until it ends: wait.
        journal.await_git(git_dir, timeout)
        index_lock = git_dir / "index.lock"
        if index_lock.exists():
            raise Conflict(
                f"{index_lock} exists: another git process is running, or one was killed",
                hint="if no git process is running, remove that file and retry; nothing was changed",
            )
        yield
    finally:
        lock.release()
