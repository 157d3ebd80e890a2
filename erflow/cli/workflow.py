"""The ``workflow`` command group: ``workflow apply``, the one way to change the rules (workflow.yaml
and templates/) that the audit accepts."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli import workflow_lint
from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx, parse_pairs

if TYPE_CHECKING:
    from erflow.app.workflow_plan import PlanResult

workflow_app = typer.Typer(
    help="Change the rules: see what a new workflow.yaml does (plan), then apply it as one audited commit.",
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
    for text in result.warnings:
        message(f"warning: {text}", "yellow")
    if result.commit is None:
        message("nothing to apply: the store holds these files already", "yellow")
    else:
        message(f"applied {', '.join(result.files) or 'the ticket moves'} as {result.commit[:10]}", "green")


@workflow_app.command("plan")
def plan(
    new: Annotated[
        str, typer.Argument(help="The new workflow.yaml, or a git revision of the store (HEAD~3, a branch).")
    ],
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            help="A folder of NAME.j2 to compare with templates/ (default: a revision's own templates/).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per finding.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What the new workflow would do to every ticket: stranded tickets, gates that now refuse, SLA
    budgets breached (these break: exit 3), timers firing at once, emails that change, roles nobody
    holds (told only)."""
    from erflow.app.workflow_plan import plan as make_plan
    from erflow.cli.plain import write_json
    from erflow.cli.tables import message

    result = make_plan(open_ctx(store, reading=True), new, templates)
    if json_out:
        write_json(result.as_json())
    else:
        _plan_table(result, verbose)
    breaking = result.breaking
    if breaking:
        message(f"the change would break tickets: {', '.join(breaking)} (exit 3)", "red")
        raise typer.Exit(3)
    message(f"nothing breaks ({result.tickets} tickets compared)", "green")


def _plan_table(result: "PlanResult", verbose: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from erflow.cli.tables import out

    table = Table(show_edge=False, header_style="bold")
    for column in ("Finding", "Count", "Tickets", "Breaks", "Examples"):
        table.add_column(column, overflow="fold")
    for row in result.summary():
        if row["count"]:
            breaks = Text("yes", style="red") if row["breaking"] else Text("no")
            examples = ", ".join(row["examples"]) + (", ..." if row["tickets"] > len(row["examples"]) else "")
            table.add_row(
                Text(row["kind"]), Text(str(row["count"])), Text(str(row["tickets"])), breaks, Text(examples)
            )
    if table.row_count:
        out.print(table)
    if verbose:
        for finding in result.findings:
            where = f"{finding.ticket} ({finding.state})" if finding.ticket else "workflow"
            line = f" [line {finding.line}]" if finding.line else ""
            out.print(Text(f"{finding.kind:9} {where}: {finding.detail}{line}"))


workflow_app.command("lint")(workflow_lint.lint)
