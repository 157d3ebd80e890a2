"""The ``mail`` commands (messages in: receive, fetch, quarantine, retry) and ``reply`` (a message out)."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx, print_change
from erflow.core.errors import Conflict, NotFound, UsageError

if TYPE_CHECKING:
    from erflow.app.received import Received

mail_app = typer.Typer(
    help="Customer email in: one message (an MTA pipe), a batch from IMAP, a Maildir or an mbox.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(mail_app, name="mail")

TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: an MTA keeps the message and delivers it again later
SendOpt = Annotated[
    bool, typer.Option("--send", help="Deliver the emails a message causes (acknowledgements, transitions).")
]


def _told(result: "Received") -> None:
    sys.stderr.write(result.line() + "\n")


@mail_app.command()
def receive(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="The raw message; - or none: stdin.")
    ] = "-",
    send: SendOpt = False,
    mta: Annotated[
        bool,
        typer.Option(
            "--mta", help="Exit 75 (EX_TEMPFAIL) when the message cannot be taken in now, so the MTA retries."
        ),
    ] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take one RFC 5322 message in: a reply to its ticket, a new ticket, or the quarantine."""
    from erflow.app.inbound import receive as take
    from erflow.cli.plain import note_undelivered, write_json

    if source == "-":
        data, where = sys.stdin.buffer.read(), "stdin"
    else:
        try:
            data, where = Path(source).read_bytes(), source
        except FileNotFoundError:
            raise NotFound(f"{source}: no such file") from None
        except OSError as exc:
            raise UsageError(f"{source}: cannot be read ({exc.strerror})") from None
    try:
        result = take(open_ctx(store), data, where=where, send=send)
    except (Conflict, OSError) as exc:  # busy or mid-operation: nothing taken, nothing changed
        if not mta:
            raise
        sys.stderr.write(f"erflow: {exc}; the message was not taken in, try again later\n")
        raise typer.Exit(TEMPFAIL) from None
    if json_out:
        write_json(result.as_json())
        note_undelivered(result.emails)
    else:
        _told(result)


@mail_app.command()
def fetch(
    maildir: Annotated[
        Path | None, typer.Option("--maildir", metavar="DIR", help="Read a Maildir, not IMAP.")
    ] = None,
    mbox: Annotated[
        Path | None, typer.Option("--mbox", metavar="FILE", help="Read an mbox file, not IMAP.")
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            metavar="SECONDS",
            help="Keep fetching; wait this long between passes (IMAP IDLE ends a wait early).",
        ),
    ] = None,
    send: SendOpt = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take in every message not yet processed: from IMAP (ERFLOW_IMAP_*), --maildir or --mbox. Each
    is marked processed at its source only after its commit."""
    import os

    from erflow.app import mailbox
    from erflow.cli.plain import write_json

    if maildir is not None and mbox is not None:
        raise UsageError("give --maildir or --mbox, not both")
    if watch is not None and watch <= 0:
        raise UsageError("--watch SECONDS must be more than 0")
    ctx = open_ctx(store)
    from erflow.mail import sources

    if maildir is not None:
        source: sources.Source = sources.MaildirSource(maildir)
    elif mbox is not None:
        source = sources.MboxSource(mbox)
    else:
        config = sources.ImapConfig.from_env(os.environ)
        if config is None:
            raise UsageError(
                "fetching needs ERFLOW_IMAP_HOST (and the other ERFLOW_IMAP_*), or --maildir/--mbox"
            )
        source = sources.ImapSource(config)
    results = []
    try:
        while True:
            batch = mailbox.fetch(ctx, source, send=send, told=None if json_out else _told)
            results += batch.results
            if not json_out:
                sys.stderr.write(f"erflow: {batch.summary()}\n")
            if watch is None:
                break
            source.wait(watch)
    finally:
        source.close()
    if json_out:
        write_json([r.as_json() for r in results])


@mail_app.command()
def quarantine(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """The messages that could not be taken in, and why (erflow mail retry KEY tries one again)."""
    from erflow.app import mailbox
    from erflow.cli.plain import write_json

    items = mailbox.quarantined(open_ctx(store, reading=True))
    if json_out:
        write_json([item.as_json() for item in items])
        return
    if not items:
        sys.stderr.write("the quarantine is empty\n")
    for item in items:
        who = f" from {item.sender}" if item.sender else ""
        subject = f" “{item.subject}”" if item.subject else ""
        sys.stdout.write(f"{item.key[:12]}  {item.received}{who}{subject}: {item.reason}\n")


@mail_app.command()
def retry(
    key: Annotated[str, typer.Argument(metavar="KEY", help="A quarantined message's key (or its start).")],
    send: SendOpt = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Try a quarantined message again, after a fix; taken in, it leaves the quarantine."""
    from erflow.app import mailbox
    from erflow.cli.plain import note_undelivered, write_json

    result = mailbox.retry(open_ctx(store), key, send=send)
    if json_out:
        write_json(result.as_json())
        note_undelivered(result.emails)
    else:
        _told(result)


@app.command()
def reply(
    ticket_id: Annotated[str, typer.Argument(metavar="ID")],
    text: Annotated[str | None, typer.Option("--text", help="The message.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the message from this file (- : stdin).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the message; send and record nothing.")
    ] = False,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Send the customer a free-form message, threaded and logged ($EDITOR without --text/--file)."""
    from erflow.app.reply import reply as send_reply
    from erflow.cli.plain import note_undelivered, write_json

    if text is not None and file is not None:
        raise UsageError("give --text or --file, not both")
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{file}: cannot be read ({exc})") from None
    elif text is None:
        edited = _edit(
            "\n# Your reply to the customer of " + ticket_id + ". Lines starting with # are dropped.\n"
        )
        text = "\n".join(line for line in (edited or "").splitlines() if not line.startswith("#"))
    ctx = open_ctx(store, reading=dry_run)
    result = send_reply(ctx, ticket_id, text, dry_run=dry_run)
    mail = result.emails[0]
    if json_out:
        write_json({**mail.as_json(), "commit": result.commit, "message": mail.text})
        note_undelivered(result.emails)
        return
    if dry_run:
        sys.stdout.write(mail.text if mail.text.endswith("\n") else mail.text + "\n")
        return
    print_change(result)


def _edit(text: str) -> str:
    """``text`` as the person left it in $VISUAL or $EDITOR (else vi); a UsageError when the editor
    fails. click.edit's job, without click: it is not a dependency of erflow (typer bundles its own,
    which has no editor)."""
    import os
    import shlex
    import subprocess  # noqa: TID251  (the person's editor, not git)
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="erflow-reply-") as folder:
        path = os.path.join(folder, "reply.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            done = subprocess.run([*shlex.split(editor), path], check=False)
        except OSError as exc:
            raise UsageError(f"editor {editor!r} could not start ({exc}); give --text or --file") from None
        if done.returncode != 0:
            raise UsageError(f"editor {editor!r} exited {done.returncode}; nothing sent")
        with open(path, encoding="utf-8") as handle:
            return handle.read()
