"""The expression language: literals, operators, coercions, functions and the public API."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from amoskys.errors import ExpressionError
from amoskys.workflow.expr_parser import Call, Compare, ContextRef, Index, Literal, Logical, Not
from amoskys.workflow.expressions import (
    EvalContext,
    ExpressionSpan,
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
    uses_status_function,
)

CONTEXTS: dict[str, Any] = {
    "github": {
        "ref": "refs/heads/main",
        "event_name": "push",
        "event": {
            "commits": [
                {"author": {"username": "mona"}, "message": "first"},
                {"author": {"username": "octocat"}, "message": "second"},
            ],
            "labels": [{"name": "bug"}, {"name": "Docs"}],
        },
    },
    "env": {"Greeting": "Hello", "EMPTY": ""},
    "matrix": {"os": "ubuntu-latest", "node": 18, "flags": ["a", "b"]},
    "needs": {
        "build": {"result": "success", "outputs": {"id": "1"}},
        "test": {"result": "failure", "outputs": {"id": "2"}},
    },
    "steps": {"step-one": {"outputs": {"out-put": "value"}, "outcome": "success"}},
    "obj": {},
    "arr": [],
    "nums": [10, 20, 30],
    "grid": [["a0", "a1"], ["b0"], ["c0", "c1"]],
}
CTX = EvalContext(contexts=CONTEXTS)


def ev(expr: str, ctx: EvalContext = CTX) -> Any:
    return evaluate(expr, ctx)


def same_number(actual: Any, expected: float) -> bool:
    return not isinstance(actual, bool) and isinstance(actual, (int, float)) and actual == expected


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("null", None),
        ("true", True),
        ("false", False),
        ("711", 711),
        ("-9.2", -9.2),
        ("0xff", 255),
        ("0xFF", 255),
        ("0o17", 15),
        ("-2.99e-2", -0.0299),
        ("1e3", 1000),
        ("1.5E+2", 150),
        (".5", 0.5),
        ("+5", 5),
        ("-0", 0),
        ("'Mona the Octocat'", "Mona the Octocat"),
        ("'It''s open source!'", "It's open source!"),
        ("''", ""),
        ("''''", "'"),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("0xffffffff", -1),
    ],
)
def test_literals(expr: str, expected: Any) -> None:
    actual = ev(expr)
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected and type(actual) is type(expected)
    else:
        assert same_number(actual, expected)


def test_nan_literal() -> None:
    assert math.isnan(ev("NaN"))


def test_literal_keywords_are_case_sensitive() -> None:
    assert ev("TRUE", EvalContext(contexts={"TRUE": "a context"})) == "a context"


@pytest.mark.parametrize("expr", ["1 2", "1-2", "0x", "0xfg", "0x100000000", "1e", "1.2.3", "- 1"])
def test_bad_number_literals(expr: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(expr)


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("(1 == 2) == false", True),
        ("!true", False),
        ("!!'x'", True),
        ("1 < 2", True),
        ("2 < 1", False),
        ("2 <= 2", True),
        ("3 <= 2", False),
        ("3 > 2", True),
        ("2 > 2", False),
        ("2 >= 2", True),
        ("1 >= 2", False),
        ("'a' == 'A'", True),
        ("'a' != 'b'", True),
        ("'a' != 'A'", False),
        ("true && 'x'", "x"),
        ("'' && 'x'", ""),
        ("false || 0", 0),
        ("'a' || 'b'", "a"),
        ("null || 'fallback'", "fallback"),
        ("1 && 2 && 3", 3),
        ("1 && 0 && 3", 0),
        ("0 || '' || null", None),
    ],
)
def test_operators(expr: str, expected: Any) -> None:
    actual = ev(expr)
    assert actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("!2 < 3", True),  # ! binds tighter than <
        ("3 < 2 < 1", True),  # (3 < 2) < 1 -> false < 1
        ("1 == 1 && 2", 2),  # == binds tighter than &&
        ("true || false && false", True),  # && binds tighter than ||
        ("(true || false) && false", False),
        ("1 < 2 == true", True),  # < binds tighter than ==
        ("false && 0 || null", None),
        ("!(1 == 1)", False),
    ],
)
def test_precedence(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


def test_and_or_short_circuit() -> None:
    # the right-hand side would fail (no workspace for hashFiles) if it were evaluated
    assert ev("false && hashFiles('x')") is False
    assert ev("true || hashFiles('x')") is True
    with pytest.raises(ExpressionError):
        ev("true && hashFiles('x')")


def test_parse_tree_shape() -> None:
    tree = parse_expression("a.b[0] == 1 && !c || f(1)")
    assert isinstance(tree, Logical) and tree.op == "||"
    left, right = tree.operands
    assert isinstance(left, Logical) and left.op == "&&"
    compare, negation = left.operands
    assert isinstance(compare, Compare) and compare.op == "=="
    assert isinstance(compare.left, Index) and isinstance(compare.left.target, Index)
    assert isinstance(compare.left.target.target, ContextRef)
    assert compare.left.target.key == Literal(offset=2, value="b")
    assert isinstance(negation, Not) and isinstance(negation.operand, ContextRef)
    assert isinstance(right, Call) and right.name == "f" and right.offset == 21


def test_logical_chains_are_flat() -> None:
    tree = parse_expression("a || b || c || d")
    assert isinstance(tree, Logical) and len(tree.operands) == 4


# --------------------------------------------------------------------------- property access


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("github.ref", "refs/heads/main"),
        ("GITHUB.REF", "refs/heads/main"),
        ("env.greeting", "Hello"),
        ("github['event_name']", "push"),
        ("github['EVENT_NAME']", "push"),
        ("github.event.commits[1].author.username", "octocat"),
        ("github.event.commits[1.9].message", "second"),
        ("github.event.commits['1'].message", "second"),
        ("github.event.commits[true].message", "second"),
        ("github.event.commits[5]", None),
        ("github.event.commits[-1]", None),
        ("github.ref[0]", None),
        ("github.missing.deeper", None),
        ("nothing.at.all", None),
        ("steps.step-one.outputs.out-put", "value"),
        ("needs['build'].outputs.id", "1"),
        ("matrix.node", 18),
        ("(github).ref", "refs/heads/main"),
        ('fromJSON(\'{"a": {"b": 2}}\').a.b', 2),
        ("fromJSON('{\"a\": 1}')[null]", None),
        ("fromJSON('{\"null\": 1}')[null]", None),
        ("fromJSON('{\"\": 1}')[null]", 1),
        ("fromJSON('{\"true\": 1}')[true]", 1),
        ("fromJSON('{\"a\": 1}')[fromJSON('[]')]", None),
    ],
)
def test_property_access(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("github.event.commits.*.author.username", ["mona", "octocat"]),
        ("github.event.commits[*].message", ["first", "second"]),
        ("github.event.labels.*.name", ["bug", "Docs"]),
        ("needs.*.result", ["success", "failure"]),
        ("needs.*.outputs.id", ["1", "2"]),
        ("needs.*.missing", []),
        ("grid[*][1]", ["a1", "c1"]),
        ("grid.*.*", ["a0", "a1", "b0", "c0", "c1"]),
        ("nums.*", [10, 20, 30]),
        ("(nums.*)[0]", []),  # indexing a filtered array maps over its items
        ("obj.*", []),
        ("github.ref.*", []),
        ("nothing.*", []),
        ("matrix.*", ["ubuntu-latest", 18, ["a", "b"]]),
    ],
)
def test_object_filters(expr: str, expected: Any) -> None:
    actual = ev(expr)
    assert type(actual) is list and actual == expected


@pytest.mark.parametrize(
    "expr", ["'abc'[0]", "1.x", "a.1", "a.'b'", "a[]", "a.[0]", "a..b", "a[*.b]", "f(1)(2)"]
)
def test_invalid_access_syntax(expr: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(expr)


# --------------------------------------------------------------------------- coercion table
# GitHub casts mismatched types to numbers: Null -> 0, Boolean -> 1/0, String -> parsed from
# any legal number format (empty -> 0) else NaN, Array -> NaN, Object -> NaN. NaN never
# compares true, strings compare case-insensitively, objects/arrays only equal themselves.


def test_coercion_null_is_zero() -> None:
    assert ev("null == 0") is True and ev("null < 1") is True and ev("null == 1") is False


def test_coercion_boolean_true_is_one() -> None:
    assert ev("true == 1") is True and ev("true == 2") is False


def test_coercion_boolean_false_is_zero() -> None:
    assert ev("false == 0") is True and ev("false < 1") is True


def test_coercion_string_parsed_as_number() -> None:
    assert ev("'42' == 42") is True
    assert ev("' 1.5e1 ' == 15") is True
    assert ev("'0x10' == 16") is True
    assert ev("'0o10' == 8") is True
    assert ev("'-7' < 0") is True


def test_coercion_empty_string_is_zero() -> None:
    assert ev("'' == 0") is True and ev("'   ' == 0") is True


def test_coercion_other_string_is_nan() -> None:
    assert ev("'abc' == 0") is False
    assert ev("'abc' != 0") is True
    assert ev("'1,5' == 1.5") is False


def test_coercion_array_is_nan() -> None:
    assert ev("arr == 0") is False and ev("arr != 0") is True and ev("arr < 1") is False


def test_coercion_object_is_nan() -> None:
    assert ev("obj == 0") is False and ev("obj > -1") is False


def test_nan_never_compares_true() -> None:
    for op in ("==", "<", "<=", ">", ">="):
        assert ev(f"NaN {op} NaN") is False
        assert ev(f"1 {op} 'x'") is False
    assert ev("NaN != NaN") is True


def test_strings_compare_ignoring_case() -> None:
    assert ev("'ABC' == 'abc'") is True
    assert ev("'abc' < 'ABD'") is True
    assert ev("'a' < '['") is True  # compared upper-cased: 'A' < '['


def test_objects_and_arrays_equal_only_themselves() -> None:
    assert ev("obj == obj") is True and ev("arr == arr") is True
    assert ev("fromJSON('{}') == fromJSON('{}')") is False
    assert ev("obj == arr") is False
    assert ev("obj <= obj") is True  # via equality


def test_string_vs_boolean_goes_through_numbers() -> None:
    assert ev("'1' == true") is True
    assert ev("'true' == true") is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (True, True),
        (0, False),
        (-0.0, False),
        (math.nan, False),
        (1, True),
        (-1.5, True),
        ("", False),
        ("0", True),
        ("false", True),
        ([], True),
        ({}, True),
    ],
)
def test_truthiness(value: Any, expected: bool) -> None:
    assert is_truthy(value) is expected
    assert ev("!!x", EvalContext(contexts={"x": value})) is expected


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("contains('Hello world', 'llo')", True),
        ("contains('Hello world', 'LLO')", True),
        ("contains('Hello', 'bye')", False),
        ("contains(123, 2)", True),
        ("contains(github.event.labels.*.name, 'docs')", True),
        ("contains(github.event.labels.*.name, 'feature')", False),
        ("contains(nums, '20')", True),
        ("contains(obj, 'x')", False),
        ("contains('abc', arr)", False),
        ("startsWith('Hello world', 'he')", True),
        ("startsWith('Hello world', 'world')", False),
        ("startsWith(nums, 1)", False),
        ("endsWith('Hello world', 'WORLD')", True),
        ("endsWith('Hello world', 'hello')", False),
        ("endsWith(true, 'ue')", True),
    ],
)
def test_string_functions(expr: str, expected: bool) -> None:
    assert ev(expr) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
        ("format('{{Hello {0}!}}', 'Mona')", "{Hello Mona!}"),
        ("format('{1}{0}{1}', 'a', 'b')", "bab"),
        ("format('{0}', null)", ""),
        ("format('{0} {1} {2}', 1.0, 0.5, 1e20)", "1 0.5 1E+20"),
        ("format('{0}', matrix)", "Object"),
        ("format('{0}', nums)", "Array"),
        ("format('plain')", "plain"),
        ("FORMAT('{0}', 'x')", "x"),
    ],
)
def test_format(expr: str, expected: str) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    "expr",
    [
        "format('{0}')",
        "format('{1}', 'a')",
        "format('{', 'a')",
        "format('}', 'a')",
        "format('{}', 'a')",
        "format('{x}', 'a')",
        "format('{0:d}', 1)",
        "format('{256}')",
    ],
)
def test_format_errors(expr: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        ev(expr)
    assert caught.value.offset == 0 and "format" in caught.value.message.lower()


def test_format_only_evaluates_used_arguments() -> None:
    assert ev("format('{0}', 'used', hashFiles('unused'))") == "used"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("join(matrix.flags)", "a,b"),
        ("join(matrix.flags, ' | ')", "a | b"),
        ("join(nums, '')", "102030"),
        ("join(nums, fromJSON('{}'))", "10,20,30"),
        ("join('single', '-')", "single"),
        ("join(null)", ""),
        ("join(obj)", ""),
        ("join(arr, '-')", ""),
        ("join(needs.*.result, ', ')", "success, failure"),
    ],
)
def test_join(expr: str, expected: str) -> None:
    assert ev(expr) == expected


def test_to_json() -> None:
    assert ev("toJSON(matrix)") == (
        '{\n  "os": "ubuntu-latest",\n  "node": 18,\n  "flags": [\n    "a",\n    "b"\n  ]\n}'
    )
    assert ev("toJSON('a\"b')") == '"a\\"b"'
    assert ev("toJSON(1.50)") == "1.5"
    assert ev("toJSON(arr)") == "[]"
    assert ev("toJSON(null)") == "null"


def test_from_json() -> None:
    assert ev("fromJSON('{\"a\": [1, true, null]}')") == {"a": [1, True, None]}
    assert ev("fromJSON('3') == 3") is True
    assert ev("fromJSON(' \"x\" ')") == "x"
    for bad in ("fromJSON('')", "fromJSON('{')", "fromJSON('[1,]')", "fromJSON('1 2')"):
        with pytest.raises(ExpressionError):
            ev(bad)


def test_from_json_to_json_round_trip() -> None:
    text = '{\n  "a": [\n    1,\n    "x"\n  ],\n  "b": {}\n}'
    assert ev(f"toJSON(fromJSON('{text}'))") == text


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("case(true, 'a', 'b')", "a"),
        ("case(false, 'a', 'b')", "b"),
        ("case(false, 1, true, 2, 3)", 2),
        ("case(github.ref == 'refs/heads/main', 'prod', 'dev')", "prod"),
        ("case(false, hashFiles('x'), 'default')", "default"),
    ],
)
def test_case(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


def test_case_predicate_must_be_boolean() -> None:
    with pytest.raises(ExpressionError) as caught:
        ev("case('yes', 1, 2)")
    assert caught.value.offset == 5


@pytest.mark.parametrize(
    ("status", "success", "failure", "cancelled"),
    [
        (StatusState(), True, False, False),
        (StatusState(failed=True), False, True, False),
        (StatusState(cancelled=True), False, False, True),
        (StatusState(failed=True, cancelled=True), False, True, True),
    ],
)
def test_status_functions(
    status: StatusState, success: bool, failure: bool, cancelled: bool
) -> None:
    ctx = EvalContext(status=status)
    assert ev("success()", ctx) is success
    assert ev("failure()", ctx) is failure
    assert ev("cancelled()", ctx) is cancelled
    assert ev("always()", ctx) is True


def test_function_names_are_case_insensitive() -> None:
    assert ev("ToJson(1)") == "1" and ev("STARTSWITH('ab', 'A')") is True


# --------------------------------------------------------------------------- hashFiles


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def documented_hash(root: Path, ordered: list[str]) -> str:
    """SHA-256 over the concatenated SHA-256 digests of the files, in the given order."""
    digests = b"".join(hashlib.sha256((root / name).read_bytes()).digest() for name in ordered)
    return hashlib.sha256(digests).hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    _write(
        tmp_path,
        {
            "package-lock.json": "{}\n",
            "src/app.py": "print('app')\n",
            "src/util/helpers.py": "X = 1\n",
            "src/util/data.txt": "data\n",
            "src/.hidden.py": "secret\n",
            "a/x.txt": "in a\n",
            "a-b.txt": "dash\n",
            "docs/readme.md": "# docs\n",
        },
    )
    return tmp_path


def hf(workspace: Path, *patterns: str) -> str:
    args = ", ".join("'" + pattern.replace("'", "''") + "'" for pattern in patterns)
    return evaluate(f"hashFiles({args})", EvalContext(workspace=workspace))


def test_hash_files_single_file(workspace: Path) -> None:
    assert hf(workspace, "package-lock.json") == documented_hash(workspace, ["package-lock.json"])
    assert hf(workspace, "./package-lock.json") == documented_hash(workspace, ["package-lock.json"])


def test_hash_files_globstar_in_sorted_order(workspace: Path) -> None:
    expected = ["src/.hidden.py", "src/app.py", "src/util/helpers.py"]
    assert hf(workspace, "**/*.py") == documented_hash(workspace, expected)


def test_hash_files_negation(workspace: Path) -> None:
    expected = ["src/app.py", "src/util/helpers.py"]
    assert hf(workspace, "**/*.py", "!**/.hidden.py") == documented_hash(workspace, expected)
    # a later positive pattern re-includes
    assert hf(workspace, "**/*.py", "!src/**", "src/app.py") == documented_hash(
        workspace, ["src/app.py"]
    )


def test_hash_files_directory_pattern_takes_everything_below(workspace: Path) -> None:
    expected = ["src/util/data.txt", "src/util/helpers.py"]
    assert hf(workspace, "src/util") == documented_hash(workspace, expected)
    assert hf(workspace, "src/util/") == documented_hash(workspace, expected)


def test_hash_files_walks_directories_depth_first(workspace: Path) -> None:
    # 'a' sorts before 'a-b.txt' in its directory, so a/x.txt comes first
    assert hf(workspace, "a*", "a/*") == documented_hash(workspace, ["a/x.txt", "a-b.txt"])


def test_hash_files_follows_pattern_order_for_search_roots(workspace: Path) -> None:
    expected = ["src/app.py", "docs/readme.md"]
    assert hf(workspace, "src/app.py", "docs/*.md") == documented_hash(workspace, expected)


def test_hash_files_character_classes_and_question_mark(workspace: Path) -> None:
    assert hf(workspace, "src/[a]pp.p?") == documented_hash(workspace, ["src/app.py"])
    assert hf(workspace, "src/[!a]pp.py") == ""


def test_hash_files_newlines_comments_and_blank_lines(workspace: Path) -> None:
    expected = documented_hash(workspace, ["src/app.py", "docs/readme.md"])
    assert hf(workspace, "# comment\nsrc/app.py\n\n  docs/readme.md  ") == expected


def test_hash_files_nothing_matches(workspace: Path) -> None:
    assert hf(workspace, "**/*.rs") == ""
    assert hf(workspace, "src") != ""
    assert hf(workspace, "!src/**") == ""


def test_hash_files_reads_bytes(workspace: Path) -> None:
    (workspace / "bin.dat").write_bytes(bytes(range(256)))
    assert hf(workspace, "bin.dat") == documented_hash(workspace, ["bin.dat"])


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_hash_files_symbolic_links(workspace: Path) -> None:
    os.symlink(workspace / "src", workspace / "link-to-src")
    assert hf(workspace, "link-to-src/app.py") == documented_hash(workspace, ["src/app.py"])
    plain = hf(workspace, "link-to-src/**")
    assert plain == ""  # the linked directory is not walked by default
    followed = hf(workspace, "--follow-symbolic-links", "link-to-src/**/*.py")
    assert followed == documented_hash(
        workspace, ["src/.hidden.py", "src/app.py", "src/util/helpers.py"]
    )


@pytest.mark.parametrize(
    "patterns", [("../outside",), ("src/../x",), ("src/./app.py",), ("!",), ("--bogus", "x")]
)
def test_hash_files_invalid_patterns(workspace: Path, patterns: tuple[str, ...]) -> None:
    with pytest.raises(ExpressionError, match="hashFiles"):
        hf(workspace, *patterns)


def test_hash_files_needs_a_workspace() -> None:
    with pytest.raises(ExpressionError) as caught:
        ev("1 && hashFiles('x')")
    assert caught.value.offset == 5


def test_hash_files_stays_inside_the_workspace(workspace: Path, tmp_path_factory: Any) -> None:
    outside = tmp_path_factory.mktemp("outside")
    _write(outside, {"secret.txt": "no\n"})
    assert hf(workspace, str(outside / "secret.txt")) == ""
    assert hf(workspace, str(workspace / "src" / "app.py")) == documented_hash(
        workspace, ["src/app.py"]
    )


# --------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("no expressions", "no expressions"),
        ("${{ null }}", ""),
        ("[${{ true }}|${{ false }}]", "[true|false]"),
        ("${{ 1.0 }} ${{ 0.5 }} ${{ 1e21 }} ${{ -0 }}", "1 0.5 1E+21 0"),
        ("${{ env.Greeting }}, ${{ github.event.commits[0].author.username }}!", "Hello, mona!"),
        ("${{ matrix.flags }}", '[\n  "a",\n  "b"\n]'),
        ("${{ obj }}", "{}"),
        ("a${{ 'x' }}${{ 'y' }}b", "axyb"),
        ("${{ '}}' }}", "}}"),
        ("${{ '${{' }}", "${{"),
    ],
)
def test_interpolate(template: str, expected: str) -> None:
    assert interpolate(template, CTX) == expected


def test_interpolate_error_offsets_point_into_the_template() -> None:
    with pytest.raises(ExpressionError) as caught:
        interpolate("echo ${{ github.ref == }}", CTX)
    assert caught.value.offset == len("echo ${{ github.ref == ")
    assert caught.value.expression == "echo ${{ github.ref == }}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${{ matrix.node }}", 18),
        ("  ${{ matrix }}  ", CONTEXTS["matrix"]),
        ("${{ true }}", True),
        ("${{ null }}", None),
        ("${{ fromJSON('[1, 2]') }}", [1, 2]),
        ("${{ 1 }}${{ 2 }}", "12"),
        ("v${{ matrix.node }}", "v18"),
        ("plain text", "plain text"),
    ],
)
def test_evaluate_value_keeps_types(template: str, expected: Any) -> None:
    actual = evaluate_value(template, CTX)
    assert actual == expected and type(actual) is type(expected)


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "status", "expected"),
    [
        ("github.ref == 'refs/heads/main'", StatusState(), True),
        ("github.ref == 'refs/heads/main'", StatusState(failed=True), False),
        ("${{ github.ref == 'refs/heads/main' }}", StatusState(cancelled=True), False),
        ("always()", StatusState(failed=True), True),
        ("${{ always() }}", StatusState(cancelled=True), True),
        ("failure()", StatusState(failed=True), True),
        ("failure()", StatusState(), False),
        ("cancelled()", StatusState(cancelled=True), True),
        ("!cancelled()", StatusState(failed=True), True),
        ("failure() || github.ref == 'x'", StatusState(), False),
        ("success() && env.EMPTY", StatusState(), False),
        ("", StatusState(), True),
        ("   ", StatusState(failed=True), False),
        ("env.EMPTY", StatusState(), False),
        ("matrix.node", StatusState(), True),
        ("${{ false }} extra", StatusState(), True),  # a non-empty string is truthy
        ("${{ false }} extra", StatusState(failed=True), False),
        ("${{ always() }} extra", StatusState(failed=True), True),
    ],
)
def test_evaluate_condition(condition: str, status: StatusState, expected: bool) -> None:
    ctx = EvalContext(contexts=CONTEXTS, status=status)
    assert evaluate_condition(condition, ctx) is expected


def test_condition_is_not_evaluated_after_a_failure() -> None:
    failed = EvalContext(status=StatusState(failed=True))
    assert evaluate_condition("hashFiles('x') != ''", failed) is False
    with pytest.raises(ExpressionError) as caught:
        evaluate_condition("  ${{ hashFiles('x') }}", EvalContext())
    assert caught.value.offset == 6


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("success()", True),
        ("github.ref && !FAILURE()", True),
        ("contains(format('{0}', always()), 'x')", True),
        ("github.ref == 'success()'", False),
        ("success", False),
        ("steps.success", False),
    ],
)
def test_uses_status_function(expr: str, expected: bool) -> None:
    assert uses_status_function(expr) is expected
    assert uses_status_function(parse_expression(expr)) is expected


# --------------------------------------------------------------------------- find_expressions


@pytest.mark.parametrize(
    ("template", "spans"),
    [
        ("", []),
        ("no expressions, just {{ braces }} and $", []),
        ("${{ a }}", [ExpressionSpan(0, 8, 3, " a ")]),
        ("x ${{a}}y${{ b }}", [ExpressionSpan(2, 8, 5, "a"), ExpressionSpan(9, 17, 12, " b ")]),
        ("${{ '}}' }}", [ExpressionSpan(0, 11, 3, " '}}' ")]),
        ("${{ 'it''s }}' }}!", [ExpressionSpan(0, 17, 3, " 'it''s }}' ")]),
        ("${{ a }}}", [ExpressionSpan(0, 8, 3, " a ")]),
        ("$${{ a }}", [ExpressionSpan(1, 9, 4, " a ")]),
        ("${{}}", [ExpressionSpan(0, 5, 3, "")]),
    ],
)
def test_find_expressions(template: str, spans: list[ExpressionSpan]) -> None:
    found = find_expressions(template)
    assert found == spans
    for span in found:
        assert template[span.start : span.start + 3] == "${{"
        assert template[span.inner_start : span.end - 2] == span.text


@pytest.mark.parametrize(
    ("template", "offset"),
    [
        ("${{ a", 0),
        ("ok ${{ a }} then ${{ b", 17),
        ("${{ 'unterminated }}", 0),
        ("x ${{ a } }", 2),
    ],
)
def test_find_expressions_unclosed(template: str, offset: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        find_expressions(template)
    assert caught.value.offset == offset


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    ("expr", "offset", "message"),
    [
        ("", 0, "Expected an expression"),
        ("   ", 0, "Expected an expression"),
        ("github.", 7, "Unexpected end of expression"),
        ("1 +", 2, "Unexpected symbol: '+'"),
        ("a = b", 2, "Unexpected symbol: '='"),
        ('a == "b"', 5, "Unexpected symbol: '\"b\"'"),
        ("a & b", 2, "Unexpected symbol: '&'"),
        ("(a", 2, "Unexpected end of expression"),
        ("a)", 1, "Unexpected symbol: ')'"),
        ("a[0", 3, "Unexpected end of expression"),
        ("'open", 0, "Unterminated string literal"),
        ("a b", 2, "Unexpected symbol: 'b'"),
        ("f(1,)", 4, "Unexpected symbol: ')'"),
        ("f(,1)", 2, "Unexpected symbol: ','"),
        ("a.*b", 3, "Unexpected symbol: 'b'"),
        ("1 == $x", 5, "Unexpected symbol: '$x'"),
        ("foo()", 0, "Unrecognized function: 'foo'"),
        ("1 && bar(2)", 5, "Unrecognized function: 'bar'"),
        ("contains('a')", 0, "Too few parameters supplied: 'contains'"),
        ("x || startsWith(1, 2, 3)", 5, "Too many parameters supplied: 'startsWith'"),
        ("success(1)", 0, "Too many parameters supplied: 'success'"),
        ("join()", 0, "Too few parameters supplied: 'join'"),
        ("case(true, 1)", 0, "Too few parameters supplied: 'case'"),
        ("case(true, 'a', false, 'b')", 0, "Even number of parameters supplied"),
    ],
)
def test_check_expression_errors(expr: str, offset: int, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        check_expression(expr)
    assert caught.value.offset == offset
    assert caught.value.message.startswith(message)
    assert caught.value.expression == expr


def test_check_expression_accepts_valid_expressions() -> None:
    check_expression("contains(github.event.labels.*.name, 'bug') && FORMAT('{0}', 1)")
    check_expression("Github.REF", known_contexts=["github", "env"])
    check_expression("case(true, 1, false, 2, 3)")


def test_check_expression_unknown_context() -> None:
    with pytest.raises(ExpressionError) as caught:
        check_expression("github.ref == secrets.x || foo.bar", known_contexts=["GitHub", "secrets"])
    assert caught.value.offset == 27
    assert caught.value.message == "Unrecognized named-value: 'foo'"
    assert caught.value.hint is not None and "GitHub" in caught.value.hint


def test_check_expression_reports_the_leftmost_problem() -> None:
    with pytest.raises(ExpressionError) as caught:
        check_expression("nope(other(1), x)", known_contexts=[])
    assert caught.value.offset == 0
    with pytest.raises(ExpressionError) as caught:
        check_expression("x || nope()", known_contexts=[])
    assert caught.value.offset == 0 and "named-value" in caught.value.message


def test_check_template_offsets() -> None:
    template = "echo ${{ github.ref }} ${{ contains(1) }}"
    with pytest.raises(ExpressionError) as caught:
        check_template(template)
    assert caught.value.offset == template.index("contains")
    assert caught.value.expression == template
    with pytest.raises(ExpressionError) as caught:
        check_template("a ${{ github.x }} b ${{ vars.y }}", known_contexts=["github"])
    assert caught.value.offset == 24
    with pytest.raises(ExpressionError) as caught:
        check_template("${{ 1 }} ${{ 2 +")
    assert caught.value.offset == 9
    check_template("nothing to check")
    check_template("${{ github.ref }}", known_contexts=["github"])


# --------------------------------------------------------------------------- limits


def test_nesting_limits() -> None:
    parse_expression("(" * 40 + "1" + ")" * 40)
    parse_expression("!" * 40 + "true")
    for text in (
        "(" * 60 + "1" + ")" * 60,
        "!" * 60 + "true",
        " == ".join(["1"] * 60),
        "a" + ".b" * 60,
        "f(" * 60 + ")" * 60,
        "a[" * 60 + "0" + "]" * 60,
    ):
        with pytest.raises(ExpressionError, match="nested too deeply"):
            parse_expression(text)


def test_long_flat_chains_are_fine() -> None:
    assert ev(" || ".join(["false"] * 2000) + " || 'last'") == "last"


def test_maximum_length() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        parse_expression("'" + "x" * 21000 + "'")


# --------------------------------------------------------------------------- value helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-0.0, "0"),
        (3, "3"),
        (2.50, "2.5"),
        (1 / 3, "0.333333333333333"),
        (123456789012345678, "1.23456789012346E+17"),
        (0.00001, "1E-05"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        ("text", "text"),
        ([1], "Array"),
        ({"a": 1}, "Object"),
        (10**400, "Infinity"),
    ],
)
def test_to_display_string(value: Any, text: str) -> None:
    assert to_display_string(value) == text


def test_to_json_text() -> None:
    value = {"a": [1, 2.5, None, True], "b": {"c": "d\n\u2028"}, "e": [], "f": {}}
    expected = (
        '{\n  "a": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n'
        '  "b": {\n    "c": "d\\n\\u2028"\n  },\n  "e": [],\n  "f": {}\n}'
    )
    assert to_json_text(value) == expected
    assert json.loads(to_json_text(value)) == value
    assert to_json_text("x") == '"x"'
    assert to_json_text(math.nan) == "NaN"


def test_to_json_text_handles_deep_values() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    assert to_json_text(deep).count("[") == 5000


def test_to_json_of_a_cycle_is_an_error() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ExpressionError, match="contains itself"):
        ev("toJSON(x)", EvalContext(contexts={"x": cyclic}))


def test_evaluate_accepts_a_parsed_tree() -> None:
    tree = parse_expression("matrix.node > 10")
    assert evaluate(tree, CTX) is True
    with pytest.raises(ExpressionError, match="Unrecognized function"):
        evaluate(parse_expression("nope()"), CTX)


def test_contexts_absent_from_the_context_are_null() -> None:
    assert ev("inputs.anything") is None
    assert ev("inputs == null") is True
