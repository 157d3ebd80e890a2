"""The problems found in workflow.yaml, and the reader every section's reader builds on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from erflow.core import yamlio
from erflow.core.errors import located
from erflow.core.fields import COMMON_FIELDS

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
COMMON = {f.name: f for f in COMMON_FIELDS}


def plain(value: Any) -> Any:
    """YAML data as plain dicts and lists all the way down, without the parser's line bookkeeping:
    what the workflow keeps of settings, policies, conditions and set values."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


class Problems:
    """Collects problems as ``file:line: path: message``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, node: Any, key: str | None, where: str, message: str) -> None:
        line = None
        if isinstance(node, yamlio.LineDict):
            line = node.line_of(key) if key is not None else node.line
        self.items.append(located(self.path, line, f"{where}: {message}" if where else message))


class Reader:
    """Reads one part of workflow.yaml into frozen objects; every mistake goes to ``problems``."""

    def __init__(self, problems: Problems) -> None:
        self.p = problems
        self.people: set[str] = set()

    def _map(self, parent: Any, key: str, where: str) -> yamlio.LineDict:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            empty = yamlio.LineDict()
            empty.lines = {}
            empty.line = parent.line_of(key) if isinstance(parent, yamlio.LineDict) else 0
            return empty
        if not isinstance(value, yamlio.LineDict):
            self.p.add(parent, key, where, "expected a mapping")
            return self._map({}, key, where)
        return value

    def _names(self, node: Any, key: str, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.p.add(node, key, where, "expected a name or a list of names")
        return ()

    def _list(
        self, node: yamlio.LineDict, key: str, where: str, expected: str = "expected a list"
    ) -> list[Any]:
        """An optional list under ``key`` (empty when absent); a non-list is a problem, read as empty."""
        raw = node.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.p.add(node, key, f"{where}.{key}", expected)
            return []
        return raw

    def _unknown_keys(self, node: yamlio.LineDict, allowed: set[str], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.p.add(
                    node,
                    key,
                    f"{where}.{key}" if where else key,
                    f"unknown key (expected one of: {', '.join(sorted(allowed))})",
                )
