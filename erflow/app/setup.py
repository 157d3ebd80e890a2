"""Making stores: ``erflow init`` (``erflow demo`` is app.demo)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from erflow.app.context import resolve_actor
from erflow.app.transaction import require_branch
from erflow.core.errors import Refused
from erflow.store import ticketfile
from erflow.store import tickets as store
from erflow.store.commits import Change
from erflow.store.git import Git

DEFAULTS = Path(__file__).parents[1] / "defaults"
GITIGNORE = "# erflow's derived files (caches); never the source of truth\n.erflow/\n"


@dataclass
class InitResult:
    root: Path
    commit: str


def init_store(directory: Path, env: Mapping[str, str], actor: str | None = None) -> InitResult:
    """A new store: default workflow.yaml and templates, empty tickets/, git init, first commit."""
    root = directory.expanduser().resolve()
    if (root / store.WORKFLOW).exists():
        raise Refused(
            f"{root} is already an erflow store ({store.WORKFLOW} exists)",
            hint="pick another folder, or remove that one first",
        )
    root.mkdir(parents=True, exist_ok=True)
    git = Git(root)
    if (root / ".git").exists():  # an existing repository: not one in the middle of a rebase, say
        require_branch(git, git.git_dir())
    else:
        git.init()
    shutil.copyfile(DEFAULTS / store.WORKFLOW, root / store.WORKFLOW)
    source = DEFAULTS / store.TEMPLATES
    for template in sorted(source.rglob("*.j2")):  # emails, and documents/ for document templates
        target = root / store.TEMPLATES / template.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, target)
    scenarios = _copy_scenarios(root)
    (root / ticketfile.TICKETS).mkdir(exist_ok=True)
    (root / ticketfile.TICKETS / ".gitkeep").touch()
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE, encoding="utf-8")
    who = actor or resolve_actor(env, root) or "erflow@localhost"
    paths = [store.WORKFLOW, store.TEMPLATES, *scenarios, f"{ticketfile.TICKETS}/.gitkeep", ".gitignore"]
    change = Change("store", "init", who, summary="default workflow and templates")
    commit = git.commit(paths, change.message().replace("store init", "erflow init", 1), (who, who))
    from erflow.trust.sync import install_driver

    install_driver(git, git.git_dir(), root)
    for key, value in GIT_CONFIG.items():
        git.run("config", key, value)
    git.write_commit_graph()
    return InitResult(root, commit)


def _copy_scenarios(root: Path) -> list[str]:
    """The default workflow's scenario tests (``erflow test``) into scenarios/, as the templates: a
    file already there is kept. Their paths relative to the store, to commit."""
    source = DEFAULTS / SCENARIOS
    copied = []
    for scenario in sorted(source.glob("*.yaml")):
        target = root / SCENARIOS / scenario.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(scenario, target)
            copied.append(f"{SCENARIOS}/{scenario.name}")
    return copied


SCENARIOS = "scenarios"  # a store's scenario tests, run by erflow test


# git settings a store gets at init: git keeps its commit-graph (with the changed-path filters
# `history` relies on) up to date when it fetches (sync) and when it collects garbage.
GIT_CONFIG = {
    "core.commitGraph": "true",
    "fetch.writeCommitGraph": "true",
    "gc.writeCommitGraph": "true",
}
