"""``amoskys stats`` text: numbers, charts drawn with block characters, and ``--since``."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amoskys.errors import AmoskysError
from amoskys.report import parse_since, render_stats, stats_json
from amoskys.report.stats_view import (
    BLOCKS,
    CHART_HEIGHT,
    RUN_RESULTS_KEY,
    SCHEMA,
    bar_chart,
    daily_success,
    resample,
    run_results,
    sparkline,
)
from amoskys.store.records import JobStats, Stats

NOW = 1_769_860_800.0  # 2026-01-31 12:00:00 UTC
DAY = 86_400.0
LONG_JOB = "integration (ubuntu-latest, 3.12, with-a-rather-long-matrix-value-that-never-ends)"
LONG_TEST = "tests/integration/test_engine.py::TestPipeline::test_full_pipeline_runs_the_seed"


def _stats(**changes: object) -> Stats:
    values: dict[str, object] = {
        "since": NOW - 30 * DAY,
        "runs": 12,
        "success_rate": 0.75,
        "median_duration": 62.0,
        "p95_duration": 190.0,
        "jobs": (
            JobStats("lint", 12, 1.0, 20.0, 31.0),
            JobStats("test (3.11)", 12, 0.9166, 45.0, 70.0),
            JobStats(LONG_JOB, 4, 0.5, 600.0, 4000.0),
        ),
        "tests_total": 1250,
        "tests_passed": 1234,
        "test_pass_rate": 1234 / 1250,
        "slowest_tests": ((LONG_TEST, 12.3), ("tests/test_x.py::test_y", 2.5)),
        "coverage_trend": tuple((NOW - (12 - i) * DAY, 80.0 + i) for i in range(12)),
        "extra": {
            RUN_RESULTS_KEY: [
                (NOW - (12 - i) * DAY, "failure" if i in (2, 7, 9) else "success")
                for i in range(12)
            ]
        },
    }
    values.update(changes)
    return Stats(**values)  # type: ignore[arg-type]


def _levels(text: str) -> list[int]:
    return [BLOCKS.index(char) for char in text]


def _column_heights(rows: list[str], columns: int) -> list[int]:
    """Eighths filled in each column of a bar chart, bottom row counting first."""
    heights = [0] * columns
    for row in rows:
        for column, char in enumerate(row.ljust(columns)):
            if char != " ":
                heights[column] += BLOCKS.index(char) + 1
    return heights


# --------------------------------------------------------------------------- text


def test_render_with_data_shows_every_number() -> None:
    text = render_stats(_stats())
    assert text.startswith("Amoskys stats since 2026-01-01 12:00 UTC \u00b7 12 runs\n")
    for expected in (
        "Success rate    75.0% of finished runs",
        "Run duration    median 1m 02s, p95 3m 10s",
        "Line coverage   91.0% last, +11.0 points over 12 runs",
        "Tests           1234 of 1250 passed (98.7%)",
        "Slowest tests (median duration):",
        "12.3s  " + LONG_TEST,
        "2.50s  tests/test_x.py::test_y",
    ):
        assert expected in text, expected
    job_lines = {
        line.split()[0]: line.split() for line in text.splitlines() if line[:4] in ("lint", "test")
    }
    assert job_lines["lint"][-4:] == ["12", "100.0%", "20.0s", "31.0s"]
    assert job_lines["test"][-5:] == ["12", "91.7%", "45.0s", "1m", "10s"]
    assert "1h 06m" in text and "10m 00s" in text


def test_flaky_tests_are_shown_apart_from_the_plain_passes() -> None:
    stats = _stats(tests_passed=1230, tests_flaky=4, test_pass_rate=1234 / 1250)
    assert "1230 of 1250 passed, 4 flaky (passed on a re-run) (98.7%)" in render_stats(stats)
    assert stats_json(stats)["tests"]["flaky"] == 4


def test_coverage_trend_chart_rises_with_the_data() -> None:
    text = render_stats(_stats())
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("    91.0% \u2524"))
    chart = lines[top : top + CHART_HEIGHT]
    assert chart[-1].startswith("    80.0% \u2524")
    bars = [line[11:] for line in chart]
    heights = _column_heights(bars, 12)
    assert heights == sorted(heights) and heights[0] >= 1 and heights[-1] == CHART_HEIGHT * 8
    assert lines[top + CHART_HEIGHT] == " " * 11 + "2026-01-19 .. 2026-01-30"
    wide = render_stats(_stats(coverage_trend=((NOW - 40 * DAY, 70.0),) * 30 + ((NOW, 75.0),)))
    axis = next(line for line in wide.splitlines() if line.startswith(" " * 11 + "20"))
    assert axis == " " * 11 + "2025-12-22" + " " * 11 + "2026-01-31"  # under a 31-column chart


def test_success_strip_and_daily_sparkline_from_per_run_results() -> None:
    text = render_stats(_stats())
    strip = "\u2713\u2713\u2717\u2713\u2713\u2713\u2713\u2717\u2713\u2717\u2713\u2713"
    assert f"Recent runs     {strip}\n" in text
    daily = next(line for line in text.splitlines() if line.startswith("Success by day"))
    assert _levels(daily[16:]) == [7, 7, 0, 7, 7, 7, 7, 0, 7, 0, 7, 7]


def test_success_without_per_run_results_is_one_number() -> None:
    text = render_stats(_stats(extra={}))
    assert "Success rate    75.0%" in text
    assert "Recent runs" not in text and "Success by day" not in text


@pytest.mark.parametrize("width", [20, 40, 60, 80, 100, 160])
def test_no_line_is_wider_than_the_console(width: int) -> None:
    text = render_stats(_stats(), console_width=width)
    assert max(len(line) for line in text.splitlines()) <= max(40, width)
    assert "\u2026" in text if width < 100 else True  # long names are cut, not wrapped


def test_many_coverage_points_are_resampled_to_fit() -> None:
    trend = tuple((NOW - (500 - i) * 3600, 50 + i / 10) for i in range(500))
    text = render_stats(_stats(coverage_trend=trend), console_width=60)
    assert "over 500 runs" in text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_render_without_data() -> None:
    empty = Stats(since=NOW, runs=0, success_rate=0.0, median_duration=None, p95_duration=None)
    text = render_stats(empty)
    assert text == (
        "Amoskys stats since 2026-01-31 12:00 UTC\n"
        "No runs recorded in this period. Run `amoskys run`, or look further back with --since.\n"
    )


def test_render_with_one_run_and_no_tests_or_coverage() -> None:
    one = Stats(since=NOW, runs=1, success_rate=1.0, median_duration=None, p95_duration=None)
    text = render_stats(one)
    assert "1 run\n" in text
    assert "Run duration    median \u2014, p95 \u2014" in text
    assert "Line coverage   not measured in this period" in text
    assert "Tests           no test results in this period" in text
    assert "Job " not in text and "Slowest" not in text
    single = render_stats(_stats(coverage_trend=((NOW, 87.5),)))
    assert "Line coverage   87.5% (one run, 2026-01-31)" in single


def test_stats_json_serialises_with_a_schema() -> None:
    data = stats_json(_stats(median_duration=math.nan))
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["schema"] == SCHEMA == "amoskys.stats/1"
    assert data["runs"] == 12 and data["median_duration"] is None
    assert data["jobs"][0] == {
        "name": "lint",
        "runs": 12,
        "success_rate": 1.0,
        "median_duration": 20.0,
        "p95_duration": 31.0,
    }
    assert data["tests"] == {"total": 1250, "passed": 1234, "flaky": 0, "pass_rate": 1234 / 1250}
    assert data["slowest_tests"][1] == {
        "test_id": "tests/test_x.py::test_y",
        "median_duration": 2.5,
    }
    assert data["coverage_trend"][0] == {"started": NOW - 12 * DAY, "line": 80.0}
    assert len(data["success_by_day"]) == 12 and data["success_by_day"][2]["success_rate"] == 0.0
    assert data["extra"][RUN_RESULTS_KEY][0] == [NOW - 12 * DAY, "success"]


def test_stats_json_without_data() -> None:
    empty = Stats(since=NOW, runs=0, success_rate=0.0, median_duration=None, p95_duration=None)
    data = stats_json(empty)
    assert (
        data["tests"]["pass_rate"] is None and data["jobs"] == [] and data["success_by_day"] == []
    )


# --------------------------------------------------------------------------- charts


def test_sparkline_maps_low_to_high_blocks() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == BLOCKS
    assert sparkline([0.0, 1.0], lo=0.0, hi=1.0) == "\u2581\u2588"
    assert sparkline([0.5], lo=0.0, hi=1.0) in (BLOCKS[3], BLOCKS[4])
    assert sparkline([5, 5, 5]) == BLOCKS[3] * 3
    assert sparkline([]) == ""
    assert sparkline([1.0, math.nan, 2.0]) == "\u2581\u2588"
    assert sparkline([-10, 50, 200], lo=0, hi=100) == "\u2581" + BLOCKS[4] + "\u2588"


def test_sparkline_decreasing_data_gives_decreasing_blocks() -> None:
    levels = _levels(sparkline([90, 80, 70, 60, 50, 40]))
    assert levels == sorted(levels, reverse=True) and levels[0] == 7 and levels[-1] == 0


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_sparkline_of_sorted_data_is_monotonic(values: list[float]) -> None:
    levels = _levels(sparkline(sorted(values)))
    assert levels == sorted(levels)
    assert len(levels) == len(values)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=40))
def test_bar_chart_of_sorted_data_is_monotonic(values: list[float]) -> None:
    rows = bar_chart(sorted(values), height=3)
    assert len(rows) == 3
    heights = _column_heights(rows, len(values))
    assert heights == sorted(heights)
    assert all(1 <= height <= 24 for height in heights)


def test_bar_chart_shape() -> None:
    rows = bar_chart([0, 50, 100], height=2)
    assert rows == [" \u2581\u2588", "\u2581\u2588\u2588"]  # fills 1, 9 and 16 eighths
    assert bar_chart([]) == [] and bar_chart([1.0], height=0) == []
    assert _column_heights(bar_chart([7, 7], height=2), 2) == [8, 8]


def test_resample_keeps_order_and_width() -> None:
    assert resample([1, 2, 3], 5) == [1, 2, 3]
    assert resample([1, 3, 5, 7], 2) == [2, 6]
    assert resample(list(range(100)), 7) == sorted(resample(list(range(100)), 7))
    assert len(resample(list(range(100)), 7)) == 7
    assert resample([1, 2], 0) == []


def test_run_results_and_daily_success() -> None:
    stats = _stats(extra={RUN_RESULTS_KEY: [(NOW, "success"), (NOW - DAY, "failure"), "junk"]})
    assert run_results(stats) == [(NOW - DAY, "failure"), (NOW, "success")]
    assert run_results(_stats(extra={RUN_RESULTS_KEY: "nope"})) == []
    results = [
        (NOW, "success"),
        (NOW + 60, "failure"),
        (NOW + 120, "running"),
        (NOW + DAY, "success"),
    ]
    assert daily_success(results) == [("2026-01-31", 0.5), ("2026-02-01", 1.0)]


# --------------------------------------------------------------------------- --since


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * DAY),
        ("12h", 12 * 3600),
        ("2w", 14 * DAY),
        ("90m", 90 * 60),
        (" 7D ", 7 * DAY),
        ("1 h", 3600),
    ],
)
def test_parse_since_periods(text: str, seconds: float) -> None:
    assert parse_since(text, NOW) == NOW - seconds


def test_parse_since_dates_are_utc() -> None:
    midnight = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    assert parse_since("2026-01-01", NOW) == midnight
    assert parse_since("2026-01-01T06:30", NOW) == midnight + 6.5 * 3600
    assert parse_since("2026-01-01 06:30:00+02:00", NOW) == midnight + 4.5 * 3600


def test_parse_since_a_huge_period_means_all_history() -> None:
    assert parse_since("99999999999999999999w", NOW) == 0.0


@pytest.mark.parametrize(
    "text",
    ["", "30", "d", "30y", "30 days", "-5d", "1.5h", "yesterday", "2026-13-01", "2026-1-5", "0d"],
)
def test_parse_since_rejects_bad_input_naming_value_and_forms(text: str) -> None:
    with pytest.raises(AmoskysError) as caught:
        parse_since(text, NOW)
    message = str(caught.value)
    assert repr(text) in message
    for form in ("90m", "12h", "30d", "2w", "2026-01-31"):
        assert form in message


def test_parse_since_rejects_the_future() -> None:
    with pytest.raises(AmoskysError, match="in the future"):
        parse_since("2026-02-01", NOW)
