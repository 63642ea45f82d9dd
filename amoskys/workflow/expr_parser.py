"""Lexer, syntax tree and parser of the GitHub Actions expression language.

Precedence, loosest first: ``||``, ``&&``, ``== !=``, ``< <= > >=``, ``!``, then property
access ``a.b``, ``a['b']``, ``a[0]`` and the object filters ``a.*`` / ``a[*]``. Literals are
``null``, ``true``, ``false``, numbers (``12``, ``-9.7``, ``0xff``, ``0o17``, ``1e3``,
``NaN``, ``Infinity``) and single-quoted strings (``''`` escapes a quote). Property access
is allowed after a context name, a function call or a parenthesised group, as GitHub allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from amoskys.errors import ExpressionError
from amoskys.workflow.expr_values import WHITESPACE, literal_number, parse_number

__all__ = [
    "Call",
    "Compare",
    "ContextRef",
    "Index",
    "Literal",
    "Logical",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Node",
    "Not",
    "children",
    "iter_nodes",
    "parse",
]

MAX_DEPTH = 50
MAX_LENGTH = 21000


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the syntax tree; ``offset`` is where it starts in the expression text."""

    offset: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """``null``, ``true``/``false``, a number or a string."""

    value: Any


@dataclass(frozen=True, slots=True)
class ContextRef(Node):
    """A top-level context name such as ``github`` (a "named value")."""

    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    """``target[key]`` / ``target.key``; ``key`` None is the object filter ``*``."""

    target: Node
    key: Node | None


@dataclass(frozen=True, slots=True)
class Not(Node):
    """``!operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """A comparison: ``op`` is one of ``== != < <= > >=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """A chain of ``&&`` or ``||`` (``op``), evaluated left to right with short-circuit."""

    op: str
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function call; ``name`` is as written (function names are case-insensitive)."""

    name: str
    args: tuple[Node, ...]


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of a node, in source order."""
    if isinstance(node, Index):
        return (node.target,) if node.key is None else (node.target, node.key)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Call):
        return node.args
    return ()


