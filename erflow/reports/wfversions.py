"""A version of the workflow named on the command line: a workflow file (or a folder holding
workflow.yaml), else a git revision of the store whose workflow.yaml is read from git."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from erflow.core import yamlio
from erflow.core.errors import InvalidData, NotFound, UsageError
from erflow.core.loader import load_bytes
from erflow.core.workflow import Workflow
from erflow.reports.snapshot import Source
from erflow.store import git as history
from erflow.store import tickets as store

WORK_TREE = "the work tree"


@dataclass(frozen=True)
class Version:
    """A workflow and how to name it to a reader (the file or revision given)."""

    label: str
    workflow: Workflow


def current(source: Source) -> Version:
    return Version(WORK_TREE, source.workflow)


def load(source: Source, spec: str, option: str) -> Version:
    """``spec`` read as a file when one is there, else as a revision of the store's git; NotFound
    when it is neither or the revision has no workflow.yaml, InvalidData when it does not load."""
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / store.WORKFLOW
        if not path.is_file():
            raise NotFound(f"{option} {spec}: a folder without {store.WORKFLOW}")
    if path.is_file():
        return Version(spec, _parsed(_read(path, option), str(path)))
    commit = _commit(source, spec)
    if commit is None:
        raise NotFound(
            f"{option} {spec}: no such file, and no revision of the store's git by that name",
            hint="give a workflow file, or a commit, branch or tag that git log lists",
        )
    try:
        data = history.run_bytes(source.git, ["cat-file", "blob", f"{commit}:./{store.WORKFLOW}"])
    except history.GitError:
        raise NotFound(f"{option} {spec}: commit {commit[:10]} has no {store.WORKFLOW}") from None
    return Version(spec, _parsed(data, f"{spec}:{store.WORKFLOW}"))


def _commit(source: Source, spec: str) -> str | None:
    if not spec or spec.startswith("-"):
        return None
    found = source.git.run(
        "rev-parse", "-q", "--verify", "--end-of-options", f"{spec}^{{commit}}", check=False
    )
    return found.strip() or None


def _read(path: Path, option: str) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(yamlio.MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it: {exc.strerror or exc}") from None


def _parsed(data: bytes, name: str) -> Workflow:
    workflow, problems = load_bytes(data, Path(name))
    if workflow is None or problems:
        more = f" (and {len(problems) - 1} more; run erflow check on it)" if len(problems) > 1 else ""
        raise InvalidData((problems[0] if problems else f"{name}: does not load") + more)
    return workflow
