"""The erflow command: parse arguments, call the use cases, render the result, map errors to exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from erflow.core.errors import ErflowError, UsageError
from erflow.store.files import write_atomic
from erflow.store.tickets import Store, find_root

if TYPE_CHECKING:
    from erflow.app.context import Context
    from erflow.app.reading import TicketFile
    from erflow.app.transaction import ChangeResult

DEBUG = False


class _Group(TyperGroup):
    """The one error boundary: ErflowError -> one line on stderr and the contract's exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ErflowError as exc:
            if DEBUG or os.environ.get("ERFLOW_DEBUG"):
                traceback.print_exc()
            _fail(f"erflow: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            _fail("erflow: interrupted", 130)
        except Exception as exc:  # noqa: BLE001 - the boundary: never a traceback unless --debug
            if _is_control_flow(exc) or DEBUG or os.environ.get("ERFLOW_DEBUG"):
                raise
            _fail(f"erflow: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", 1)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run non-standalone so that click's usage errors become one line, as every erflow error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except Exception as exc:
            if not _is_control_flow(exc):
                raise
            if type(exc).__name__ == "Abort":
                _exit_with("erflow: aborted", 1)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            if "\n" in message.strip():  # help text shown for a bare command group: not an error line
                sys.stderr.write(message.rstrip("\n") + "\n")
            else:
                command = getattr(getattr(exc, "ctx", None), "command_path", "erflow")
                _exit_with(f"erflow: {message} (see {command} --help)", getattr(exc, "exit_code", 2))
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


def _exit_with(text: str, code: int) -> NoReturn:
    sys.stderr.write(text + "\n")
    sys.exit(code)


def _is_control_flow(exc: BaseException) -> bool:
    """Exit, Abort and usage errors of Typer (or the click it is built on) pass through untouched."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


def _fail(text: str, code: int) -> NoReturn:
    from erflow.cli.output import err

    err.print(text, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="erflow: customer requests (enhancements, bugs, support, document changes) as files in git.",
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The store folder (else ERFLOW_STORE, else the nearest folder upward with workflow.yaml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout; messages on stderr.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV on stdout.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="K=V; repeat for more fields.", show_default=False)
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    global DEBUG
    DEBUG = DEBUG or debug


def _ctx(store: str | None, env: Mapping[str, str] = os.environ) -> Context:
    from erflow.app.context import open_context

    ctx = open_context(store, env, Path.cwd())
    if sys.stderr.isatty():
        from erflow.cli.output import ProgressBar

        ctx.store.progress = ProgressBar("Indexing ticket files")
    return ctx


def _pairs(items: list[str] | None, what: str = "--set") -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


# --------------------------------------------------------------------------------------------


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to make the store.")] = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Make a new store: the default workflow.yaml, templates/, empty tickets/, git init, first commit."""
    from erflow.app import setup
    from erflow.cli.output import message, write_json

    result = setup.init_store(directory, os.environ)
    if json_out:
        write_json({"store": str(result.root), "commit": result.commit})
    else:
        message(f"erflow store ready in {result.root} [{result.commit[:10]}]")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to make the demo store.")] = Path("erflow-demo"),
    json_out: JsonOpt = False,
) -> None:
    """Make a store with sample tickets walked through the main paths of the SOP, and say what happened."""
    from erflow.app import setup
    from erflow.cli.output import out, write_json

    report = setup.demo(directory, os.environ)
    if json_out:
        write_json(report.as_json())
        return
    from rich.text import Text

    out.print(Text(f"Demo store: {report.root}", style="bold"))
    for step in report.steps:
        out.print(Text(step))
    out.print(
        Text(f"\nTry: cd {report.root} && erflow list && erflow show {report.tickets[0]}", style="cyan")
    )


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
    from erflow.cli.output import change, write_json

    request = create.NewRequest(
        ticket_type,
        title,
        description,
        customer_name,
        customer_email,
        customer_org,
        _pairs(sets),
        forms.read(from_file, sys.stdin) if from_file else None,
    )
    result = create.new(_ctx(store), request, send=send, dry_run=dry_run)
    if json_out:
        write_json(result.new_json())
    else:
        change(result)
        sys.stdout.write(result.id + "\n")


@app.command()
def show(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The ticket: fields, state, owner, body, and what can happen next."""
    from erflow.app import views
    from erflow.cli.output import ticket_view, write_json

    view = views.show(_ctx(store), ticket_id)
    if json_out:
        write_json(view.as_json())
    else:
        ticket_view(view)


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

    filters = views.Filters(ticket_type or [], state or [], owner, label, _pairs(where, "--where"))
    ctx = _ctx(store)
    listing = views.list_tickets(ctx, filters)
    if listing.problems:
        from erflow.cli.output import message

        for problem in listing.problems:
            message(f"erflow: skipped {problem}", "yellow")
    if json_out:  # the stored JSON text as it is: no rich, no decoding
        from erflow.cli.rawjson import write_json_texts

        write_json_texts(item.raw or "null" for item in listing.items)
    elif csv_out:
        from erflow.cli.output import LIST_COLUMNS, write_csv

        write_csv(listing.tickets, LIST_COLUMNS)
    else:
        from erflow.cli.output import ticket_table

        tickets = listing.tickets
        ticket_table(tickets, views.sla_flags(ctx, tickets))


@app.command()
def transitions(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Transitions out of the current state: allowed or not, and every reason why not."""
    from erflow.app import views
    from erflow.cli.output import options_table, out, write_json

    options = views.transitions(_ctx(store), ticket_id)
    if json_out:
        write_json([o.as_json() for o in options])
    else:
        out.print(options_table(options, title=""))


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
) -> None:
    """Apply a transition: check role and gates, set fields, move state, commit, send its emails."""
    from erflow.app import advance as advancing
    from erflow.cli.output import change, write_json

    ctx = _ctx(store)
    shown = None
    if transition is None:
        transition, shown = _menu(ctx, ticket_id)
    result = advancing.advance(
        ctx, ticket_id, transition, _pairs(sets), note, dry_run=dry_run, send=send, already_read=shown
    )
    if json_out:
        write_json(result.advance_json())
    else:
        change(result)
        if dry_run:
            for mail in result.emails:
                sys.stdout.write(mail.text + "\n")


