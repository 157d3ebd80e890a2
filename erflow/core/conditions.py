"""Conditions over ticket values: the small rule language of workflow.yaml.

A condition is a mapping; every entry must hold (AND). Keys are field names, ``policy.NAME``,
or the combinators ``all`` / ``any`` (a list of conditions) and ``not`` (a condition).
A value is either the expected value (for a list field: "contains") or a mapping of operators:
``set`` (bool), ``not`` (value), ``in`` (list), ``contains`` (value), ``gt``/``gte``/``lt``/``lte``,
``matches`` (a regular expression the whole text value matches) and ``product`` (a list of numbers,
field names and ``policy.NAME``: the value equals their product).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OPERATORS = frozenset({"set", "not", "in", "contains", "gt", "gte", "lt", "lte", "matches", "product"})
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
            if not _matches(actual, expected, values, policies):
                return False
    return True


def _matches(
    actual: object, expected: object, values: Mapping[str, Any], policies: Mapping[str, Any]
) -> bool:
    if isinstance(expected, Mapping):
        return all(
            _is_product(actual, arg, values, policies) if op == "product" else _operator(op, actual, arg)
            for op, arg in expected.items()
        )
    return _equals(actual, expected)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def product(operands: list[Any], values: Mapping[str, Any], policies: Mapping[str, Any]) -> float | None:
    """The product of numbers, field values and ``policy.NAME`` values; None when one is not a number."""
    result = 1.0
    for operand in operands:
        if isinstance(operand, str):
            operand = policies.get(operand[7:]) if operand.startswith("policy.") else values.get(operand)
        number = _number(operand)
        if number is None:
            return None
        result *= number
    return result


def _is_product(
    actual: object, operands: list[Any], values: Mapping[str, Any], policies: Mapping[str, Any]
) -> bool:
    number, expected = _number(actual), product(operands, values, policies)
    return (
        number is not None and expected is not None and abs(number - expected) <= 1e-9 * max(1, abs(expected))
    )


def explain(
    condition: Mapping[str, Any], values: Mapping[str, Any], policies: Mapping[str, Any]
) -> list[str]:
    """The numbers behind each ``product`` comparison of ``condition`` that fails, e.g.
    ``invoice_amount is 1000, estimate_hours × policy.rate is 900``."""
    found = []
    for key, expected in condition.items():
        if key in COMBINATORS or not isinstance(expected, Mapping) or "product" not in expected:
            continue
        operands = expected["product"]
        if _is_product(values.get(key), operands, values, policies):
            continue
        total = product(operands, values, policies)
        shown = "not a number" if total is None else f"{total:g}"
        found.append(f"{key} is {values.get(key)}, {' × '.join(str(o) for o in operands)} is {shown}")
    return found


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
    if op == "matches":
        return isinstance(actual, str) and re.fullmatch(str(arg), actual) is not None
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
