"""Form submissions for ``erflow new --from``: a JSON or YAML mapping from a file or stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from . import yamlio
from .errors import InvalidData, NotFound

MAX_FORM_BYTES = 1024 * 1024


def read(source: str, stdin: IO[str]) -> dict[str, Any]:
    """Read a form: ``-`` is stdin; JSON when it parses as JSON, else strict YAML."""
    name = "<stdin>" if source == "-" else source
    if source == "-":
        text = stdin.read(MAX_FORM_BYTES + 1)
    else:
        try:
            data = Path(source).read_bytes()[: MAX_FORM_BYTES + 1]
        except FileNotFoundError:
            raise NotFound(f"--from {source}: no such file") from None
        except IsADirectoryError:
            raise NotFound(f"--from {source}: is a folder, not a file") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidData(f"{name}: not UTF-8 (byte {exc.start})") from None
    if len(text) > MAX_FORM_BYTES:
        raise InvalidData(f"{name}: larger than {MAX_FORM_BYTES} bytes")
    form: Any
    if text.lstrip().startswith(("{", "[")):
        try:
            form = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidData(f"{name}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    else:
        try:
            form = yamlio.load(text)
        except yamlio.YamlError as exc:
            where = f"{name}:{exc.line}" if exc.line else name
            raise InvalidData(f"{where}: {exc.message}") from None
    if not isinstance(form, dict):
        raise InvalidData(f"{name}: a form must be a mapping of field: value")
    return dict(form)
