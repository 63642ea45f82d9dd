"""Test results -> metrics: how many passed, failed, errored, were skipped, were flaky (passed
on a re-run), and how long."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from amoskys.store.records import Metric, TestCaseResult

OUTCOMES = ("passed", "failed", "error", "skipped")
FLAKY = "flaky"  # failed, then passed on a re-run


def test_metrics(results: Sequence[TestCaseResult]) -> list[Metric]:
    """``tests.total``, ``tests.passed``, ``tests.failed``, ``tests.error``, ``tests.skipped``
    (count), ``tests.flaky`` (count, only when some test was) and ``tests.duration`` (the sum
    of the cases' times, seconds).

    An outcome outside these counts in ``tests.total`` only.
    """
    counts = Counter(result.outcome for result in results)
    metrics = [Metric("tests.total", float(len(results)), "count")]
    metrics.extend(
        Metric(f"tests.{outcome}", float(counts[outcome]), "count") for outcome in OUTCOMES
    )
    if counts[FLAKY]:
        metrics.append(Metric(f"tests.{FLAKY}", float(counts[FLAKY]), "count"))
    duration = sum(max(0.0, result.duration) for result in results)
    metrics.append(Metric("tests.duration", round(duration, 6), "s"))
    return metrics


test_metrics.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks
