"""Skip logic: a tiny expression language over earlier answers.

`when: source == 'other' and minutes > 30` is parsed with :mod:`ast` and checked against a
whitelist; it is never handed to ``eval``. Evaluation is total: comparing a missing answer
(None) or values of different types is simply false, never an exception.

The same language serves `constraint:` (where the name `answer` is the candidate answer) and
`choice_filter:` (where `choice.<tag>` is a choice's tag: `parse_condition(..., tags=True)`);
`calculate:` is its arithmetic sibling (`parse_calculation`): + - * /, parentheses, numbers and
earlier answers, with a missing or non-number operand (or a division by zero) giving None.
"""

from __future__ import annotations

import ast
import math
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


_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
TAG_PREFIX = "choice."  # `choice.county`: a choice's tag, in a choice_filter


class ConditionError(ValueError):
    """The text is not a valid `when` expression; the message says why."""


@dataclass(frozen=True)
class Condition:
    source: str
    tree: ast.expr
    names: frozenset[str]

    # the `choice.<tag>` names it reads (a choice_filter's), e.g. {"county"}
    tags: frozenset[str] = frozenset()

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree, answers))

    def value(self, answers: Mapping[str, Any]) -> int | float | None:
        """A calculation's number (whole when it is one), or None when it has none."""
        found = _eval(self.tree, answers)
        if not _is_number(found) or not math.isfinite(found):
            return None
        return int(found) if float(found).is_integer() else float(found)


def parse_condition(source: str, tags: bool = False) -> Condition:
    """A `when`/`constraint` expression; with `tags`, `choice.<tag>` too (a choice_filter)."""
    return _parse(source, _Rules(tags=tags))


def parse_calculation(source: str) -> Condition:
    """A `calculate` expression: arithmetic over numbers and earlier answers."""
    return _parse(source, _Rules(arithmetic=True))


@dataclass(frozen=True)
class _Rules:
    tags: bool = False
    arithmetic: bool = False


def _parse(source: str, rules: _Rules) -> Condition:
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as error:
        raise ConditionError(f"invalid expression {source!r}: {error.msg}") from None
    names: set[str] = set()
    tags: set[str] = set()
    (_check_arithmetic if rules.arithmetic else _check)(tree, names, tags, rules)
    return Condition(source=source, tree=tree, names=frozenset(names), tags=frozenset(tags))


def _check(node: ast.AST, names: set[str], tags: set[str], rules: _Rules) -> None:
    match node:
        case ast.BoolOp(values=values):
            for value in values:
                _check(value, names, tags, rules)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            _check(operand, names, tags, rules)
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float())):
            pass
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for op in ops:
                if type(op) not in _COMPARE and not isinstance(op, ast.In | ast.NotIn):
                    raise ConditionError(f"operator {type(op).__name__} is not allowed")
            for operand in [left, *comparators]:
                _check(operand, names, tags, rules)
        case ast.Attribute(value=ast.Name(id="choice"), attr=tag) if rules.tags:
            tags.add(tag)
        case ast.Name(id=name):
            if name not in LITERAL_NAMES:
                names.add(name)
        case ast.Constant(value=value):
            if not isinstance(value, str | int | float | bool | type(None)):
                raise ConditionError(f"literal {value!r} is not allowed")
        case ast.List(elts=elements) | ast.Tuple(elts=elements) | ast.Set(elts=elements):
            for element in elements:
                _check(element, names, tags, rules)
        case _:
            raise ConditionError(
                f"{type(node).__name__} is not allowed: use comparisons, and/or/not, in, "
                "question ids" + (", choice.<tag>" if rules.tags else "") + " and literals"
            )


def _check_arithmetic(node: ast.AST, names: set[str], tags: set[str], rules: _Rules) -> None:
    match node:
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _ARITHMETIC:
            _check_arithmetic(left, names, tags, rules)
            _check_arithmetic(right, names, tags, rules)
        case ast.UnaryOp(op=ast.USub() | ast.UAdd(), operand=operand):
            _check_arithmetic(operand, names, tags, rules)
        case ast.Name(id=name) if name not in LITERAL_NAMES:
            names.add(name)
        case ast.Constant(value=value) if _is_number(value):
            pass
        case _:
            raise ConditionError(
                f"{type(node).__name__} is not allowed: use + - * /, parentheses, numbers "
                "and question ids"
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
            found = _eval(operand, answers)
            return -found if _is_number(found) else None
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _eval(operand, answers)
        case ast.BinOp(left=left, op=operation, right=right):
            return _arithmetic(operation, _eval(left, answers), _eval(right, answers))
        case ast.Attribute(value=ast.Name(id="choice"), attr=tag):
            return answers.get(TAG_PREFIX + tag)
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


def _arithmetic(op: ast.operator, left: Any, right: Any) -> int | float | None:
    """Numbers only: a missing answer, a word, or a division by zero gives None."""
    if not (_is_number(left) and _is_number(right)):
        return None
    try:
        return _ARITHMETIC[type(op)](left, right)
    except (ZeroDivisionError, OverflowError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