def iter_nodes(root: Node) -> Iterator[Node]:
    """Every node of a tree, pre-order, left to right (iterative: no recursion)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


# --------------------------------------------------------------------------- lexer


class T(Enum):
    """Token kinds."""

    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    DOT = "."
    STAR = "*"
    BANG = "!"
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    AND = "&&"
    OR = "||"
    NUMBER = "number"
    STRING = "string"
    TRUE = "true"
    FALSE = "false"
    NULL = "null"
    IDENT = "identifier"
    ERROR = "error"
    EOF = "end of expression"


class Token(NamedTuple):
    """One token; for ERROR tokens ``value`` is ``(message, hint)``."""

    kind: T
    text: str
    offset: int
    value: Any = None


_SINGLE = {
    "(": T.LPAREN,
    ")": T.RPAREN,
    "[": T.LBRACKET,
    "]": T.RBRACKET,
    ",": T.COMMA,
    "*": T.STAR,
}
_OPERATORS = {
    "!=": T.NE,
    "==": T.EQ,
    "<=": T.LE,
    ">=": T.GE,
    "&&": T.AND,
    "||": T.OR,
    "!": T.BANG,
    "<": T.LT,
    ">": T.GT,
}
_KEYWORDS = {
    "true": (T.TRUE, True),
    "false": (T.FALSE, False),
    "null": (T.NULL, None),
    "NaN": (T.NUMBER, float("nan")),
    "Infinity": (T.NUMBER, float("inf")),
}
_BOUNDARY = frozenset("([)],.!><=&|" + WHITESPACE)
_LEGAL_KEYWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_DOT_FOLLOWS = frozenset({T.IDENT, T.RBRACKET, T.RPAREN, T.STAR})


def _word_end(text: str, start: int, allow_dot: bool) -> int:
    """The end of a word that starts at ``start`` (up to a boundary character)."""
    end = start + 1
    while end < len(text) and (text[end] not in _BOUNDARY or (allow_dot and text[end] == ".")):
        end += 1
    return end


def _error_token(text: str, start: int, end: int, hint: str | None = None) -> Token:
    """A token that stands for a lexical error."""
    raw = text[start:end]
    return Token(T.ERROR, raw, start, (f"Unexpected symbol: '{raw}'", hint))


def _lex_string(text: str, start: int) -> tuple[Token, int]:
    """A single-quoted string starting at ``start``."""
    parts: list[str] = []
    pos = start + 1
    while True:
        close = text.find("'", pos)
        if close < 0:
            token = Token(
                T.ERROR,
                text[start:],
                start,
                ("Unterminated string literal", "close the string with a single quote (')"),
            )
            return token, len(text)
        parts.append(text[pos:close])
        if text.startswith("''", close):
            parts.append("'")
            pos = close + 2
            continue
        return Token(T.STRING, text[start : close + 1], start, "".join(parts)), close + 1


def _lex_number(text: str, start: int) -> tuple[Token, int]:
    """A number literal starting at ``start`` (may start with ``-``, ``+`` or ``.``)."""
    end = _word_end(text, start, allow_dot=True)
    raw = text[start:end]
    number = parse_number(raw)
    if number != number:  # NaN: not a number after all
        return _error_token(text, start, end), end
    return Token(T.NUMBER, raw, start, literal_number(number)), end


def _lex_operator(text: str, start: int) -> tuple[Token, int]:
    """An operator starting at ``start`` (one of ``! != == < <= > >= && ||``)."""
    pair = text[start : start + 2]
    if pair in _OPERATORS:
        return Token(_OPERATORS[pair], pair, start), start + 2
    single = text[start]
    if single in _OPERATORS:
        return Token(_OPERATORS[single], single, start), start + 1
    end = _word_end(text, start, allow_dot=False)
    hints = {"=": "use '==' to compare", "&": "use '&&'", "|": "use '||'"}
    return _error_token(text, start, end, hints.get(single)), end


def _lex_word(text: str, start: int, previous: T | None) -> tuple[Token, int]:
    """A keyword, context name, function name or property name."""
    end = _word_end(text, start, allow_dot=False)
    raw = text[start:end]
    if not _LEGAL_KEYWORD.match(raw):
        hint = None
        if raw.startswith('"'):
            hint = "strings use single quotes ('like this')"
        elif raw.startswith("${{") or raw.startswith("}}"):
            hint = "expressions cannot be nested"
        return _error_token(text, start, end, hint), end
    if previous is not T.DOT and raw in _KEYWORDS:
        kind, value = _KEYWORDS[raw]
        return Token(kind, raw, start, value), end
    return Token(T.IDENT, raw, start, raw), end


def _next_token(text: str, start: int, previous: T | None) -> tuple[Token, int]:
    """The token that starts at ``start`` (not whitespace) and where the next one may start."""
    char = text[start]
    if char in _SINGLE:
        return Token(_SINGLE[char], char, start), start + 1
    if char == "'":
        return _lex_string(text, start)
    if char == "." and previous in _DOT_FOLLOWS:
        return Token(T.DOT, char, start), start + 1
    if char in ".+-" or "0" <= char <= "9":
        return _lex_number(text, start)
    if char in "!<>=&|":
        return _lex_operator(text, start)
    return _lex_word(text, start, previous)


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, ending with EOF; stops after the first ERROR token."""
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos] in WHITESPACE:
            pos += 1
        if pos >= length:
            break
        previous = tokens[-1].kind if tokens else None
        token, pos = _next_token(text, pos, previous)
        tokens.append(token)
        if token.kind is T.ERROR:
            break
    tokens.append(Token(T.EOF, "", length))
    return tokens


# --------------------------------------------------------------------------- parser


_PRECEDENCE = {
    T.OR: 1,
    T.AND: 2,
    T.EQ: 3,
    T.NE: 3,
    T.LT: 4,
    T.LE: 4,
    T.GT: 4,
    T.GE: 4,
}
_LOGICAL = frozenset({T.AND, T.OR})
_LITERALS = frozenset({T.TRUE, T.FALSE, T.NULL, T.NUMBER, T.STRING})


