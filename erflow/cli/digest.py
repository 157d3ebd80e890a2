"""The ``digest`` command: each person's reminders mailed to them, once a day (for cron)."""

import os
import sys
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx


@app.command()
def digest(
    send: Annotated[
        bool, typer.Option("--send", help="Queue each digest in the outbox (one commit) and deliver it.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent, one line a person; change nothing.")
    ] = False,
    person: Annotated[
        str | None, typer.Option("--for", help="Only this person (an email under people).")
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Act as of this instant (ISO 8601 with offset).")
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Each person's reminders (erflow reminders) by email, once a day in the workflow calendar's
    time zone: running it again the same day sends nothing twice. Nobody gets an empty digest, nor
    one they muted (mute: [digest] under people). Without --send nothing is written: the messages
    are printed on stdout and one line a person on stderr."""
    from erflow.app import digest as digesting
    from erflow.cli.plain import write_json

    env = dict(os.environ, ERFLOW_NOW=now) if now else os.environ
    ctx = open_ctx(store, env, reading=dry_run or not send)
    run = digesting.digest(ctx, person, send=send, dry_run=dry_run)
    for problem in run.problems:
        sys.stderr.write(f"erflow: skipped {problem}\n")
    if json_out:
        write_json([one.as_json() for one in run.digests])
        return
    preview = [one for one in run.digests if one.status == digesting.PREVIEW and one.mail is not None]
    if preview:
        for one in preview:
            assert one.mail is not None
            sys.stdout.write(one.mail.as_text().rstrip("\n") + "\n\n")
    out = sys.stderr if preview else sys.stdout
    for one in run.digests:
        out.write(one.line() + "\n")
