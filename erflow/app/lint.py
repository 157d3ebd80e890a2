"""workflow lint: the static checks of erflow.core.lint run on a workflow.yaml and the email
templates beside it (the fields each template uses, read with Jinja's own parser)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from erflow.core.errors import InvalidData
from erflow.core.lint import Finding, lint
from erflow.core.workflow import Workflow
from erflow.store import workflow_file
from erflow.store.tickets import WORKFLOW

if TYPE_CHECKING:
    from erflow.app.context import Context

# The names erflow.app.emails.email_context gives every template besides the ticket's set fields.
CONTEXT_NAMES = frozenset({"link", "sender_name", "type_label", "state_label", "now"})


def lint_file(path: Path, templates_dir: Path | None) -> list[Finding]:
    """The findings in the workflow.yaml at ``path``, its templates read from ``templates_dir`` (None:
    not checked); InvalidData naming every problem when the file does not load."""
    workflow, problems = workflow_file.load_with_problems(path)
    if workflow is None or problems:
        more = f" (and {len(problems) - 1} more; run erflow check)" if len(problems) > 1 else ""
        raise InvalidData((problems[0] if problems else f"{path}: cannot be read") + more)
    return lint_workflow(workflow, templates_dir)


def lint_workflow(workflow: Workflow, templates_dir: Path | None) -> list[Finding]:
    """The findings in a loaded workflow, with the email templates it names from ``templates_dir``."""
    uses = None if templates_dir is None else template_uses(templates_dir, _email_templates(workflow))
    return lint(workflow, uses, CONTEXT_NAMES)


def _email_templates(workflow: Workflow) -> set[str]:
    names = set()
    for ticket_type in workflow.types.values():
        names |= {spec.template for spec in ticket_type.create.emails}
        names |= {spec.template for t in ticket_type.transitions for spec in t.emails}
        names |= {timer.actions.email.template for timer in ticket_type.timers if timer.actions.email}
    return names


def template_uses(directory: Path, names: set[str]) -> dict[str, frozenset[str]]:
    """Each named template of ``directory`` with the names it uses unguarded; one that is missing or
    broken is left out (erflow check reports it)."""
    from erflow.core.errors import ErflowError
    from erflow.mail.templates import TemplateSet

    templates = TemplateSet(directory)
    found: dict[str, frozenset[str]] = {}
    for name in sorted(names):
        try:
            found[name] = templates.unguarded_variables(name)
        except ErflowError:
            continue
    return found


def check_warnings(ctx: Context) -> list[str]:
    """The lint findings of the store's workflow.yaml, as ``erflow check`` lists them (warnings);
    none when the file does not load (check lists its problems)."""
    workflow, problems = workflow_file.load_with_problems(ctx.store.workflow_path)
    if workflow is None or problems:
        return []
    return [f.text(WORKFLOW) for f in lint_workflow(workflow, ctx.store.templates_dir)]
