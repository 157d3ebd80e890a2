"""Commands that judge and share the store: ``history``, ``check``, ``audit``, ``sync`` and git's
merge driver ``merge-file``."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx, warn_mid_operation


@app.command()
def history(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The ticket's life from git: when, who, which transition, from → to, fields changed."""
    from erflow.app.history import history as ticket_history
    from erflow.cli.plain import write_json

    entries = ticket_history(open_ctx(store, reading=True), ticket_id)
    if json_out:
        write_json([e.as_json() for e in entries])
    else:
        from erflow.cli.tables import history_table

        history_table(entries)


@app.command()
def check(
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate workflow.yaml, the templates and every ticket; list every problem with file and line."""
    from erflow.app.check import check as check_store
    from erflow.app.context import Context, resolve_now
    from erflow.cli.plain import write_json
    from erflow.store.tickets import Store, find_root

    root = find_root(store, os.environ, Path.cwd())
    ctx = Context(Store(root), "", resolve_now(os.environ), os.environ)
    warn_mid_operation(ctx)
    problems = check_store(ctx)
    from erflow.app.lint import check_warnings

    warnings = check_warnings(ctx)  # erflow workflow lint's findings: they leave the exit code alone
    if json_out:
        write_json({"ok": not problems, "problems": problems, **({"warnings": warnings} if warnings else {})})
    else:
        from erflow.cli.tables import message

        for problem in problems:
            sys.stdout.write(problem + "\n")
        for warning in warnings:
            message(f"warning: {warning}", "yellow")
        message(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "ok: no problems",
            "red" if problems else "green",
        )
    if problems:
        raise typer.Exit(6)


@app.command()
def audit(
    store: StoreOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Ignore the last run's cache; replay all.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Replay the git history: report every change not made by erflow through a legal transition by a
    permitted actor (exit 3 if any)."""
    from erflow.app.check import audit as audit_store
    from erflow.app.context import Context, resolve_now
    from erflow.cli.plain import write_json
    from erflow.cli.progress import progress_bar
    from erflow.cli.tables import audit_table, message
    from erflow.store.tickets import Store, find_root

    root = find_root(store, os.environ, Path.cwd())
    ctx = Context(Store(root), "", resolve_now(os.environ), os.environ)
    warn_mid_operation(ctx)
    with progress_bar("Auditing commits") as progress:
        result = audit_store(ctx, full=full, progress=progress)
    if json_out:
        write_json(result.as_json())
    else:
        audit_table(result)
    count = len(result.violations)
    resumed = f" ({result.new_commits} new since the last audit)" if result.resumed_from else ""
    message(
        f"{count} violation{'s' if count != 1 else ''} in {result.commits} commits{resumed}"
        if count
        else f"ok: {result.commits} commits verified{resumed}",
        "red" if count else "green",
    )
    if count:
        raise typer.Exit(3)


@app.command()
def sync(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Pull (merging ticket files field by field, notes by time), then push."""
    from erflow.app.sync import sync as sync_store
    from erflow.cli.plain import write_json
    from erflow.cli.tables import message

    result = sync_store(open_ctx(store))
    if json_out:
        write_json(result.as_json())
    for item in result.renumbered:
        message(f"renumbered {item['from']} to {item['to']}: the other clone has another {item['from']}")
    for conflict in result.conflicts:
        message(f"conflict resolved by rule: {conflict['describe']}", "yellow")
    if not json_out:
        merged = f", merged as {result.merge[:10]}" if result.merge else ""
        message(
            f"synced with {result.remote}/{result.branch}: {result.fetched} in{merged}, {result.pushed} out",
            "green",
        )


@app.command("merge-file", hidden=True)
def merge_file(
    base: Annotated[Path, typer.Argument()],
    ours: Annotated[Path, typer.Argument()],
    theirs: Annotated[Path, typer.Argument()],
    path: Annotated[str, typer.Argument()],
) -> None:
    """git's merge driver for ticket files (installed by init and sync): merge THEIRS into OURS."""
    from erflow.cli.tables import message
    from erflow.trust import sync as syncing

    for conflict in syncing.merge_file(base, ours, theirs, path, Path.cwd()):
        message(f"erflow: {conflict['describe']}", "yellow")
