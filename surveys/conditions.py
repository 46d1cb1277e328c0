"""Skip logic: a tiny expression language over earlier answers.

`when: source == 'other' and minutes > 30` is parsed with :mod:`ast` and checked against a
whitelist; it is never handed to ``eval``. Evaluation is total: comparing a missing answer
(None) or values of different types is simply false, never an exception.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LITERAL_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False,
                 "None": None}

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class ConditionError(ValueError):
    """The text is not a valid `when` expression; the message says why."""


@dataclass(frozen=True)
class Condition:
    source: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree, answers))


def parse_condition(source: str) -> Condition:
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as error:
        raise ConditionError(f"invalid expression {source!r}: {error.msg}") from None
    names: set[str] = set()
    _check(tree, names)
    return Condition(source=source, tree=tree, names=frozenset(names))


def _check(node: ast.AST, names: set[str]) -> None:
    match node:
        case ast.BoolOp(values=values):
            for value in values:
                _check(value, names)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            _check(operand, names)
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float())):
            pass
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for op in ops:
                if type(op) not in _COMPARE and not isinstance(op, ast.In | ast.NotIn):
                    raise ConditionError(f"operator {type(op).__name__} is not allowed")
            for operand in [left, *comparators]:
                _check(operand, names)
        case ast.Name(id=name):
            if name not in LITERAL_NAMES:
                names.add(name)
        case ast.Constant(value=value):
            if not isinstance(value, str | int | float | bool | type(None)):
                raise ConditionError(f"literal {value!r} is not allowed")
        case ast.List(elts=elements) | ast.Tuple(elts=elements) | ast.Set(elts=elements):
            for element in elements:
                _check(element, names)
        case _:
            raise ConditionError(
                f"{type(node).__name__} is not allowed: use comparisons, and/or/not, in, "
                "question ids and literals"
            )


def _eval(node: ast.AST, answers: Mapping[str, Any]) -> Any:
    match node:
        case ast.BoolOp(op=ast.And(), values=values):
            return all(_eval(value, answers) for value in values)
        case ast.BoolOp(op=ast.Or(), values=values):
            return any(_eval(value, answers) for value in values)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _eval(operand, answers)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_eval(operand, answers)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = _eval(left, answers)
            for op, comparator in zip(ops, comparators, strict=True):
                right = _eval(comparator, answers)
                if not _compare(op, current, right):
                    return False
                current = right
            return True
        case ast.Name(id=name):
            return LITERAL_NAMES[name] if name in LITERAL_NAMES else answers.get(name)
        case ast.Constant(value=value):
            return value
        case ast.List(elts=elements) | ast.Tuple(elts=elements) | ast.Set(elts=elements):
            return [_eval(element, answers) for element in elements]
    raise ConditionError(f"cannot evaluate {type(node).__name__}")  # unreachable once checked


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.In | ast.NotIn):
        found = _contains(right, left)
        return found if isinstance(op, ast.In) else not found
    try:
        return bool(_COMPARE[type(op)](left, right))
    except TypeError:  # None < 3, 'a' > 2: a missing or odd answer never matches
        return False


def _contains(container: Any, item: Any) -> bool:
    if not isinstance(container, list | str):
        return False
    if isinstance(container, str) and not isinstance(item, str):
        return False
    return item in container
