"""Output for scripts: JSON and CSV on stdout, with the standard library only (no rich), so that
``--json`` and ``--csv`` do not pay for drawing tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from erflow.core import model

LIST_COLUMNS = ("id", "type", "state", "owner", "customer", "priority", "title", "updated")


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def note_undelivered(emails: Iterable[Any]) -> None:
    """One line on stderr for each email queued in the outbox but not delivered (with --json, where
    no table tells it)."""
    for mail in emails:
        if mail.queued and not mail.sent:
            sys.stderr.write(
                f"erflow: email {mail.template} to {mail.to} waits in the outbox, not delivered: "
                f"{mail.problem} (erflow outbox flush retries)\n"
            )


def write_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([model.plain(row.get(c)) for c in columns])


def write_json_texts(texts: Iterable[str]) -> None:
    """A JSON array of documents already encoded, one document per line between ``[`` and ``]``."""
    write = sys.stdout.write
    chunk: list[str] = []
    opening = "[\n"
    for text in texts:
        chunk.append(text)
        if len(chunk) == 1000:
            write(opening + ",\n".join(chunk))
            opening, chunk = ",\n", []
    if chunk:
        write(opening + ",\n".join(chunk))
        opening = ",\n"
    write("[]\n" if opening == "[\n" else "\n]\n")
