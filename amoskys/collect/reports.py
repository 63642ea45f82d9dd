"""All of a job's report files at once: test results, test and coverage metrics, warnings.

Several pytest runs in one job add up (their JUnit files are concatenated). Coverage comes
from one report: the project's own ``coverage.xml``/``coverage.json`` when a step wrote one,
else the probe's, else a ``.coverage`` data file; a report without a line rate gives way to
the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from amoskys.collect import CollectWarning
from amoskys.collect.coverage import parse_coverage
from amoskys.collect.junit import parse_junit
from amoskys.collect.tests import test_metrics
from amoskys.store.records import Metric, TestCaseResult


def _coverage_rank(path: Path) -> int:
    """Lower is preferred: the project's reports, then the probe's, then raw data files."""
    name = path.name
    if name in ("coverage.xml", "coverage.json"):
        return 0
    if name.startswith("coverage-") and name.endswith(".json"):
        return 1
    return 2


def is_coverage_report(path: Path) -> bool:
    name = path.name
    return name in ("coverage.xml", "coverage.json", ".coverage") or (
        name.startswith("coverage-") and name.endswith(".json")
    )


def collect_reports(
    paths: Sequence[Path],
    *,
    root: Path | None = None,
    mask: Callable[[str], str] | None = None,
) -> tuple[list[TestCaseResult], list[Metric], list[CollectWarning]]:
    """Parse every report; never raises for a bad file (it becomes a warning).

    ``root`` is the workspace the tests ran in: it turns JUnit class names into file paths.
    ``mask`` hides the run's secrets in test failure messages (they are stored and shown).
    """
    tests: list[TestCaseResult] = []
    warnings: list[CollectWarning] = []
    coverage: list[Path] = []
    for path in paths:
        if is_coverage_report(path):
            coverage.append(path)
            continue
        results, problems = parse_junit(path, root=root, mask=mask)
        tests.extend(results)
        warnings.extend(problems)
    metrics: list[Metric] = test_metrics(tests) if tests else []
    for path in sorted(coverage, key=_coverage_rank):
        found, problems = parse_coverage(path)
        warnings.extend(problems)
        if any(m.name == "coverage.line" for m in found):
            metrics.extend(found)
            break
    return tests, metrics, warnings
