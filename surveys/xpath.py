"""XLSForm's XPath expressions read as heard's `when:` language, and heard's written as XPath.

XLSForm's `relevant`, `constraint`, `choice_filter` and `calculation` columns hold XPath
(`${age} >= 15 and selected(${problems}, 'dirty')`); heard's skip logic is the small language of
:mod:`surveys.conditions` (`age >= 15 and 'dirty' in problems`). The two meet on comparisons,
`and`/`or`/`not`, names and literals; what XPath has beyond that (regex(), count-selected(), if())
is refused with a reason, never guessed. Types matter where the languages differ: XPath compares
`${q} = 1` as text when q is a select, heard compares the stored choice value '1', so literals
are converted to the type the named question stores.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from surveys.conditions import LITERAL_NAMES


class XPathError(ValueError):
    """An expression heard cannot read or write; the message says what and why."""


@dataclass(frozen=True)
class Scope:
    """What names mean where an expression is read."""

    questions: Mapping[str, tuple[str, str]]  # XLSForm name → (heard id, heard type), earlier only
    current: str | None = None  # the heard type of `.` (a constraint's own answer), else no `.`
    choice_columns: bool = False  # bare names are columns of the choices sheet (choice_filter)
    arithmetic: bool = False  # + - * div allowed (calculate)


_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\$\{\s*[^}\s]+\s*\})
  | (?P<path>(?:\.\./)+[A-Za-z_][\w.-]*|/[A-Za-z_][\w.-]*(?:/[A-Za-z_][\w.-]*)+)
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)
  | (?P<dot>\.)
  | (?P<word>[A-Za-z_][\w.:-]*)
)""", re.VERBOSE)

# precedence of what a term's text is, for parentheses: higher binds tighter
OR, AND, NOT, COMPARE, SUM, PRODUCT, ATOM = range(1, 8)
_COMPARISONS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TEXT_TYPES = ("choice", "yesno", "text", "multi")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class _Term:
    text: str
    precedence: int = ATOM
    kind: str = "expr"  # name | string | number | bool | column | expr
    qtype: str | None = None  # a name's heard question type
    value: str | None = None  # a literal's value

    def inside(self, precedence: int) -> str:
        return self.text if self.precedence > precedence else f"({self.text})"


