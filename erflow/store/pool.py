"""Work spread over processes: the CPUs this process may use, and a map over a pool of workers
that gives up (the caller does the rest itself) when no pool can be had."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

Result = TypeVar("Result")


def cpus() -> int:
    """The CPUs this process may run on."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return int(count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def context() -> Any:
    """How erflow starts worker processes: forked on Linux (nothing to import again), the system's
    default elsewhere (fork is unsafe on macOS)."""
    import multiprocessing

    return multiprocessing.get_context("fork" if sys.platform == "linux" else None)


def mapped(function: Callable[..., Result], *arguments: list[Any], workers: int) -> Iterator[Result]:
    """``function`` of each set of arguments in turn, run by ``workers`` processes (forked on
    Linux: nothing to import again; the system's default elsewhere). It stops early, having yielded
    the results so far, when the pool cannot be started or breaks: the caller does the rest."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(workers, mp_context=context()) as pool:
            yield from pool.map(function, *arguments)
    except (OSError, BrokenProcessPool):
        return
