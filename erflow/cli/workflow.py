"""The ``workflow`` command group: ``workflow apply``, the one way to change the rules (workflow.yaml
and templates/) that the audit accepts."""

from pathlib import Path
from typing import Annotated

import typer

from erflow.cli import workflow_lint
from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx, parse_pairs

workflow_app = typer.Typer(
    help="Change the rules: workflow.yaml and templates/, as one audited commit.",
    no_args_is_help=True,
)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="The new workflow.yaml (kept outside the store's own).")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="OLD=NEW: move tickets in a state the new workflow drops; repeat.",
            show_default=False,
        ),
    ] = None,
    template: Annotated[
        list[str] | None,
        typer.Option(
            "--template",
            help="NAME=FILE: the new templates/NAME.j2, committed with the workflow; repeat.",
            show_default=False,
        ),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Apply a new workflow.yaml (and templates) as one erflow commit, by a person holding the role
    permissions.workflow names (admin); a hand-committed change of them is an audit violation."""
    from erflow.app.workflow_change import apply as apply_change
    from erflow.cli.plain import write_json
    from erflow.cli.tables import message

    maps = parse_pairs(map_, "--map")
    templates = {name: Path(path) for name, path in parse_pairs(template, "--template").items()}
    result = apply_change(open_ctx(store), file, maps, templates)
    if json_out:
        write_json(result.as_json())
    for line in result.changes:
        message(f"  {line}")
    for move in result.moved:
        message(f"  moved {move['id']} from {move['from']} to {move['to']}")
    if result.commit is None:
        message("nothing to apply: the store holds these files already", "yellow")
    else:
        message(f"applied {', '.join(result.files) or 'the ticket moves'} as {result.commit[:10]}", "green")


workflow_app.command("lint")(workflow_lint.lint)
