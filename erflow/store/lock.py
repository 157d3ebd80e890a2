"""The store lock: one erflow change at a time, and none while a git process holds git's index."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from erflow.core.errors import Conflict
from erflow.store import journal


@contextlib.contextmanager
def hold(root: Path, git_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of the store at ``root`` (in the git folder, never committed) for a whole
    read-validate-write-commit."""
    if timeout is None:
        timeout = float(os.environ.get("ERFLOW_LOCK_TIMEOUT", "10"))
    descriptor = _acquire(git_dir / "erflow.lock", timeout)
    if descriptor is None:
        raise Conflict(
            f"the store {root} is locked by another erflow process",
            hint="retry; nothing was changed",
        )
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
        os.close(descriptor)  # closing the file releases its lock


def _acquire(path: Path, timeout: float) -> int | None:
    """An open descriptor of ``path`` holding an exclusive flock(2), or None after ``timeout``
    seconds of trying. The lock is the kernel's: it goes with the process, however it ends, and it
    is the lock the filelock package takes on POSIX (erflow used it before; 30 ms of imports for
    every write), so erflow versions on either side of that change exclude each other."""
    import fcntl

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(descriptor)
                return None
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        except BaseException:
            os.close(descriptor)
            raise
