"""The shared conformance suite for the expression language: every case must pass.

Each case has ``expr``, ``context`` (may be null), ``expected`` and optionally ``error`` (the
evaluation must raise :class:`ExpressionError`). A context key ``$workspace_files`` lists
files to create in a workspace folder for ``hashFiles()``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from amoskys.errors import ExpressionError
from amoskys.workflow.expressions import EvalContext, evaluate

EXPECTED_CASES = 413
_RELATIVE = Path("conformance") / "gha-expressions.json"


def _cases_file() -> Path | None:
    """The conformance file next to the repository, or under ``$AMOSKYS_SHARED``."""
    candidates = [Path(__file__).resolve().parents[2].parent / "shared" / _RELATIVE]
    if os.environ.get("AMOSKYS_SHARED"):
        candidates.append(Path(os.environ["AMOSKYS_SHARED"]) / _RELATIVE)
    return next((path for path in candidates if path.is_file()), None)


CASES_FILE = _cases_file()
CASES: list[dict[str, Any]] = (
    json.loads(CASES_FILE.read_text(encoding="utf-8")) if CASES_FILE else []
)
MISSING = pytest.mark.skip(
    reason="gha-expressions.json not found (looked in ../shared/conformance and $AMOSKYS_SHARED)"
)


def _params() -> list[Any]:
    if not CASES:
        return [pytest.param(None, marks=MISSING, id="missing-conformance-file")]
    return [
        pytest.param(case, id=f"{number:03d}:{case['expr'][:50]}")
        for number, case in enumerate(CASES)
    ]


def same(actual: Any, expected: Any) -> bool:
    """Equal as JSON values: numbers compare as floats, booleans are not numbers."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(expected, (int, float)):
        if not isinstance(actual, (int, float)):
            return False
        if math.isnan(float(expected)):
            return math.isnan(float(actual))
        return float(actual) == float(expected)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[key], expected[key]) for key in expected)
        )
    return type(actual) is type(expected) and actual == expected


def _context(case: dict[str, Any], tmp_path: Path) -> EvalContext:
    contexts = dict(case["context"] or {})
    files = contexts.pop("$workspace_files", None)
    if files is None:
        return EvalContext(contexts=contexts)
    for relative, content in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))
    return EvalContext(contexts=contexts, workspace=tmp_path)


def test_the_whole_suite_is_there() -> None:
    if not CASES:
        pytest.skip("gha-expressions.json not found")
    assert len(CASES) == EXPECTED_CASES
    assert all({"expr", "context", "expected"} <= case.keys() for case in CASES)


@pytest.mark.parametrize("case", _params())
def test_conformance(case: dict[str, Any], tmp_path: Path) -> None:
    ctx = _context(case, tmp_path)
    if case.get("error"):
        with pytest.raises(ExpressionError):
            evaluate(case["expr"], ctx)
        return
    actual = evaluate(case["expr"], ctx)
    assert same(actual, case["expected"]), f"{case['expr']!r}: {actual!r} != {case['expected']!r}"


@pytest.mark.parametrize(
    ("actual", "expected", "result"),
    [
        (0, 0.0, True),
        (1.5, 1.5, True),
        (True, 1, False),
        (1, True, False),
        ("1", 1, False),
        ([1, [2.0]], [1.0, [2]], True),
        ({"a": None}, {"a": None}, True),
        ({"a": 1}, {"a": 2}, False),
        ([], {}, False),
        (None, 0, False),
    ],
)
def test_the_comparison_helper_is_strict_enough(actual: Any, expected: Any, result: bool) -> None:
    assert same(actual, expected) is result