@dataclass
class _Parser:
    source: str
    scope: Scope
    tokens: list[tuple[str, str]] = field(default_factory=list)
    position: int = 0

    def __post_init__(self) -> None:
        at = 0
        text = self.source.rstrip()
        while at < len(text):
            found = _TOKEN.match(text, at)
            if found is None or found.end() == at:
                raise XPathError(f"cannot read {text[at:].strip()[:20]!r}")
            kind = found.lastgroup or ""
            self.tokens.append((kind, found.group(kind)))
            at = found.end()

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise XPathError(f"expected '{text}'")

    def read(self) -> str:
        term = self.disjunction()
        if self.peek()[0] != "end":
            raise XPathError(f"unexpected {self.peek()[1]!r}")
        return term.text

    def disjunction(self) -> _Term:
        return self._joined("or", OR, self.conjunction)

    def conjunction(self) -> _Term:
        return self._joined("and", AND, self.comparison)

    def _joined(self, word: str, precedence: int, operand: Callable[[], _Term]) -> _Term:
        terms = [operand()]
        while self.peek() == ("word", word):
            self.take()
            terms.append(operand())
        if len(terms) == 1:
            return terms[0]
        # `a or (b and c)` keeps its parentheses: people read it more easily than precedence
        return _Term(f" {word} ".join(term.inside(AND) for term in terms), precedence)

    def comparison(self) -> _Term:
        left = self.sum()
        if self.peek()[1] not in _COMPARISONS:
            return left
        op = self.take()[1]
        right = self.sum()
        if self.peek()[1] in _COMPARISONS:
            raise XPathError("chained comparisons (a < b < c) read differently in XPath")
        return _compare(left, op, right)

    def sum(self) -> _Term:
        left = self.product()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            left = self._arithmetic(left, op, self.product(), SUM)
        return left

    def product(self) -> _Term:
        left = self.unary()
        while self.peek()[1] == "*" or self.peek() == ("word", "div"):
            op = "*" if self.take()[1] == "*" else "/"
            left = self._arithmetic(left, op, self.unary(), PRODUCT)
        return left

    def _arithmetic(self, left: _Term, op: str, right: _Term, precedence: int) -> _Term:
        if not self.scope.arithmetic:
            raise XPathError(f"arithmetic ({op}) is not part of heard's when: language")
        # left-associative: a - (b - c) keeps its parentheses on the right
        return _Term(f"{left.inside(precedence - 1)} {op} {right.inside(precedence)}", precedence)

    def unary(self) -> _Term:
        if self.peek()[1] == "-":
            self.take()
            operand = self.unary()
            if operand.kind == "number":
                return _Term(f"-{operand.text}", ATOM, "number", value=f"-{operand.value}")
            if not self.scope.arithmetic:
                raise XPathError("arithmetic (-) is not part of heard's when: language")
            return _Term(f"-{operand.inside(PRODUCT)}", PRODUCT)
        return self.primary()

    def primary(self) -> _Term:
        kind, text = self.take()
        if kind == "ref":
            return self._name(text[2:-1].strip())
        if kind == "path":
            return self._name(text.rsplit("/", 1)[-1])
        if kind == "number":
            return _Term(text, kind="number", value=text)
        if kind == "string":
            return _Term(repr(text[1:-1]), kind="string", value=text[1:-1])
        if kind == "dot":
            if self.scope.current is None:
                raise XPathError("'.' (this question's answer) only means something in a "
                                 "constraint")
            return _Term("answer", kind="name", qtype=self.scope.current)
        if text == "(":
            inner = self.disjunction()
            self.expect(")")
            return inner
        if kind == "word" and self.peek()[1] == "(":
            self.take()
            return self._function(text)
        if kind == "word" and self.scope.choice_columns:
            if not _COLUMN.match(text):
                raise XPathError(f"the column '{text}': heard's tags are letters, digits and _")
            return _Term(f"choice.{text}", kind="column")
        raise XPathError(f"unexpected {text!r}" if text else "the expression ends too soon")

    def _name(self, name: str) -> _Term:
        if name not in self.scope.questions:
            raise XPathError(f"refers to '{name}', which is not an earlier question heard "
                             "imports")
        heard_id, qtype = self.scope.questions[name]
        return _Term(heard_id, kind="name", qtype=qtype)

    def _function(self, name: str) -> _Term:
        arguments: list[_Term] = []
        while self.peek()[1] != ")":
            arguments.append(self.disjunction())
            if self.peek()[1] == ",":
                self.take()
            elif self.peek()[1] != ")":
                raise XPathError(f"expected ',' or ')' in {name}()")
        self.take()
        if name in ("true", "false") and not arguments:
            return _Term(name, kind="bool", value=name)
        if name == "not" and len(arguments) == 1:
            return _Term(f"not {arguments[0].inside(PRODUCT)}", NOT)
        if name == "selected" and len(arguments) == 2:
            return _selected(*arguments)
        raise XPathError(f"{name}() has no equivalent in heard's when: language")


def _selected(answer: _Term, value: _Term) -> _Term:
    if answer.kind != "name" or value.kind not in ("string", "number"):
        raise XPathError("selected() needs a question and a choice name")
    choice = repr(value.value)
    if answer.qtype == "multi":
        return _Term(f"{choice} in {answer.text}", COMPARE)
    if answer.qtype in ("choice", "yesno"):
        return _Term(f"{answer.text} == {choice}", COMPARE)
    raise XPathError(f"selected() on '{answer.text}', which is not a select question")


def _compare(left: _Term, op: str, right: _Term) -> _Term:
    if min(left.precedence, right.precedence) <= COMPARE:
        raise XPathError("a comparison of conditions (not(a) = b) has no heard equivalent")
    left, right = _as_compared(left, right, op), _as_compared(right, left, op)
    return _Term(f"{left.inside(COMPARE)} {_COMPARISONS[op]} {right.inside(COMPARE)}", COMPARE)


def _as_compared(literal: _Term, other: _Term, op: str) -> _Term:
    """A literal as the question it is compared with stores it: '' is no answer (null), a
    select's 1 is '1', a number's '5' is 5, a multi's 'a b' is ['a', 'b']."""
    if literal.kind not in ("string", "number") or other.kind not in ("name", "column"):
        return literal
    value = literal.value or ""
    if value == "" and op in ("=", "!=") and other.kind != "column":  # a tag's '' is a value
        return _Term("null", kind="bool")
    if other.qtype == "multi" and op in ("=", "!="):
        return _Term(repr(value.split()))
    if (other.qtype in _TEXT_TYPES or other.kind == "column") and literal.kind == "number":
        return _Term(repr(value), kind="string", value=value)
    if other.qtype == "number" and literal.kind == "string":
        try:
            return _Term(str(float(value)).removesuffix(".0"), kind="number", value=value)
        except ValueError:
            return literal
    return literal