class _Parser:
    """Recursive descent over a token list; nesting is capped so recursion stays shallow."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.nesting = 0

    # -- helpers

    def error(self, message: str, offset: int, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, offset=offset, expression=self.text, hint=hint)

    def unexpected(self, token: Token) -> ExpressionError:
        if token.kind is T.ERROR:
            message, hint = token.value
            return self.error(message, token.offset, hint)
        if token.kind is T.EOF:
            return self.error("Unexpected end of expression", token.offset)
        return self.error(f"Unexpected symbol: '{token.text}'", token.offset)

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not T.EOF:
            self.pos += 1
        return token

    def expect(self, kind: T) -> Token:
        token = self.peek()
        if token.kind is not kind:
            raise self.unexpected(token)
        return self.advance()

    def enter(self, offset: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(
                f"Expression nested too deeply (more than {MAX_DEPTH} levels)",
                offset,
                "split it into simpler expressions",
            )

    # -- grammar

    def parse(self) -> Node:
        if self.peek().kind is T.EOF:
            raise self.error("Expected an expression", 0, "write an expression between ${{ }}")
        node = self.expression()
        token = self.peek()
        if token.kind is not T.EOF:
            raise self.unexpected(token)
        return node

    def expression(self) -> Node:
        self.enter(self.peek().offset)
        try:
            return self.binary(1)
        finally:
            self.nesting -= 1

    def binary(self, min_precedence: int) -> Node:
        """Precedence climbing over the binary operators (one frame per precedence step)."""
        left = self.unary()
        while True:
            token = self.peek()
            precedence = _PRECEDENCE.get(token.kind)
            if precedence is None or precedence < min_precedence:
                return left
            self.advance()
            right = self.binary(precedence + 1)
            if token.kind not in _LOGICAL:
                left = Compare(offset=token.offset, op=token.text, left=left, right=right)
                continue
            operands = [left, right]
            while self.peek().kind is token.kind:
                self.advance()
                operands.append(self.binary(precedence + 1))
            left = Logical(offset=token.offset, op=token.text, operands=tuple(operands))

    def unary(self) -> Node:
        if self.peek().kind is not T.BANG:
            return self.postfix()
        bang = self.advance()
        self.enter(bang.offset)
        try:
            operand = self.unary()
        finally:
            self.nesting -= 1
        return Not(offset=bang.offset, operand=operand)

    def postfix(self) -> Node:
        node, indexable = self.primary()
        if not indexable:
            return node
        while True:
            token = self.peek()
            if token.kind is T.DOT:
                self.advance()
                node = Index(offset=token.offset, target=node, key=self.property_name())
            elif token.kind is T.LBRACKET:
                self.advance()
                node = Index(offset=token.offset, target=node, key=self.index_key())
            else:
                return node

    def property_name(self) -> Node | None:
        token = self.advance()
        if token.kind is T.IDENT:
            return Literal(offset=token.offset, value=token.text)
        if token.kind is T.STAR:
            return None
        raise self.unexpected(token)

    def index_key(self) -> Node | None:
        if self.peek().kind is T.STAR:
            self.advance()
            self.expect(T.RBRACKET)
            return None
        key = self.expression()
        self.expect(T.RBRACKET)
        return key

    def primary(self) -> tuple[Node, bool]:
        token = self.advance()
        if token.kind in _LITERALS:
            return Literal(offset=token.offset, value=token.value), False
        if token.kind is T.IDENT:
            if self.peek().kind is T.LPAREN:
                return self.call(token), True
            return ContextRef(offset=token.offset, name=token.text), True
        if token.kind is T.LPAREN:
            node = self.expression()
            self.expect(T.RPAREN)
            return node, True
        raise self.unexpected(token)

    def call(self, name: Token) -> Node:
        self.advance()  # "("
        self.enter(name.offset)
        try:
            args: list[Node] = []
            if self.peek().kind is T.RPAREN:
                self.advance()
            else:
                args.append(self.expression())
                while self.peek().kind is T.COMMA:
                    self.advance()
                    args.append(self.expression())
                self.expect(T.RPAREN)
        finally:
            self.nesting -= 1
        return Call(offset=name.offset, name=name.text, args=tuple(args))


def _check_depth(root: Node, text: str) -> None:
    """Reject trees deeper than GitHub's limit (iteratively, so a deep tree cannot recurse)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"Expression nested too deeply (more than {MAX_DEPTH} levels)",
                offset=node.offset,
                expression=text,
                hint="split it into simpler expressions",
            )
        stack.extend((child, depth + 1) for child in children(node))


def parse(text: str) -> Node:
    """Parse an expression (without ``${{ }}``); raises :class:`ExpressionError` with offset."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"Expression is longer than {MAX_LENGTH} characters",
            offset=MAX_LENGTH,
            expression=text,
        )
    try:
        root = _Parser(text).parse()
    except RecursionError:  # only when the caller's own stack is already very deep
        raise ExpressionError("Expression nested too deeply", offset=0, expression=text) from None
    _check_depth(root, text)
    return root
