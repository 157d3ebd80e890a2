"""JSON documents already encoded (the index's front-matter text) written to stdout as one array.

Apart from output.py so that ``list --json`` does not load rich: it prints no table.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable


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