def to_heard(xpath: str, scope: Scope) -> str:
    """The XPath expression as heard's when: language (or a calculation), in `scope`."""
    return _Parser(xpath, scope).read()


# heard → XPath -------------------------------------------------------------------------------

_XPATH_ARITHMETIC = {ast.Add: ("+", 1), ast.Sub: ("-", 1), ast.Mult: ("*", 2),
                     ast.Div: ("div", 2)}  # operator → (XPath's word, precedence)
_XPATH_COMPARE = {ast.Eq: "=", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                  ast.GtE: ">="}


def to_xpath(expression: str, answer: str | None = None) -> str:
    """heard's when:, constraint, choice_filter or calculate expression as XLSForm XPath
    (`answer` names `.`, in a constraint); what XPath cannot say is an XPathError."""
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError as error:
        raise XPathError(f"invalid expression {expression!r}: {error.msg}") from None
    return _xpath(tree, answer)


def _xpath(node: ast.AST, answer: str | None) -> str:
    match node:
        case ast.BoolOp(op=op, values=values):
            word = " and " if isinstance(op, ast.And) else " or "
            return word.join(_grouped(value, answer) for value in values)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return f"not({_xpath(operand, answer)})"
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float() as value)):
            return f"-{value}"
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            lefts = [left, *comparators[:-1]]
            parts = [_comparison(a, op, b, answer)
                     for a, op, b in zip(lefts, ops, comparators, strict=True)]
            return " and ".join(parts) if len(parts) == 1 else \
                " and ".join(f"({part})" for part in parts)
        case ast.Name(id=name):
            if name in LITERAL_NAMES:
                value = LITERAL_NAMES[name]
                return "''" if value is None else f"{str(value).lower()}()"
            return "." if name == answer else f"${{{name}}}"
        case ast.Attribute(value=ast.Name(id="choice"), attr=tag):
            return tag  # a choice_filter's choice.<tag>: the choices sheet's column
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _XPATH_ARITHMETIC:
            word, precedence = _XPATH_ARITHMETIC[type(op)]
            return f"{_operand(left, precedence, answer)} {word} " \
                   f"{_operand(right, precedence + 1, answer)}"
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return f"-{_operand(operand, 3, answer)}"
        case ast.Constant(value=bool(value)):
            return f"{str(value).lower()}()"
        case ast.Constant(value=str(value)):
            return f'"{value}"' if "'" in value else f"'{value}'"
        case ast.Constant(value=value):
            return repr(value)
    raise XPathError(f"{type(node).__name__} has no XPath equivalent here")


def _operand(node: ast.expr, precedence: int, answer: str | None) -> str:
    """An arithmetic operand, in parentheses where it binds looser than its operator (`a - (b
    - c)` keeps them on the right)."""
    text = _xpath(node, answer)
    own = _XPATH_ARITHMETIC.get(type(node.op), ("", 3))[1] if isinstance(node, ast.BinOp) else 3
    return f"({text})" if own < precedence else text


def _grouped(node: ast.AST, answer: str | None) -> str:
    text = _xpath(node, answer)
    return f"({text})" if isinstance(node, ast.BoolOp) else text


def _comparison(left: ast.expr, op: ast.cmpop, right: ast.expr, answer: str | None) -> str:
    if isinstance(op, ast.In | ast.NotIn):
        found = _membership(left, right, answer)
        return found if isinstance(op, ast.In) else f"not({found})"
    return f"{_xpath(left, answer)} {_XPATH_COMPARE[type(op)]} {_xpath(right, answer)}"


def _membership(item: ast.expr, container: ast.expr, answer: str | None) -> str:
    """`'dirty' in problems` is selected(); `source in ['tap', 'well']` one = per value."""
    if isinstance(container, ast.Name) and container.id not in LITERAL_NAMES:
        return f"selected({_xpath(container, answer)}, {_xpath(item, answer)})"
    if isinstance(container, ast.List | ast.Tuple | ast.Set):
        options = " or ".join(f"{_xpath(item, answer)} = {_xpath(element, answer)}"
                              for element in container.elts)
        return f"({options})" if options else "false()"
    raise XPathError("'in' needs a question or a list on its right")
