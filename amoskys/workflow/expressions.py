"""The GitHub Actions expression language: ``${{ ... }}`` parsing, checking and evaluation.

Everything a user can get wrong surfaces as :class:`~amoskys.errors.ExpressionError` with the
0-based ``offset`` of the problem in the expression (or template) text.

The value rules live in :mod:`amoskys.workflow.expr_values`, the grammar in
:mod:`amoskys.workflow.expr_parser` and ``hashFiles()`` in
:mod:`amoskys.workflow.expr_hashfiles`; this module evaluates trees and holds the public API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from amoskys.errors import ExpressionError
from amoskys.workflow.expr_hashfiles import HashFilesError, hash_files
from amoskys.workflow.expr_parser import (
    Call,
    Compare,
    ContextRef,
    Index,
    Literal,
    Logical,
    Node,
    Not,
    iter_nodes,
    parse,
)
from amoskys.workflow.expr_values import (
    CycleError,
    Kind,
    get_member,
    index_value,
    is_primitive,
    is_truthy,
    kind_of,
    loose_equal,
    loose_greater,
    loose_less,
    plain,
    to_display_string,
    to_json_text,
    upper_ordinal,
)

__all__ = [
    "EvalContext",
    "ExpressionSpan",
    "Node",
    "StatusState",
    "check_expression",
    "check_template",
    "evaluate",
    "evaluate_condition",
    "evaluate_value",
    "find_expressions",
    "interpolate",
    "is_truthy",
    "parse_expression",
    "to_display_string",
    "to_json_text",
    "uses_status_function",
]

STATUS_FUNCTIONS = frozenset({"success", "always", "cancelled", "failure"})
_MAX_FORMAT_INDEX = 255


@dataclass(frozen=True)
class StatusState:
    """What the status functions see."""

    failed: bool = False  # a previous step (or needed job) failed
    cancelled: bool = False  # the run was cancelled


@dataclass(frozen=True)
class EvalContext:
    """The contexts (``github``, ``env``, ...), the run status and the hashFiles() root."""

    contexts: Mapping[str, Any] = field(default_factory=dict)
    status: StatusState = StatusState()
    workspace: Path | None = None


@dataclass(frozen=True)
class ExpressionSpan:
    """One ``${{ ... }}`` in a template: ``template[start:end]`` is the whole thing and
    ``text`` (starting at ``inner_start``) is what is between the braces."""

    start: int
    end: int
    inner_start: int
    text: str


# --------------------------------------------------------------------------- evaluation


class _Evaluator:
    """Evaluates one tree against one context."""

    def __init__(self, ctx: EvalContext, text: str) -> None:
        self.ctx = ctx
        self.text = text

    def error(self, message: str, node: Node, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, offset=node.offset, expression=self.text, hint=hint)

    def run(self, root: Node) -> Any:
        """The plain value of a whole tree."""
        try:
            return plain(self.eval(root))
        except RecursionError:  # only when the caller's own stack is already very deep
            raise self.error("Expression nested too deeply to evaluate", root) from None

    def eval(self, node: Node) -> Any:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise self.error(f"Unknown expression node {type(node).__name__}", node)
        return handler(self, node)

    def literal(self, node: Literal) -> Any:
        return node.value

    def context(self, node: ContextRef) -> Any:
        return get_member(self.ctx.contexts, node.name)[1]

    def index(self, node: Index) -> Any:
        target = self.eval(node.target)
        if node.key is None:
            return index_value(target, None, wildcard=True)
        return index_value(target, self.eval(node.key))

    def negate(self, node: Not) -> Any:
        return not is_truthy(self.eval(node.operand))

    def compare(self, node: Compare) -> Any:
        comparison = _COMPARISONS.get(node.op)
        if comparison is None:
            raise self.error(f"Unknown operator '{node.op}'", node)
        return comparison(self.eval(node.left), self.eval(node.right))

    def logical(self, node: Logical) -> Any:
        stop_when = node.op == "||"  # || stops at the first truthy value, && at the first falsy
        value: Any = None
        for operand in node.operands:
            value = self.eval(operand)
            if is_truthy(value) == stop_when:
                return value
        return value

    def call(self, node: Call) -> Any:
        function = _FUNCTIONS.get(node.name.lower())
        if function is None:
            raise self.error(f"Unrecognized function: '{node.name}'", node, _functions_hint())
        return function.impl(self, node)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": loose_equal,
    "!=": lambda left, right: not loose_equal(left, right),
    "<": loose_less,
    ">": loose_greater,
    "<=": lambda left, right: loose_equal(left, right) or loose_less(left, right),
    ">=": lambda left, right: loose_equal(left, right) or loose_greater(left, right),
}

_HANDLERS: dict[type[Node], Callable[[_Evaluator, Any], Any]] = {
    Literal: _Evaluator.literal,
    ContextRef: _Evaluator.context,
    Index: _Evaluator.index,
    Not: _Evaluator.negate,
    Compare: _Evaluator.compare,
    Logical: _Evaluator.logical,
    Call: _Evaluator.call,
}


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class _Function:
    """A built-in function: its spelling, how many arguments it takes, what it does."""

    name: str
    min_args: int
    max_args: int | None
    impl: Callable[[_Evaluator, Call], Any]
    odd_args: bool = False


def _fn_contains(ev: _Evaluator, node: Call) -> bool:
    haystack = ev.eval(node.args[0])
    if kind_of(haystack) is Kind.ARRAY:
        needle = ev.eval(node.args[1])
        return any(loose_equal(item, needle) for item in haystack)
    if not is_primitive(haystack):
        return False
    needle = ev.eval(node.args[1])
    if not is_primitive(needle):
        return False
    return upper_ordinal(to_display_string(needle)) in upper_ordinal(to_display_string(haystack))


def _string_pair(ev: _Evaluator, node: Call) -> tuple[str, str] | None:
    """Both arguments as folded strings, or None when either is not a primitive."""
    left = ev.eval(node.args[0])
    if not is_primitive(left):
        return None
    right = ev.eval(node.args[1])
    if not is_primitive(right):
        return None
    return upper_ordinal(to_display_string(left)), upper_ordinal(to_display_string(right))


def _fn_starts_with(ev: _Evaluator, node: Call) -> bool:
    pair = _string_pair(ev, node)
    return pair is not None and pair[0].startswith(pair[1])


def _fn_ends_with(ev: _Evaluator, node: Call) -> bool:
    pair = _string_pair(ev, node)
    return pair is not None and pair[0].endswith(pair[1])


def _format_error(ev: _Evaluator, node: Call, fmt: str, why: str) -> ExpressionError:
    return ev.error(
        f"The format string is invalid: '{fmt}' ({why})",
        node,
        "placeholders are {0}, {1}, ...; write '{{' and '}}' for literal braces",
    )


def _format_placeholder(fmt: str, start: int) -> tuple[int, int] | None:
    """At a ``{`` that is not ``{{``: ``(argument index, end)``, or None when malformed.

    A format specifier (``{0:x}``) comes back as index -1 so the caller can reject it.
    """
    pos = start + 1
    while pos < len(fmt) and fmt[pos].isdecimal():
        pos += 1
    digits = fmt[start + 1 : pos]
    significant = digits.lstrip("0")
    if not digits or not digits.isascii() or len(significant) > 3:
        return None
    index = int(significant or "0")
    if index > _MAX_FORMAT_INDEX:
        return None
    if pos < len(fmt) and fmt[pos] == "}":
        return index, pos + 1
    if pos < len(fmt) and fmt[pos] == ":" and fmt.find("}", pos) > 0:
        return -1, fmt.find("}", pos) + 1
    return None


def _format_segments(ev: _Evaluator, node: Call, fmt: str) -> list[str | int]:
    """Split a format string into literal text and argument indexes."""
    segments: list[str | int] = []
    pos = 0
    while pos < len(fmt):
        left, right = fmt.find("{", pos), fmt.find("}", pos)
        if left >= 0 and (right < 0 or left < right):
            segments.append(fmt[pos:left])
            if fmt.startswith("{{", left):
                segments.append("{")
                pos = left + 2
                continue
            found = _format_placeholder(fmt, left)
            if found is None:
                raise _format_error(ev, node, fmt, f"bad placeholder at position {left}")
            index, pos = found
            if index < 0:
                raise _format_error(ev, node, fmt, "format specifiers are not supported")
            if index >= len(node.args) - 1:
                raise _format_error(ev, node, fmt, f"there is no argument {{{index}}}")
            segments.append(index)
        elif right >= 0:
            if not fmt.startswith("}}", right):
                raise _format_error(ev, node, fmt, f"lone '}}' at position {right}")
            segments.append(fmt[pos : right + 1])
            pos = right + 2
        else:
            segments.append(fmt[pos:])
            break
    return segments


def _fn_format(ev: _Evaluator, node: Call) -> str:
    fmt = to_display_string(ev.eval(node.args[0]))
    values: dict[int, str] = {}
    out: list[str] = []
    for segment in _format_segments(ev, node, fmt):
        if isinstance(segment, str):
            out.append(segment)
            continue
        if segment not in values:
            values[segment] = to_display_string(ev.eval(node.args[segment + 1]))
        out.append(values[segment])
    return "".join(out)


def _fn_join(ev: _Evaluator, node: Call) -> str:
    items = ev.eval(node.args[0])
    if kind_of(items) is Kind.ARRAY and len(items) > 0:
        texts = [to_display_string(item) for item in items]
        separator = ","
        if len(texts) > 1 and len(node.args) > 1:
            value = ev.eval(node.args[1])
            if is_primitive(value):
                separator = to_display_string(value)
        return separator.join(texts)
    if is_primitive(items):
        return to_display_string(items)
    return ""


def _fn_to_json(ev: _Evaluator, node: Call) -> str:
    try:
        return to_json_text(ev.eval(node.args[0]))
    except CycleError:
        raise ev.error("toJSON() cannot write a value that contains itself", node) from None


def _fn_from_json(ev: _Evaluator, node: Call) -> Any:
    text = to_display_string(ev.eval(node.args[0]))
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        detail = str(err) if isinstance(err, ValueError) else "nested too deeply"
        raise ev.error(
            f"fromJSON() got invalid JSON: {detail}", node, "pass a JSON text, e.g. '[1, 2]'"
        ) from None


def _fn_hash_files(ev: _Evaluator, node: Call) -> str:
    workspace = ev.ctx.workspace
    github = ev.ctx.contexts.get("github")
    if workspace is None and isinstance(github, Mapping) and github.get("workspace"):
        workspace = Path(str(github["workspace"]))  # GITHUB_WORKSPACE, as the runner does
    if workspace is None:
        raise ev.error("hashFiles() needs a workspace folder", node, "it only works inside a job")
    patterns = [to_display_string(ev.eval(arg)) for arg in node.args]
    try:
        return hash_files(workspace, patterns)
    except HashFilesError as err:
        raise ev.error(f"hashFiles() failed: {err.message}", node, err.hint) from None


def _fn_case(ev: _Evaluator, node: Call) -> Any:
    for pos in range(0, len(node.args) - 1, 2):
        predicate = ev.eval(node.args[pos])
        if not isinstance(predicate, bool):
            raise ev.error(
                "case predicate must evaluate to a boolean value",
                node.args[pos],
                "compare explicitly, e.g. x == 'value'",
            )
        if predicate:
            return ev.eval(node.args[pos + 1])
    return ev.eval(node.args[-1])


def _fn_success(ev: _Evaluator, node: Call) -> bool:
    return not ev.ctx.status.failed and not ev.ctx.status.cancelled


def _fn_always(ev: _Evaluator, node: Call) -> bool:
    return True


def _fn_failure(ev: _Evaluator, node: Call) -> bool:
    return ev.ctx.status.failed


def _fn_cancelled(ev: _Evaluator, node: Call) -> bool:
    return ev.ctx.status.cancelled


_FUNCTION_LIST = (
    _Function("contains", 2, 2, _fn_contains),
    _Function("startsWith", 2, 2, _fn_starts_with),
    _Function("endsWith", 2, 2, _fn_ends_with),
    _Function("format", 1, _MAX_FORMAT_INDEX, _fn_format),
    _Function("join", 1, 2, _fn_join),
    _Function("toJSON", 1, 1, _fn_to_json),
    _Function("fromJSON", 1, 1, _fn_from_json),
    _Function("hashFiles", 1, 255, _fn_hash_files),
    _Function("case", 3, None, _fn_case, odd_args=True),
    _Function("success", 0, 0, _fn_success),
    _Function("always", 0, 0, _fn_always),
    _Function("failure", 0, 0, _fn_failure),
    _Function("cancelled", 0, 0, _fn_cancelled),
)
_FUNCTIONS = {function.name.lower(): function for function in _FUNCTION_LIST}


def _functions_hint() -> str:
    return "known functions: " + ", ".join(function.name for function in _FUNCTION_LIST)


# --------------------------------------------------------------------------- checking


def _arity_problem(function: _Function, count: int) -> str | None:
    """Why ``count`` arguments do not suit ``function``, or None."""
    expected = str(function.min_args)
    if function.max_args is None:
        expected = f"at least {function.min_args}"
    elif function.max_args != function.min_args:
        expected = f"{function.min_args} to {function.max_args}"
    if count < function.min_args:
        return f"Too few parameters supplied: '{function.name}' (expects {expected})"
    if function.max_args is not None and count > function.max_args:
        return f"Too many parameters supplied: '{function.name}' (expects {expected})"
    if function.odd_args and count % 2 == 0:
        return (
            f"Even number of parameters supplied, requires an odd number of parameters: "
            f"'{function.name}'"
        )
    return None


def _call_problem(node: Call, text: str) -> ExpressionError | None:
    """An unknown function or a wrong argument count."""
    function = _FUNCTIONS.get(node.name.lower())
    if function is None:
        return ExpressionError(
            f"Unrecognized function: '{node.name}'",
            offset=node.offset,
            expression=text,
            hint=_functions_hint(),
        )
    problem = _arity_problem(function, len(node.args))
    if problem is None:
        return None
    hint = "case(predicate, value, ..., default)" if function.odd_args else None
    return ExpressionError(problem, offset=node.offset, expression=text, hint=hint)


def _validate(root: Node, text: str, known_contexts: Collection[str] | None) -> None:
    """Raise the first (leftmost) unknown function, bad arity or unknown context."""
    known = None if known_contexts is None else {upper_ordinal(name) for name in known_contexts}
    problems: list[ExpressionError] = []
    for node in iter_nodes(root):
        if isinstance(node, Call):
            problem = _call_problem(node, text)
            if problem is not None:
                problems.append(problem)
        elif isinstance(node, ContextRef) and known is not None:
            if upper_ordinal(node.name) not in known:
                available = ", ".join(sorted(known_contexts or ())) or "none"
                problems.append(
                    ExpressionError(
                        f"Unrecognized named-value: '{node.name}'",
                        offset=node.offset,
                        expression=text,
                        hint=f"available contexts here: {available}",
                    )
                )
    if problems:
        raise min(problems, key=lambda problem: problem.offset)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Node:
    return parse(text)


@lru_cache(maxsize=4096)
def _compile(text: str) -> Node:
    """Parse and check function names/arities (cached per text)."""
    root = _parse_cached(text)
    _validate(root, text, None)
    return root


def _rebased(err: ExpressionError, base: int, template: str) -> ExpressionError:
    """The same error with its offset moved into the enclosing template."""
    return ExpressionError(
        err.message,
        offset=err.offset + base,
        expression=template,
        location=err.location,
        hint=err.hint,
    )


# --------------------------------------------------------------------------- public API


def parse_expression(text: str) -> Node:
    """Check the syntax of a bare expression (no ``${{ }}``) and return its tree."""
    return _parse_cached(text)


def evaluate(expr: str | Node, ctx: EvalContext) -> Any:
    """The value of a bare expression (no ``${{ }}``) in ``ctx``.

    Unknown contexts evaluate to null (use :func:`check_expression` to reject them).
    """
    if isinstance(expr, str):
        root, text = _compile(expr), expr
    else:
        root, text = expr, ""
        _validate(root, text, None)
    return _Evaluator(ctx, text).run(root)


def find_expressions(template: str) -> list[ExpressionSpan]:
    """Every ``${{ ... }}`` in ``template``; ``}}`` inside a quoted string does not close one."""
    spans: list[ExpressionSpan] = []
    start = template.find("${{")
    while start >= 0:
        end = _closing_braces(template, start + 3)
        if end < 0:
            raise ExpressionError(
                "Unclosed expression: '${{' has no matching '}}'",
                offset=start,
                expression=template,
                hint="close it with '}}' (and close any quoted string inside it)",
            )
        spans.append(ExpressionSpan(start, end + 2, start + 3, template[start + 3 : end]))
        start = template.find("${{", end + 2)
    return spans


def _closing_braces(template: str, pos: int) -> int:
    """Index of the ``}}`` closing an expression whose text starts at ``pos``, or -1."""
    while True:
        brace, quote = template.find("}}", pos), template.find("'", pos)
        if brace < 0:
            return -1
        if quote < 0 or brace < quote:
            return brace
        close = template.find("'", quote + 1)
        if close < 0:
            return -1
        pos = close + 1


def _evaluate_span(span: ExpressionSpan, template: str, ctx: EvalContext) -> Any:
    try:
        return evaluate(span.text, ctx)
    except ExpressionError as err:
        raise _rebased(err, span.inner_start, template) from None


def _interpolation_text(value: Any) -> str:
    """How a value is written into a string: containers as JSON, the rest as text."""
    if kind_of(value) in (Kind.ARRAY, Kind.OBJECT):
        try:
            return to_json_text(value)
        except CycleError:
            return to_display_string(value)
    return to_display_string(value)


def interpolate(template: str, ctx: EvalContext) -> str:
    """Replace every ``${{ }}`` by its value as text.

    Scalars are written as :func:`to_display_string` does (null is '', ``true``, numbers as
    GitHub formats them); objects and arrays are written as ``toJSON`` text.
    """
    spans = find_expressions(template)
    if not spans:
        return template
    parts: list[str] = []
    last = 0
    for span in spans:
        parts.append(template[last : span.start])
        parts.append(_interpolation_text(_evaluate_span(span, template, ctx)))
        last = span.end
    parts.append(template[last:])
    return "".join(parts)


def _whole_span(template: str, spans: list[ExpressionSpan]) -> ExpressionSpan | None:
    """The span when ``template`` (stripped) is exactly one ``${{ }}``."""
    if len(spans) != 1:
        return None
    span = spans[0]
    if template[: span.start].strip() or template[span.end :].strip():
        return None
    return span


def evaluate_value(template: str, ctx: EvalContext) -> Any:
    """The typed value when ``template`` is exactly one ``${{ expr }}``, else interpolation."""
    spans = find_expressions(template)
    span = _whole_span(template, spans)
    if span is not None:
        return _evaluate_span(span, template, ctx)
    return interpolate(template, ctx)


def _compile_at(text: str, base: int, template: str) -> Node:
    try:
        return _compile(text)
    except ExpressionError as err:
        raise _rebased(err, base, template) from None


def evaluate_condition(condition: str, ctx: EvalContext) -> bool:
    """Evaluate an ``if:`` value (with or without ``${{ }}``) to a boolean.

    Without a status function anywhere in it, the condition means ``success() && (...)``.
    """
    succeeded = not ctx.status.failed and not ctx.status.cancelled
    if not condition.strip():
        return succeeded
    spans = find_expressions(condition)
    whole = _whole_span(condition, spans)
    if not spans or whole is not None:
        text, base = (condition, 0) if whole is None else (whole.text, whole.inner_start)
        root = _compile_at(text, base, condition)
        if not uses_status_function(root) and not succeeded:
            return False
        try:
            return is_truthy(_Evaluator(ctx, text).run(root))
        except ExpressionError as err:
            raise _rebased(err, base, condition) from None
    roots = [_compile_at(span.text, span.inner_start, condition) for span in spans]
    if not any(uses_status_function(root) for root in roots) and not succeeded:
        return False
    return is_truthy(interpolate(condition, ctx))


def check_expression(text: str, known_contexts: Collection[str] | None = None) -> None:
    """Raise :class:`ExpressionError` for a syntax error, an unknown function, a wrong
    argument count or (when ``known_contexts`` is given) an unknown context name."""
    _validate(_parse_cached(text), text, known_contexts)


def check_template(template: str, known_contexts: Collection[str] | None = None) -> None:
    """:func:`check_expression` for every ``${{ }}`` of a string; offsets into ``template``."""
    for span in find_expressions(template):
        try:
            check_expression(span.text, known_contexts)
        except ExpressionError as err:
            raise _rebased(err, span.inner_start, template) from None


def uses_status_function(expr: str | Node) -> bool:
    """Whether ``success()``, ``failure()``, ``cancelled()`` or ``always()`` is called."""
    root = parse_expression(expr) if isinstance(expr, str) else expr
    return any(
        isinstance(node, Call) and node.name.lower() in STATUS_FUNCTIONS
        for node in iter_nodes(root)
    )
