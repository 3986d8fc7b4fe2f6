"""What a failing python check saw: the expression, and the values of its parts, so a
failure reads ``python: int(output) == 42: int(output) is 41`` rather than "returned False"."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["explain_false"]

VALUE_LIMIT = 80


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _parts(node: ast.expr) -> list[ast.expr]:
    """The sub-expressions worth showing: both sides of a comparison, the operands of a
    boolean operator, the operand of a ``not``, the arguments of a call."""
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [*node.args, *(k.value for k in node.keywords)]
    return []


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def explain_false(
    expression: str, evaluate: Callable[[str], Any], output: str, context: Mapping[str, Any]
) -> str:
    """Why ``expression`` was false, evaluating its parts again with ``evaluate`` (the check
    is trusted code; parts that raise are left out). Ends with the output when no part
    showed it."""
    text = " ".join(expression.split())
    reason = f"{text if len(text) <= 120 else text[:119] + '…'} is false"
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return f"{reason} (output: {_shown(output)})"
    seen: list[str] = []
    for part in _parts(tree.body):
        if _is_literal(part) or (isinstance(part, ast.Name) and part.id == "output"):
            continue
        source = ast.unparse(part)
        try:
            value = evaluate(source)
        except Exception:  # a part that cannot be evaluated alone says nothing more
            continue
        if isinstance(tree.body, ast.BoolOp) and isinstance(tree.body.op, ast.And) and value:
            continue  # with `and`, the operand that was false is the one to show
        seen.append(f"{source} is {_shown(value)}")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if "context" in names and not seen:
        variables = context.get("vars") or {}
        used = [k for k in variables if k in expression]
        seen += [f"vars.{k} is {_shown(variables[k])}" for k in used[:3]]
    if "output" in names:
        seen.append(f"output is {_shown(output)}")
    return f"{reason}: " + "; ".join(seen)
