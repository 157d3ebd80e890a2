"""Commands that change a ticket: ``advance`` (with its menu), ``set``, ``note``, ``log-time``,
``assign``, ``link`` and ``email``."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli.root import JsonOpt, SetOpt, StoreOpt, app, open_ctx, parse_pairs, print_change
from erflow.core.errors import UsageError

if TYPE_CHECKING:
    from erflow.app.transaction import ChangeResult


@app.command()
def advance(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    transition: Annotated[
        str | None, typer.Argument(help="Transition name; omit on a terminal for a menu.")
    ] = None,
    sets: SetOpt = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Why; recorded in the ticket and the commit.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would happen; write nothing.")
    ] = False,
    send: Annotated[bool, typer.Option("--send", help="Deliver the transition's emails over SMTP.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", hidden=True, help="Offer the menu off a terminal (tests).")
    ] = False,
) -> None:
    """Apply a transition: check role and gates, set fields, move state, commit, send its emails."""
    from erflow.app import advance as advancing
    from erflow.cli.plain import note_undelivered, write_json

    ctx = open_ctx(store, reading=dry_run)
    if transition is not None:
        result = advancing.advance(
            ctx, ticket_id, transition, parse_pairs(sets), note, dry_run=dry_run, send=send
        )
    else:
        from erflow.cli import advance_menu

        if not advance_menu.offered(interactive):
            raise UsageError(
                "name a transition (a menu is offered only on a terminal)",
                hint=f"erflow transitions {ticket_id}",
            )
        result = advance_menu.advance_by_menu(
            ctx, ticket_id, parse_pairs(sets), note, dry_run=dry_run, send=send
        )
    if json_out:
        write_json(result.advance_json())
        note_undelivered([*result.emails, *result.notifications])
    else:
        print_change(result)
        if dry_run:
            for mail in [*result.emails, *result.notifications]:
                sys.stdout.write(mail.text + "\n")


@app.command("set")
def set_(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    pairs: Annotated[list[str], typer.Argument(metavar="K=V...", help="Fields to set; K= unsets.")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set fields outside a transition (one commit). A field a transition owns is refused."""
    from erflow.app import edit

    _edit(json_out, edit.set_fields(open_ctx(store), ticket_id, parse_pairs(pairs, "set"), note))


@app.command()
def note(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    text: Annotated[str, typer.Argument(help="The note.")],
    customer: Annotated[
        bool, typer.Option("--customer", help="Mark the note as visible to the customer.")
    ] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a note to the ticket (one commit)."""
    from erflow.app import edit

    _edit(json_out, edit.add_note(open_ctx(store), ticket_id, text, customer=customer))


@app.command("log-time")
def log_time(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    hours: Annotated[str, typer.Argument(metavar="HOURS", help="1.5, 1.5h, 90m or 1h30m.")],
    billable: Annotated[bool, typer.Option("--billable", help="Billable to the customer.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="What the time was spent on.")] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record time spent on a ticket (one commit); show lists the totals."""
    from erflow.app import edit

    _edit(json_out, edit.log_time(open_ctx(store), ticket_id, hours, billable=billable, note=note))


@app.command()
def assign(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    who: Annotated[str, typer.Argument(metavar="WHO", help="A person's email or a role (queue).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give the ticket a new owner (one commit)."""
    from erflow.app import edit

    _edit(json_out, edit.assign(open_ctx(store), ticket_id, who))


@app.command()
def link(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    relation: Annotated[
        str,
        typer.Argument(
            metavar="REL", help="parent, child, relates, blocks, blocked_by, duplicates, implements..."
        ),
    ],
    other: Annotated[str, typer.Argument(metavar="OTHER")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Link two tickets; the other gets the inverse link (one commit)."""
    from erflow.app import edit

    _edit(json_out, edit.link(open_ctx(store), ticket_id, relation, other))


def _edit(json_out: bool, result: "ChangeResult") -> None:
    from erflow.cli.plain import write_json

    if json_out:
        write_json(
            {"id": result.id, "action": result.action, "commit": result.commit, "changes": result.changes}
        )
    else:
        print_change(result)


@app.command()
def email(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    template: Annotated[str, typer.Argument(metavar="TEMPLATE")],
    send: Annotated[bool, typer.Option("--send", help="Deliver it over SMTP.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render only; do not record it in the ticket.")
    ] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Render one template for a ticket (the full message on stdout), or send it. Recorded in the ticket."""
    from erflow.app import edit
    from erflow.cli.plain import note_undelivered, write_json

    ctx = open_ctx(store, reading=dry_run and not send)
    result = edit.email(ctx, ticket_id, template, send=send, record=not dry_run)
    mail = result.emails[0]
    if json_out:
        write_json({**mail.as_json(), "commit": result.commit, "message": mail.text})
        note_undelivered(result.emails)
        return
    sys.stdout.write(mail.text if mail.text.endswith("\n") else mail.text + "\n")
    if result.commit:
        print_change(result)
