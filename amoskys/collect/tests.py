"""Test results -> metrics: how many passed, failed, errored, were skipped, and how long."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from amoskys.store.records import Metric, TestCaseResult

OUTCOMES = ("passed", "failed", "error", "skipped")


def test_metrics(results: Sequence[TestCaseResult]) -> list[Metric]:
    """``tests.total``, ``tests.passed``, ``tests.failed``, ``tests.error``, ``tests.skipped``
    (count) and ``tests.duration`` (the sum of the cases' times, seconds).

    An outcome outside the four known ones counts in ``tests.total`` only.
    """
    counts = Counter(result.outcome for result in results)
    metrics = [Metric("tests.total", float(len(results)), "count")]
    metrics.extend(
        Metric(f"tests.{outcome}", float(counts[outcome]), "count") for outcome in OUTCOMES
    )
    duration = sum(max(0.0, result.duration) for result in results)
    metrics.append(Metric("tests.duration", round(duration, 6), "s"))
    return metrics


test_metrics.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks
