"""Commands that draw the store: ``report`` and ``graph``."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from erflow.cli.root import CsvOpt, JsonOpt, StoreOpt, app, open_ctx
from erflow.core.errors import UsageError


@app.command()
def report(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="board, aging, sla, workload, billing or funnel.")
    ],
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


@app.command()
def graph(
    ticket_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid",
    counts: Annotated[
        bool, typer.Option("--counts", help="Show how many tickets sit in each state.")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """The workflow as a diagram (Mermaid or Graphviz DOT), with ticket counts per state if asked."""
    from erflow.reports import catalog, diagram

    ctx = open_ctx(store, reading=True)
    if fmt not in ("mermaid", "dot"):
        raise UsageError(f"--format {fmt!r}: expected mermaid or dot")
    types = [ctx.workflow.type(ticket_type)] if ticket_type else list(ctx.workflow.types.values())
    tally = catalog.state_counts(ctx) if counts else None
    sys.stdout.write(diagram.render(types, fmt, tally))
