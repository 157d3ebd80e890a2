"""Files written atomically: a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from erflow.store import faults


def write_atomic(path: Path, text: str | bytes, *, durable: bool = True) -> None:
    """Write via a temp file ``.<name>.*.tmp`` in the same folder, then rename over the target.

    Text is written as UTF-8 with its line ends as they are; bytes exactly as given. ``durable``
    (ticket files, documents) fsyncs before the rename and is where the ``mid-write`` failpoint
    sits; erflow's own bookkeeping (journal, caches) skips both."""
    import tempfile  # imported here: a command that only reads never pays for it

    data = text.encode("utf-8") if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if durable:
            faults.point("mid-write")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
