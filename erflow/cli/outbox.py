"""The ``outbox`` command: customer emails queued but not delivered, and ``outbox flush``."""

from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx

if TYPE_CHECKING:
    from erflow.app.outbox import FlushResult, OutboxEntry

outbox_app = typer.Typer(
    help="Emails recorded but not yet delivered, or failed; deliver them (same Message-ID).",
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    show_sent: Annotated[bool, typer.Option("--sent", help="List the delivered ones too.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List this clone's emails not yet delivered: pending, failed, or unknown (killed mid-send)."""
    if ctx.invoked_subcommand is not None:
        return
    from erflow.app import outbox as box
    from erflow.cli.plain import write_json

    entries = box.listing(open_ctx(store), sent=show_sent)
    if json_out:
        write_json([e.as_json() for e in entries])
    else:
        _table(entries)


@outbox_app.command()
def flush(
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="Only these (ids or Message-IDs).")
    ] = None,
    resend: Annotated[
        bool,
        typer.Option("--resend", help="Send again those whose delivery is unknown (may reach twice)."),
    ] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliver pending and failed emails, each with its own Message-ID; unknown ones only with --resend."""
    from erflow.app import outbox as box
    from erflow.cli.plain import write_json

    result = box.flush(open_ctx(store), resend=resend, only=ids or ())
    if json_out:
        write_json(result.as_json())
    else:
        report(result)


def report(result: "FlushResult") -> None:
    """What a flush did, for a person (stderr); what is left, as a table (stdout)."""
    import sys

    if result.skipped:
        sys.stderr.write(f"erflow: {result.skipped}\n")
    for entry in result.delivered:
        sys.stderr.write(f"delivered {entry.record.key} ({entry.record.ticket}) to {entry.to}\n")
    if result.left:
        _table(result.left)
    elif not result.delivered and not result.skipped:
        sys.stderr.write("the outbox is empty\n")


def _table(entries: "list[OutboxEntry]") -> None:
    from rich.table import Table
    from rich.text import Text

    from erflow.cli.tables import err, out

    if not entries:
        err.print(Text("the outbox is empty", style="dim"))
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("Id", "Ticket", "To", "Subject", "Status", "Attempts", "Last error"):
        table.add_column(column, overflow="fold")
    styles = {"pending": "yellow", "failed": "red", "unknown": "red", "sent": "green"}
    for entry in entries:
        record = entry.record
        table.add_row(
            Text(record.key), Text(record.ticket), Text(entry.to), Text(entry.subject),
            Text(entry.status, style=styles[entry.status]), Text(str(record.attempts)),
            Text(record.last_error or ""),
        )  # fmt: skip
    out.print(table)
    for entry in entries:
        if entry.hint:
            err.print(Text(f"{entry.record.key}: {entry.hint}", style="red"))
