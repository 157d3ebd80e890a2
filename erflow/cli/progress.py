"""A progress bar for long work, drawn on a terminal only (rich is imported when one is drawn)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


LONG_WORK = 5000  # steps of work (commits, tickets) from which a terminal shows a progress bar


class ProgressBar:
    """A callback ``(done, total)`` for long work: on a terminal (stderr), once the total reaches
    ``threshold``, it draws a progress bar that goes away when the work is done (or on ``close``);
    otherwise it does nothing, so that pipes, scripts and short work see no difference."""

    def __init__(self, description: str, *, threshold: int = 0, console: Console | None = None) -> None:
        self.description = description
        self.threshold = threshold
        self._console = console
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    @property
    def console(self) -> Console:
        """The console it draws on: the one it was given, else the messages' console (stderr)."""
        if self._console is None:
            from erflow.cli.tables import err

            self._console = err
        return self._console

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < self.threshold or not self.console.is_terminal:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=self.console, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done, total=total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextmanager
def progress_bar(
    description: str, *, threshold: int | None = None, console: Console | None = None
) -> Iterator[ProgressBar]:
    """A ProgressBar (from LONG_WORK steps unless told) that is gone when the block ends, however."""
    bar = ProgressBar(description, threshold=LONG_WORK if threshold is None else threshold, console=console)
    try:
        yield bar
    finally:
        bar.close()
