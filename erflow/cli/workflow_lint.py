"""``erflow workflow lint``: the static checks of workflow.yaml, each finding with its line
(erflow.cli.workflow registers it in the ``workflow`` group)."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt

FINDINGS_EXIT = 3  # CONTRACT.md: refused by a rule, as audit's violations


def lint(
    file: Annotated[
        Path | None,
        typer.Argument(help="The workflow.yaml to check (default: the store's); templates/ beside it."),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Static checks: unreachable states, states with no way to a terminal one, roles nobody holds,
    gates that can never be met, template fields not set on every path, timers on states they cannot
    leave, shadowed intake routes. Each finding as FILE:LINE: KIND: MESSAGE; exit 3 if any."""
    from erflow.app.lint import lint_file
    from erflow.cli.plain import write_json
    from erflow.store.tickets import TEMPLATES, WORKFLOW, find_root

    if file is None:
        root = find_root(store, os.environ, Path.cwd())
        path, shown = root / WORKFLOW, WORKFLOW
    else:
        path, shown = file, str(file)
    templates = path.parent / TEMPLATES
    findings = lint_file(path, templates if templates.is_dir() else None)
    if json_out:
        document = {"ok": not findings, "findings": [{"file": shown, **f.as_json()} for f in findings]}
        write_json(document)
    else:
        sys.stdout.writelines(f.text(shown) + "\n" for f in findings)
        count = len(findings)
        sys.stderr.write(f"{count} finding{'s' if count != 1 else ''}\n" if findings else "ok: no findings\n")
    if findings:
        raise typer.Exit(FINDINGS_EXIT)
