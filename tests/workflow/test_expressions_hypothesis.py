"""Property tests: whatever text comes in, only ExpressionError may come out.

Strategies produce arbitrary text, text built from the language's own tokens (so that the
parser and evaluator get deep into real code paths) and random JSON-like contexts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amoskys.errors import ExpressionError
from amoskys.workflow.expressions import (
    EvalContext,
    StatusState,
    check_expression,
    check_template,
    evaluate,
    evaluate_condition,
    evaluate_value,
    find_expressions,
    interpolate,
    is_truthy,
    parse_expression,
    to_display_string,
    to_json_text,
)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small folder for hashFiles() to walk."""
    root = tmp_path_factory.mktemp("hypothesis-workspace")
    for name, content in {"a.txt": "a", "dir/b.txt": "b", "dir/.c": "c", "x-y/z": "z"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    return root


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)

contexts = st.dictionaries(
    st.sampled_from(["github", "env", "matrix", "steps", "needs", "inputs", "x", "Github"]),
    json_values,
    max_size=4,
)

statuses = st.builds(StatusState, failed=st.booleans(), cancelled=st.booleans())

TOKENS = [
    "(", ")", "[", "]", ",", ".", "*", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
    "=", "&", "|", "null", "true", "false", "NaN", "Infinity", "-Infinity", "0", "1", "-1.5",
    "0xff", "0o17", "1e3", ".5", "'a'", "''", "'it''s'", "'{0}'", "'{{'", "'}}'", "'[1,[2]]'",
    "'{\"a\":1}'", "'**'", "'!a.txt'", "'dir'", "'--follow-symbolic-links'", "github",
    "env", "matrix", "x", "step-id", "contains", "startsWith", "endsWith", "format", "join",
    "toJSON", "fromJSON", "hashFiles", "case", "success", "always", "failure", "cancelled",
    "unknown", "${{", "}}", "'", '"', "$", "#", "\u00a0", "\u2028",
]  # fmt: skip

token_text = st.lists(
    st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", " ", "  "])), max_size=30
).map(lambda parts: "".join(token + space for token, space in parts))

nested_text = st.builds(
    lambda opener, closer, count, core: opener * count + core + closer * count,
    st.sampled_from(["(", "!", "f(", "x[", "fromJSON(", "format('{0}', "]),
    st.sampled_from([")", "", "]"]),
    st.integers(min_value=0, max_value=120),
    st.sampled_from(["1", "x", "'a'", "true"]),
)

expression_text = st.one_of(st.text(max_size=60), token_text, nested_text)
template_text = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.one_of(st.text(max_size=8), expression_text.map(lambda t: "${{ " + t + " }}")),
        max_size=4,
    ).map("".join),
)


def only_expression_errors(call: Callable[[], object]) -> None:
    """Run ``call``; an ExpressionError is fine, any other exception fails the test."""
    try:
        call()
    except ExpressionError as err:
        assert isinstance(err.offset, int) and err.offset >= 0
        assert err.message


@SETTINGS
@given(text=expression_text, known=st.none() | st.lists(st.sampled_from(["github", "x"])))
def test_parsing_and_checking_never_crash(text: str, known: list[str] | None) -> None:
    only_expression_errors(lambda: parse_expression(text))
    only_expression_errors(lambda: check_expression(text, known))


@SETTINGS
@given(text=expression_text, ctx=contexts, status=statuses)
def test_evaluation_never_crashes(
    workspace: Path, text: str, ctx: dict[str, Any], status: StatusState
) -> None:
    eval_ctx = EvalContext(contexts=ctx, status=status, workspace=workspace)
    only_expression_errors(lambda: evaluate(text, eval_ctx))
    only_expression_errors(lambda: evaluate_condition(text, eval_ctx))


@SETTINGS
@given(template=template_text, ctx=contexts, status=statuses)
def test_templates_never_crash(
    workspace: Path, template: str, ctx: dict[str, Any], status: StatusState
) -> None:
    eval_ctx = EvalContext(contexts=ctx, status=status, workspace=workspace)
    only_expression_errors(lambda: find_expressions(template))
    only_expression_errors(lambda: interpolate(template, eval_ctx))
    only_expression_errors(lambda: evaluate_value(template, eval_ctx))
    only_expression_errors(lambda: evaluate_condition(template, eval_ctx))
    only_expression_errors(lambda: check_template(template, ["github", "env"]))


@SETTINGS
@given(template=template_text)
def test_found_spans_are_consistent(template: str) -> None:
    try:
        spans = find_expressions(template)
    except ExpressionError as err:
        assert template[err.offset : err.offset + 3] == "${{"
        return
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.inner_start <= span.end - 2
        assert template[span.start : span.inner_start] == "${{"
        assert template[span.end - 2 : span.end] == "}}"
        assert template[span.inner_start : span.end - 2] == span.text
        previous_end = span.end


@SETTINGS
@given(value=json_values)
def test_helpers_accept_any_json_value(value: Any) -> None:
    assert isinstance(to_display_string(value), str)
    assert isinstance(is_truthy(value), bool)
    assert isinstance(to_json_text(value), str)


def _finite_json(value: Any) -> bool:
    """Values whose toJSON text reads back exactly (no NaN/Infinity, exact numbers)."""
    if isinstance(value, float):
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 10**15
    if isinstance(value, list):
        return all(_finite_json(item) for item in value)
    if isinstance(value, dict):
        return all(_finite_json(item) for item in value.values())
    return True


@SETTINGS
@given(value=json_values.filter(_finite_json))
def test_to_json_reads_back(value: Any) -> None:
    assert json.loads(to_json_text(value)) == value
    assert evaluate("fromJSON(toJSON(x))", EvalContext(contexts={"x": value})) == value


primitives = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5)


@SETTINGS
@given(left=primitives, right=primitives)
def test_comparison_laws(left: Any, right: Any) -> None:
    ctx = EvalContext(contexts={"l": left, "r": right})
    equal = evaluate("l == r", ctx)
    assert equal is evaluate("r == l", ctx)
    assert evaluate("l != r", ctx) is (not equal)
    less, greater = evaluate("l < r", ctx), evaluate("l > r", ctx)
    assert not (less and greater)
    assert less is evaluate("r > l", ctx)
    assert evaluate("l <= r", ctx) is (less or equal)
    assert evaluate("l >= r", ctx) is (greater or equal)


@SETTINGS
@given(left=primitives, right=primitives)
def test_logical_operators_return_the_deciding_operand(left: Any, right: Any) -> None:
    ctx = EvalContext(contexts={"l": left, "r": right})
    expected_and = left if not is_truthy(left) else right
    expected_or = left if is_truthy(left) else right
    assert _identical(evaluate("l && r", ctx), expected_and)
    assert _identical(evaluate("l || r", ctx), expected_or)


def _identical(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return type(actual) is type(expected) and actual == expected


@SETTINGS
@given(
    number=st.floats(min_value=-1e307, max_value=1e307)
    | st.integers(min_value=-(10**20), max_value=10**20)
)
def test_number_text_reads_back_as_the_same_double_to_15_digits(number: float) -> None:
    text = to_display_string(number)
    assert float(text) == pytest.approx(float(number), rel=1e-14, abs=0.0)
    ctx = EvalContext(contexts={"n": number})
    assert evaluate(f"n == {text}", ctx) is (float(text) == float(number))