def _menu(ctx: Context, ticket_id: str) -> tuple[str, TicketFile]:
    """The transition chosen, and the ticket file as read to offer them (advance reuses it)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError(
            "name a transition (a menu is offered only on a terminal)", hint=f"erflow transitions {ticket_id}"
        )
    from rich.prompt import IntPrompt

    from erflow.app import views
    from erflow.cli.output import err, options_table

    view = views.show(ctx, ticket_id)
    options = view.options
    allowed = [o for o in options if o.allowed]
    err.print(options_table(options, title=f"{ticket_id.upper()}: transitions"))
    if not allowed:
        raise UsageError("no transition is open to you now; the reasons are listed above")
    for number, option in enumerate(allowed, 1):
        err.print(
            f"  {number}. {option.transition.name} → {option.to}: {option.transition.label}", markup=False
        )
    choice = IntPrompt.ask("Which", console=err, choices=[str(i) for i in range(1, len(allowed) + 1)])
    return allowed[choice - 1].transition.name, view.file


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

    _edit(json_out, edit.set_fields(_ctx(store), ticket_id, _pairs(pairs, "set"), note))


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

    _edit(json_out, edit.add_note(_ctx(store), ticket_id, text, customer=customer))


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

    _edit(json_out, edit.log_time(_ctx(store), ticket_id, hours, billable=billable, note=note))


@app.command()
def assign(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    who: Annotated[str, typer.Argument(metavar="WHO", help="A person's email or a role (queue).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Give the ticket a new owner (one commit)."""
    from erflow.app import edit

    _edit(json_out, edit.assign(_ctx(store), ticket_id, who))


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

    _edit(json_out, edit.link(_ctx(store), ticket_id, relation, other))


def _edit(json_out: bool, result: ChangeResult) -> None:
    from erflow.cli.output import change, write_json

    if json_out:
        write_json(
            {"id": result.id, "action": result.action, "commit": result.commit, "changes": result.changes}
        )
    else:
        change(result)


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
    from erflow.cli.output import change, write_json

    result = edit.email(_ctx(store), ticket_id, template, send=send, record=not dry_run)
    mail = result.emails[0]
    if json_out:
        write_json({**mail.as_json(), "commit": result.commit, "message": mail.text})
        return
    sys.stdout.write(mail.text if mail.text.endswith("\n") else mail.text + "\n")
    if result.commit:
        change(result)


@app.command()
def history(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The ticket's life from git: when, who, which transition, from → to, fields changed."""
    from erflow.app.history import history as ticket_history
    from erflow.cli.output import history_table, write_json

    entries = ticket_history(_ctx(store), ticket_id)
    if json_out:
        write_json([e.as_json() for e in entries])
    else:
        history_table(entries)


@app.command()
def check(
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate workflow.yaml, the templates and every ticket; list every problem with file and line."""
    from erflow.cli.output import message, write_json

    root = find_root(store, os.environ, Path.cwd())
    from erflow.app.check import check as check_store
    from erflow.app.context import Context, resolve_now

    ctx = Context(Store(root), "", resolve_now(os.environ), os.environ)
    problems = check_store(ctx)
    if json_out:
        write_json({"ok": not problems, "problems": problems})
    else:
        for problem in problems:
            sys.stdout.write(problem + "\n")
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
    from erflow.cli.output import audit_table, message, progress_bar, write_json

    root = find_root(store, os.environ, Path.cwd())
    from erflow.app.check import audit as audit_store
    from erflow.app.context import Context, resolve_now

    ctx = Context(Store(root), "", resolve_now(os.environ), os.environ)
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
    from erflow.cli.output import message, write_json

    result = sync_store(_ctx(store))
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
    from erflow.cli.output import message
    from erflow.trust import sync as syncing

    for conflict in syncing.merge_file(base, ours, theirs, path, Path.cwd()):
        message(f"erflow: {conflict['describe']}", "yellow")


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
    from erflow.app import sweep as sweeping
    from erflow.cli.output import progress_bar, sweep_table, write_json

    ctx = _ctx(store, dict(os.environ, ERFLOW_NOW=now) if now else os.environ)
    with progress_bar("Running timers", threshold=0) as bar:  # the sweep says when it is long
        actions = sweeping.sweep(ctx, dry_run=dry_run, send=send, progress=bar)
    if json_out:
        write_json(
            {"now": ctx.now.isoformat(), "dry_run": dry_run, "actions": [a.as_json() for a in actions]}
        )
    else:
        sweep_table(actions, dry_run)


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
    from erflow.cli.output import message, report_table, write_csv, write_json
    from erflow.reports import base, catalog

    ctx = _ctx(store)
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

    ctx = _ctx(store)
    if fmt not in ("mermaid", "dot"):
        raise UsageError(f"--format {fmt!r}: expected mermaid or dot")
    types = [ctx.workflow.type(ticket_type)] if ticket_type else list(ctx.workflow.types.values())
    tally = catalog.state_counts(ctx) if counts else None
    sys.stdout.write(diagram.render(types, fmt, tally))


def main() -> None:
    global DEBUG
    if "--debug" in sys.argv[1:]:
        DEBUG = True
        sys.argv.remove("--debug")
    app()
