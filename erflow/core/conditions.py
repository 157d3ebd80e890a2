"""Conditions over ticket values: the small rule language of workflow.yaml.

A condition is a mapping; every entry must hold (AND). Keys are field names, ``policy.NAME``,
or the combinators ``all`` / ``any`` (a list of conditions) and ``not`` (a condition).
A value is either the expected value (for a list field: "contains") or a mapping of operators:
``set`` (bool), ``not`` (value), ``in`` (list), ``contains`` (value), ``gt``/``gte``/``lt``/``lte``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = frozenset({"set", "not", "in", "contains", "gt", "gte", "lt", "lte"})
COMBINATORS = frozenset({"all", "any", "not"})


def is_set(value: object) -> bool:
    """A value counts as set unless it is missing, None, an empty string or an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return True


def holds(condition: Mapping[str, Any], values: Mapping[str, Any], policies: Mapping[str, Any]) -> bool:
    """True when every entry of ``condition`` holds for ``values``."""
    for key, expected in condition.items():
        if key == "all":
            if not all(holds(c, values, policies) for c in expected):
                return False
        elif key == "any":
            if not any(holds(c, values, policies) for c in expected):
                return False
        elif key == "not":
            if holds(expected, values, policies):
                return False
        else:
            actual = policies.get(key[7:]) if key.startswith("policy.") else values.get(key)
            if not _matches(actual, expected):
                return False
    return True


def _matches(actual: object, expected: object) -> bool:
    if isinstance(expected, Mapping):
        return all(_operator(op, actual, arg) for op, arg in expected.items())
    return _equals(actual, expected)


def _equals(actual: object, expected: object) -> bool:
    if isinstance(actual, list):
        return expected in actual
    return actual == expected


def _operator(op: str, actual: Any, arg: Any) -> bool:
    if op == "set":
        return is_set(actual) == bool(arg)
    if op == "not":
        return not _equals(actual, arg)
    if op == "in":
        return actual in arg
    if op == "contains":
        return isinstance(actual, list) and arg in actual
    if not isinstance(actual, (int, float)) or isinstance(actual, bool):
        return False
    if op == "gt":
        return bool(actual > arg)
    if op == "gte":
        return bool(actual >= arg)
    if op == "lt":
        return bool(actual < arg)
    if op == "lte":
        return bool(actual <= arg)
    raise ValueError(f"unknown operator {op!r}")


def fields_of(condition: Mapping[str, Any]) -> set[str]:
    """The ticket fields a condition reads (not policies)."""
    found: set[str] = set()
    for key, value in condition.items():
        if key in ("all", "any"):
            for sub in value:
                found |= fields_of(sub)
        elif key == "not" and isinstance(value, Mapping):
            found |= fields_of(value)
        elif not key.startswith("policy."):
            found.add(key)
    return found


def describe(condition: Mapping[str, Any]) -> str:
    """A short human reading of a condition, for refusal reasons."""
    parts = []
    for key, value in condition.items():
        if key in ("all", "any"):
            inner = f" {key.upper().replace('ALL', 'and').replace('ANY', 'or')} ".join(
                f"({describe(c)})" for c in value
            )
            parts.append(inner)
        elif key == "not":
            parts.append(f"not ({describe(value)})")
        elif isinstance(value, Mapping):
            for op, arg in value.items():
                if op == "set":
                    parts.append(f"{key} is {'set' if arg else 'not set'}")
                else:
                    parts.append(f"{key} {op} {arg!r}")
        else:
            parts.append(f"{key} is {value!r}")
    return " and ".join(parts)
