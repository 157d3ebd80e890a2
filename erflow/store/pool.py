"""Work spread over processes: the CPUs this process may use, and a map over a pool of workers
that gives up (the caller does the rest itself) when no pool can be had."""

from __future__ import annotations

import os
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


def mapped(function: Callable[..., Result], *arguments: list[Any], workers: int) -> Iterator[Result]:
    """``function`` of each set of arguments in turn, run by ``workers`` processes (forked where the
    system can: nothing to import again). It stops early, having yielded the results so far, when
    the pool cannot be started or breaks: the caller then does the rest itself."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            yield from pool.map(function, *arguments)
    except (OSError, BrokenProcessPool):
        return
