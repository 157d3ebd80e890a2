"""Commands that draw the store: ``report`` and ``graph``."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli.root import CsvOpt, JsonOpt, StoreOpt, app, open_ctx
from erflow.core.errors import UsageError

if TYPE_CHECKING:
    from erflow.app.context import Context


@app.command()
def report(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="[NAME]",
            help="board, aging, sla, workload, billing or funnel; none: list them.",
            show_default=False,
        ),
    ] = None,
    ticket_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this type (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only tickets created on or after DATE.", metavar="DATE")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only tickets created on or before DATE.", metavar="DATE")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The store as it was at DATE (from git).", metavar="DATE")
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    csv_out: CsvOpt = False,
    html_out: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Also write the report as one self-contained HTML page with charts to FILE.",
        ),
    ] = None,
) -> None:
    """A report: board (tickets per state), aging (time in state), sla (every SLA clock), workload
    (per owner), billing (ready to invoice), funnel (how far requests got, from git history)."""
    from erflow.cli.plain import write_csv, write_json
    from erflow.cli.tables import message, report_table
    from erflow.reports import base, catalog
    from erflow.store.files import write_atomic

    if name is None:
        _list_reports(json_out)
        return
    ctx = open_ctx(store, reading=True)
    query = base.query(ctx, ticket_type or [], since, until, as_of)
    result = catalog.run(ctx, name, query)
    for problem in result.problems:
        message(f"erflow: skipped {problem}", "yellow")
    if html_out is not None:
        from erflow.reports import html as htmlpage

        page = htmlpage.render(result, generated_at=ctx.now)
        try:
            write_atomic(html_out, page)
        except OSError as exc:
            why = (
                "a folder on its path is a file"
                if isinstance(exc, (FileExistsError, NotADirectoryError))
                else exc.strerror
            )
            raise UsageError(
                f"--html {html_out}: cannot write it: {why or exc}", hint="give a writable file path"
            ) from exc
        message(f"wrote {html_out}")
    if json_out:
        write_json(result.as_json())
    elif csv_out:
        write_csv(result.rows, result.columns)
    else:
        report_table(result.rows, result.columns)
        for note in result.notes:
            message(note, "dim")


def _list_reports(json_out: bool) -> None:
    """``erflow report`` alone: each report's name and one line on it."""
    from erflow.cli.plain import write_json
    from erflow.reports.catalog import ABOUT

    if json_out:
        write_json([{"name": name, "about": about} for name, about in ABOUT.items()])
        return
    width = max(len(name) for name in ABOUT)
    sys.stdout.write("".join(f"{name:<{width}}  {about}\n" for name, about in ABOUT.items()))
    sys.stdout.write("Run erflow report NAME (--json, --csv, --html FILE).\n")


@app.command()
def graph(
    type_name: Annotated[
        str | None, typer.Argument(metavar="[TYPE]", help="Only this type (as --type).", show_default=False)
    ] = None,
    ticket_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="text (an outline; the default on a terminal), mermaid (the default elsewhere) or dot.",
        ),
    ] = None,
    counts: Annotated[
        bool, typer.Option("--counts", help="Show how many tickets sit in each state.")
    ] = False,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="FILE|REV",
            help="Show what changed since this workflow: a workflow file, or a git revision of the store.",
        ),
    ] = None,
    new: Annotated[
        str | None,
        typer.Option(
            "--new",
            metavar="FILE|REV",
            help="With --against: the newer version (the default: the work tree).",
        ),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The workflow as a diagram (Mermaid or Graphviz DOT), with ticket counts per state if asked.
    With --against, the difference between two versions: added states and transitions in green,
    removed ones in red (dashed), changed ones in orange; on a terminal, a text outline."""
    from erflow.reports import catalog, diagram

    if type_name is not None and ticket_type is not None and type_name != ticket_type:
        raise UsageError(f"graph {type_name} --type {ticket_type}: name one type")
    ticket_type = ticket_type or type_name
    ctx = open_ctx(store, reading=True)
    if against is None:
        if new is not None:
            raise UsageError("--new needs --against (the older version to compare it with)")
        if json_out:
            raise UsageError("--json needs --against")
        if fmt not in (None, "mermaid", "dot", "text"):
            raise UsageError(f"--format {fmt!r}: expected text, mermaid or dot")
        types = [ctx.workflow.type(ticket_type)] if ticket_type else list(ctx.workflow.types.values())
        tally = catalog.state_counts(ctx) if counts else None
        if fmt == "text" or (fmt is None and sys.stdout.isatty()):
            sys.stdout.write(diagram.outline(types, tally))
        else:
            sys.stdout.write(diagram.render(types, fmt or "mermaid", tally))
        return
    _graph_diff(ctx, against, new, ticket_type, fmt, counts, json_out)


def _graph_diff(
    ctx: "Context",
    against: str,
    new: str | None,
    ticket_type: str | None,
    fmt: str | None,
    counts: bool,
    json_out: bool,
) -> None:
    """``graph --against``: the two versions compared, drawn or told."""
    from erflow.cli.plain import write_json
    from erflow.cli.tables import message
    from erflow.core.errors import NotFound
    from erflow.reports import catalog, diagram_diff, wfdiff, wfversions

    if fmt not in (None, "mermaid", "dot", "text"):
        raise UsageError(f"--format {fmt!r}: expected mermaid, dot or text")
    old_version = wfversions.load(ctx, against, "--against")
    new_version = wfversions.load(ctx, new, "--new") if new is not None else wfversions.current(ctx)
    if ticket_type and not any(ticket_type in v.workflow.types for v in (old_version, new_version)):
        raise NotFound(f"--type {ticket_type}: neither version has that type")
    diff = wfdiff.compare(
        old_version.workflow, new_version.workflow, old_version.label, new_version.label, ticket_type
    )
    if json_out:
        write_json(diff.as_json())
        return
    if fmt == "text" or (fmt is None and sys.stdout.isatty()):
        sys.stdout.write(wfdiff.outline(diff))
        return
    if diff.same:
        message(f"erflow: no difference between {diff.old_label} and {diff.new_label}")
    tally = catalog.state_counts(ctx) if counts else None
    sys.stdout.write(diagram_diff.render(diff, fmt or "mermaid", tally))
