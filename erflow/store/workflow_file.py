"""workflow.yaml read from the store: parsed into erflow.core.workflow's frozen objects once, then
taken from the store's cache (erflow.store.workflow_cache) until the file changes."""

from __future__ import annotations

from pathlib import Path

from erflow.core.errors import InvalidData, NotFound
from erflow.core.workflow import Workflow


def load(path: Path) -> Workflow:
    """Load and validate a workflow; raise InvalidData naming the first problem."""
    workflow, problems = load_with_problems(path)
    if problems or workflow is None:
        more = f" (and {len(problems) - 1} more; run erflow check)" if len(problems) > 1 else ""
        raise InvalidData(problems[0] + more)
    return workflow


def load_with_problems(path: Path) -> tuple[Workflow | None, list[str]]:
    """Load a workflow and list every problem found in it; one that is a symlink leading outside
    the store is not read (its one problem says so)."""
    from erflow.store import paths, workflow_cache

    try:
        paths.inside(path.parent, path.name)
    except InvalidData as exc:
        return None, [exc.message]

    cached = workflow_cache.read(path)
    if cached is not None:
        return cached, []
    # Parsing: PyYAML and the loader are imported only when the cache cannot serve.
    from erflow.core import yamlio
    from erflow.core.loader import load_bytes

    try:
        with path.open("rb") as handle:
            data = handle.read(yamlio.MAX_BYTES + 1)  # a larger file is refused, never read whole
    except FileNotFoundError:
        raise NotFound(f"{path}: no workflow.yaml") from None
    workflow, problems = load_bytes(data, path)
    if workflow is not None and not problems:
        workflow_cache.write(path, data, workflow)
    return workflow, problems
