"""The ``reminders`` command: what waits on a person (My Reminders), most urgent first."""

import sys
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx

COLUMNS = ("id", "title", "kind", "why", "urgency", "next")


@app.command()
def reminders(
    person: Annotated[
        str | None,
        typer.Option("--for", help="Whose reminders (an email under people); default: who is acting."),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What waits on you: tickets you own (SLA time left), steps only your role can take, timers due
    within 24 hours and customer replies since your last action; most urgent first."""
    from erflow.app.reminders import reminders as find

    found = find(open_ctx(store, reading=True), person)
    for problem in found.problems:
        sys.stderr.write(f"erflow: skipped {problem}\n")
    rows = [row.as_json() for row in found.rows]
    if json_out:
        from erflow.cli.plain import write_json

        write_json(rows)
    elif sys.stdout.isatty():
        from erflow.cli.tables import report_table

        report_table(rows, COLUMNS)
    else:
        from erflow.core.model import plain

        for row in rows:
            sys.stdout.write("\t".join(plain(row[c]) or "-" for c in COLUMNS) + "\n")
