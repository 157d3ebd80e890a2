"""Conditions and requirements checked against the fields and policies they name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erflow.core import conditions
from erflow.core.loader.base import Problems, plain

_OPERATOR_LIST = ", ".join(sorted(conditions.OPERATORS))


class RefChecker:
    """Checks that conditions and requirements name fields and policies that exist."""

    def __init__(self, problems: Problems, known: set[str], policies: Mapping[str, Any]) -> None:
        self.p = problems
        self.known = known
        self.policies = policies

    def field(self, name: str, node: Any, key: str, where: str) -> None:
        if name not in self.known:
            self.p.add(node, key, where, f"unknown field {name!r}")

    def condition(self, raw: Any, node: Any, key: str, where: str) -> Mapping[str, Any] | None:
        """The condition if it is well formed (problems reported), else None."""
        if raw is None:
            return None
        return plain(raw) if self._valid(raw, node, key, where) else None

    def _valid(self, raw: Any, node: Any, key: str, where: str) -> bool:
        if not isinstance(raw, dict) or not raw:
            self.p.add(node, key, where, "a condition is a mapping of field: expected value")
            return False
        ok = True
        for k, v in raw.items():
            if k in ("all", "any"):
                if not isinstance(v, list) or not v:
                    self.p.add(node, key, where, f"{k}: expected a list of conditions")
                    ok = False
                    continue
                ok = all([self._valid(sub, node, key, f"{where}.{k}") for sub in v]) and ok
            elif k == "not":
                ok = self._valid(v, node, key, f"{where}.not") and ok
            elif k.startswith("policy."):
                if k[7:] not in self.policies:
                    self.p.add(node, key, where, f"unknown policy {k[7:]!r}")
                    ok = False
            else:
                self.field(k, node, key, where)
                ok = k in self.known and ok
                ok = self._valid_expected(k, v, node, key, where) and ok
        return ok

    def _valid_expected(self, name: str, expected: Any, node: Any, key: str, where: str) -> bool:
        if not isinstance(expected, dict):
            if isinstance(expected, (list, dict)):
                self.p.add(node, key, where, f"{name}: expected a value or a mapping of operators")
                return False
            return True
        ok = True
        for op, arg in expected.items():
            problem = None
            if op not in conditions.OPERATORS:
                problem = f"unknown operator {op!r} (expected one of: {_OPERATOR_LIST})"
            elif op == "set" and not isinstance(arg, bool):
                problem = "set: expected true or false"
            elif op == "in" and not isinstance(arg, list):
                problem = "in: expected a list of values"
            elif op in ("gt", "gte", "lt", "lte") and (
                isinstance(arg, bool) or not isinstance(arg, (int, float))
            ):
                problem = f"{op}: expected a number"
            elif op in ("not", "contains") and isinstance(arg, (list, dict)):
                problem = f"{op}: expected a single value"
            elif op == "matches":
                problem = _regex_problem(arg)
            elif op == "product":
                problem = self._product_problem(arg)
            if problem:
                self.p.add(node, key, where, problem)
                ok = False
        return ok

    def _product_problem(self, operands: Any) -> str | None:
        if not isinstance(operands, list) or not operands:
            return "product: expected a list of numbers, field names and policy.NAME"
        for operand in operands:
            if isinstance(operand, bool) or not isinstance(operand, (int, float, str)):
                return f"product: {operand!r} is not a number, a field name or policy.NAME"
            if (
                isinstance(operand, str)
                and operand.startswith("policy.")
                and operand[7:] not in self.policies
            ):
                return f"product: unknown policy {operand[7:]!r}"
            if isinstance(operand, str) and not operand.startswith("policy.") and operand not in self.known:
                return f"product: unknown field {operand!r}"
        return None


def _regex_problem(pattern: Any) -> str | None:
    """Why ``pattern`` is not a usable regular expression (None when it is)."""
    if not isinstance(pattern, str):
        return "matches: expected a regular expression in quotes"
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        return f"matches: {pattern!r} is not a regular expression ({exc})"
    return None
