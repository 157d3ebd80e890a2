"""Commands that create and read tickets: ``new``, ``show``, ``list``, ``transitions``."""

import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from erflow.cli.root import CsvOpt, JsonOpt, SetOpt, StoreOpt, app, open_ctx, parse_pairs, print_change


@app.command()
def new(
    ticket_type: Annotated[str, typer.Argument(metavar="TYPE", help="Ticket type, e.g. enhancement.")],
    title: Annotated[str | None, typer.Option("--title", help="The request's subject.")] = None,
    customer_name: Annotated[str | None, typer.Option("--customer-name")] = None,
    customer_email: Annotated[str | None, typer.Option("--customer-email")] = None,
    customer_org: Annotated[str | None, typer.Option("--customer-org")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="The request text (the ticket body).")
    ] = None,
    sets: SetOpt = None,
    from_file: Annotated[
        str | None, typer.Option("--from", help="A form submission: JSON or YAML file, or - for stdin.")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Deliver the intake email over SMTP.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and render; write nothing.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a ticket; print its id. Sends the type's intake acknowledgement if the workflow says so."""
    from erflow.app import create, forms
    from erflow.cli.plain import note_undelivered, write_json

    request = create.NewRequest(
        ticket_type,
        title,
        description,
        customer_name,
        customer_email,
        customer_org,
        parse_pairs(sets),
        forms.read(from_file, sys.stdin) if from_file else None,
    )
    result = create.new(open_ctx(store, reading=dry_run), request, send=send, dry_run=dry_run)
    if json_out:
        write_json(result.new_json())
        note_undelivered(result.emails)
    else:
        print_change(result)
        sys.stdout.write(result.id + "\n")


@app.command()
def show(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The ticket: fields, state, owner, body, and what can happen next."""
    from erflow.app import views
    from erflow.cli.plain import write_json

    view = views.show(open_ctx(store, reading=True), ticket_id)
    if json_out:
        write_json(view.as_json())
    elif sys.stdout.isatty():
        from erflow.cli.tables import ticket_view

        ticket_view(view)
    else:  # a pipe or a file: the same content as plain lines, without loading rich
        from erflow.cli.text import ticket_text

        ticket_text(view)


@app.command("list")
def list_(
    ticket_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this type (repeatable).")
    ] = None,
    state: Annotated[list[str] | None, typer.Option("--state", help="Only this state (repeatable).")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    label: Annotated[str | None, typer.Option("--label")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="K=V on any field (repeatable).")] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    csv_out: CsvOpt = False,
) -> None:
    """Tickets as a table, oldest first."""
    from erflow.app import views

    filters = views.Filters(ticket_type or [], state or [], owner, label, parse_pairs(where, "--where"))
    ctx = open_ctx(store, reading=True)
    fast = views.list_json(ctx, filters) if json_out else None
    if fast is not None:  # the index's JSON texts as they are: no rich, no object per ticket
        _skipped(fast[0])
        _write_runs(fast[1])
        return
    listing = views.list_tickets(ctx, filters)
    _skipped(listing.problems)
    if json_out:
        from erflow.cli.plain import write_json_texts

        write_json_texts(item.raw or "null" for item in listing.items)
    elif csv_out:
        from erflow.cli.plain import LIST_COLUMNS, write_csv

        write_csv(listing.tickets, LIST_COLUMNS)
    else:
        from erflow.cli.tables import ticket_table

        tickets = listing.tickets
        ticket_table(tickets, views.sla_flags(ctx, tickets))


def _skipped(problems: list[str]) -> None:
    """Name each file the list skipped, on stderr."""
    if problems:
        from erflow.cli.tables import message

        for problem in problems:
            message(f"erflow: skipped {problem}", "yellow")


def _write_runs(runs: Iterable[bytes]) -> None:
    """A JSON array of runs of documents already encoded (UTF-8) and joined by ",\\n": as
    write_json_texts writes the documents one by one, a run at a time, straight to stdout's bytes
    (50 MB of text for 100,000 tickets: no decoding and encoding again)."""
    sys.stdout.flush()
    write = sys.stdout.buffer.write
    opening = b"[\n"
    for run in runs:
        write(opening)
        write(run)
        opening = b",\n"
    write(b"[]\n" if opening == b"[\n" else b"\n]\n")
    sys.stdout.buffer.flush()


@app.command()
def transitions(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Transitions out of the current state: allowed or not, and every reason why not."""
    from erflow.app import views
    from erflow.cli.plain import write_json

    options = views.transitions(open_ctx(store, reading=True), ticket_id)
    if json_out:
        write_json([o.as_json() for o in options])
    else:
        from erflow.cli.tables import options_table, out

        out.print(options_table(options, title=""))
