"""What a shell offers at a TAB: ticket ids, the transitions out of a ticket's state, types,
states, people and roles, report and template names, each with a short description.

Read through erflow.store.peek: file names, the index and the workflow cache, never a refresh
and never a write, so a TAB at 10,000 tickets costs a directory walk and one query. Nothing here
raises: a store that cannot be found or read offers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from erflow.store import peek

Candidate = tuple[str, str]  # the value, and what it is (shown by zsh and fish)

# The names of erflow.reports.catalog.REPORTS, kept here so that a TAB does not import every
# report (tests/test_completion.py holds the two equal).
REPORTS = ("board", "aging", "sla", "workload", "billing", "funnel")
TITLES_UP_TO = 200  # more candidates than this are offered without their titles


def find_root(store_option: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The store a command would use (``--store``, ERFLOW_STORE, upward from ``cwd``); None if none."""
    from erflow.core.errors import ErflowError
    from erflow.store.tickets import find_root as find

    try:
        return find(store_option, env, cwd)
    except (ErflowError, OSError):
        return None


def ticket_ids(root: Path, incomplete: str) -> list[Candidate]:
    """Ids starting with ``incomplete`` (any case), with their titles when few enough."""
    ids = peek.ticket_ids(root, incomplete)
    names = peek.titles(root, ids) if len(ids) <= TITLES_UP_TO else {}
    return [(ticket_id, names.get(ticket_id, "")) for ticket_id in ids]


def transitions(root: Path, ticket_id: str, incomplete: str) -> list[Candidate]:
    """The transitions out of the ticket's current state, with their label and target states."""
    workflow = peek.workflow(root)
    found = peek.type_and_state(root, ticket_id) if workflow is not None else None
    if workflow is None or found is None or found[0] not in workflow.types:
        return []
    kind, state = found
    offered = []
    for transition in workflow.types[kind].transitions_from(state):
        targets = " | ".join(dict.fromkeys(branch.to for branch in transition.branches)) or state
        offered.append((transition.name, f"{transition.label} → {targets}"))
    return _starting(offered, incomplete)


def types(root: Path, incomplete: str) -> list[Candidate]:
    workflow = peek.workflow(root)
    if workflow is None:
        return []
    return _starting(((name, kind.label) for name, kind in workflow.types.items()), incomplete)


def states(root: Path, incomplete: str, of_types: Sequence[str] = ()) -> list[Candidate]:
    """The states of these types (of every type when none is given), each once."""
    workflow = peek.workflow(root)
    if workflow is None:
        return []
    found: dict[str, str] = {}
    for name, kind in workflow.types.items():
        if not of_types or name in of_types:
            for state in kind.states.values():
                found.setdefault(state.name, state.label)
    return _starting(found.items(), incomplete)


def people(root: Path, incomplete: str, *, roles: bool = False) -> list[Candidate]:
    """The people of the workflow (their emails), and its roles too when ``roles``."""
    workflow = peek.workflow(root)
    if workflow is None:
        return []
    offered = [(email, person.name) for email, person in workflow.people.items()]
    if roles:
        offered += [(role, f"role: {label}" if label else "role") for role, label in workflow.roles.items()]
    return _starting(offered, incomplete)


def reports(incomplete: str) -> list[Candidate]:
    return _starting(((name, "report") for name in REPORTS), incomplete)


def templates(root: Path, incomplete: str) -> list[Candidate]:
    """The email templates' names (templates/*.j2 without the suffix)."""
    from erflow.store.tickets import TEMPLATES

    try:
        names = sorted(path.name[:-3] for path in (root / TEMPLATES).glob("*.j2") if path.is_file())
    except OSError:
        return []
    return _starting(((name, "template") for name in names), incomplete)


def _starting(candidates: Iterable[Candidate], incomplete: str) -> list[Candidate]:
    return [(value, help_text) for value, help_text in candidates if value.startswith(incomplete)]
