"""workflow.yaml's bytes parsed into the frozen objects of erflow.core.workflow, every mistake reported
with file, line and path. A module per section of the file, each reader building on the one below:

    base          the problems collected, and reading a mapping, a name list or a list
    references    conditions and requirements that name fields and policies
    transitions   transitions: gates, rules, set, assign, linked tickets, documents, emails
    timers        the SLA and timers, and the actions they take
    mail          intake: (how a new message becomes a ticket) and each state's on_reply:
    ticket_types  a ticket type: its fields, states, transitions, create:, SLA and timers
    toplevel      the file: settings, policies, roles, people, permissions, types, calendar

Pure: it is given bytes; reading the file (and caching the result) is the store's job.
"""

from __future__ import annotations

from pathlib import Path

from erflow.core import yamlio
from erflow.core.errors import located
from erflow.core.loader.base import Problems
from erflow.core.loader.toplevel import WorkflowReader
from erflow.core.workflow import Workflow


def load_bytes(data: bytes, path: Path) -> tuple[Workflow | None, list[str]]:
    """A workflow from its bytes (e.g. a blob of an old commit); ``path`` names it in problems."""
    if len(data) > yamlio.MAX_BYTES:
        return None, [located(path, None, f"larger than the limit of {yamlio.MAX_BYTES} bytes")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [located(path, line, f"not valid UTF-8 (byte {exc.start})")]
    try:
        raw = yamlio.load(text)
    except yamlio.YamlError as exc:
        return None, [located(path, exc.line, exc.message)]
    problems = Problems(path)
    if not isinstance(raw, yamlio.LineDict):
        return None, [located(path, 1, "expected a mapping at the top level")]
    try:
        workflow = WorkflowReader(problems).workflow(path, raw)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a shape no check foresaw
        problems.items.append(located(path, None, f"malformed workflow ({type(exc).__name__}: {exc})"))
        return None, problems.items
    return (workflow if not problems.items else None), problems.items
