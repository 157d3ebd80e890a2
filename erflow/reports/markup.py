"""Values as text on the HTML page: escaped (every value from a ticket is customer text) and
numbers written for people."""

from __future__ import annotations

import html
import math
from typing import Any

from erflow.core.model import plain


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def num(value: Any) -> str:
    """1234 → "1,234"; 2.5 → "2.5"; 0.333… → "0.33"."""
    if not is_number(value):
        return plain(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
