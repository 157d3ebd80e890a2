"""The ``sweep`` command: due timers, run from cron."""

import os
import sys
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx


@app.command()
def sweep(
    now: Annotated[
        str | None, typer.Option("--now", help="Act as of this instant (ISO 8601 with offset).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; change nothing.")] = False,
    send: Annotated[bool, typer.Option("--send", help="Deliver the emails over SMTP.")] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run due timers (reminders, auto-close, SLA escalation), each once; safe to run from cron."""
    from erflow.app import outbox
    from erflow.app import sweep as sweeping
    from erflow.cli.plain import note_undelivered, write_json
    from erflow.cli.progress import progress_bar

    ctx = open_ctx(store, dict(os.environ, ERFLOW_NOW=now) if now else os.environ, reading=dry_run)
    with progress_bar("Running timers", threshold=0) as bar:  # the sweep says when it is long
        actions = sweeping.sweep(ctx, dry_run=dry_run, send=send, progress=bar)
    # Then the outbox: what an earlier change (or this sweep) queued and could not deliver.
    flushed = None if dry_run else outbox.flush_for_sweep(ctx)
    if json_out:
        write_json(
            {
                "now": ctx.now.isoformat(),
                "dry_run": dry_run,
                "actions": [a.as_json() for a in actions],
                "outbox": flushed.as_json() if flushed else None,
            }
        )
    else:
        from erflow.cli.outbox import report
        from erflow.cli.tables import sweep_table

        sweep_table(actions, dry_run)
        for action in actions:
            for notice in action.notifications:
                status = "sent" if notice.sent else "queued" if notice.queued else "not sent"
                sys.stdout.write(
                    f"{action.ticket} {action.name}: notify {notice.template} → {notice.to} ({status})\n"
                )
    note_undelivered(mail for action in actions for mail in [*action.emails, *action.notifications])
    if not json_out:
        if flushed is not None and (flushed.delivered or flushed.left or flushed.skipped):
            report(flushed)
