"""git's output streamed while git runs: line by line (reports over history), or in pieces read
ahead by a thread (the audit's log of a run of commits)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import IO, Any

from erflow.store.git import Git, _environment, _failed


def stream(git: Git, args: Sequence[str]) -> Generator[bytes, None, None]:
    """git's output line by line, as git writes it; a failure is a GitError. Closing the generator
    before the end stops git."""
    return _streamed(git, args, args[0], None, lambda out: out)


def stream_chunks(
    git: Git, args: Sequence[str], stdin: IO[bytes], *, ahead: int = 32
) -> Generator[bytes, None, None]:
    """git's output in pieces of at most 64 KiB cut anywhere, given ``stdin`` (a file: git never
    blocks on it); a failure is a GitError. A thread reads up to ``ahead`` pieces before they are
    asked for, so that git goes on while the caller works. Closing the generator stops git."""
    import queue
    import threading

    command = next(a for a in args if not a.startswith("-") and "=" not in a)
    source = _streamed(git, args, command, stdin, lambda out: iter(lambda: out.read(1 << 16), b""))
    pieces: queue.Queue[bytes | Exception | None] = queue.Queue(ahead)
    stop = threading.Event()

    def pump() -> None:
        end: Exception | None = None  # a failure is raised in the caller's thread
        try:
            for piece in source:
                if stop.is_set():
                    break
                pieces.put(piece)
        except Exception as exc:  # noqa: BLE001 - not lost: raised again in the caller's thread
            end = exc
        finally:
            source.close()  # stops git if it has not ended
            pieces.put(end)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        while (piece := pieces.get()) is not None:
            if isinstance(piece, Exception):
                raise piece
            yield piece
    finally:
        stop.set()
        while thread.is_alive():  # the pump may wait on a full queue: empty it
            try:
                pieces.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def _streamed(
    git: Git,
    args: Sequence[str],
    command: str,  # what a failure names
    stdin: IO[bytes] | None,
    pieces: Callable[[Any], Iterable[bytes]],
) -> Generator[bytes, None, None]:
    import tempfile  # imported here: only the reports over history and the audit stream git's output

    with (
        tempfile.TemporaryFile() as errors,  # a file, not a pipe: git never blocks on what it says there
        subprocess.Popen(
            ["git", *args],
            cwd=git.root,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_environment(None),
        ) as proc,
    ):
        assert proc.stdout is not None
        try:
            yield from pieces(proc.stdout)
        except GeneratorExit:
            proc.kill()
            raise
        proc.wait()
        if proc.returncode != 0:
            errors.seek(0)
            raise _failed(command, proc.returncode, "", errors.read().decode("utf-8", "replace"))
