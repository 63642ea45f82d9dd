"""``schedule`` cron strings: what GitHub accepts, when they fire, and the next firing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from croniter import croniter

from amoskys.errors import AmoskysError
from amoskys.workflow.cron import cron_matches, cron_problem, next_fire, parse_cron

VALID = [
    "0 6 * * 1",  # the seed: Monday 06:00 UTC
    "30 5,17 * * *",  # GitHub's documented examples
    "15 4,5 * * *",
    "30 5 * * 1,3",
    "30 5 * * 2,4",
    "0 0 * * *",
    "0 000 001 * *",  # leading zeros
    "30 4-6 * * *",
    "0 4-4 * * *",
    "20/15 * * * *",  # n/step means n-max/step
    "28 */4 * * *",
    "28 5,*/4,6-8 * * *",
    "0 0 * * SUN",
    "0 0 * * sun-TUE",  # names are case-insensitive
    "0 0 * * SUN-2",
    "0 0 1 JAN-MAR *",
    "0 2-4/5 * * *",
    "0   0  *  *     *",  # several spaces
    "* * * * *",  # shorter than GitHub's 5-minute minimum: advisory only
    "59 23 31 12 6",
]

INVALID = [
    ("0 0 * *", "5 fields"),
    ("0 0 * * * *", "no seconds or years"),  # croniter reads this as seconds
    ("0 0 * * * * *", "5 fields"),
    ("@hourly", "does not support"),
    ("@daily", "does not support"),
    ("@reboot", "does not support"),
    ("", "5 fields"),
    ("0 -1 * * *", "range"),
    ("0 1- * * *", "range"),
    ("0 /1 * * *", "step"),
    ("0 1/ * * *", "step"),
    ("0 ,1 * * *", "empty item"),
    ("0 1, * * *", "empty item"),
    ("0 5--5 * * *", "range"),
    ("0 *//5 * * *", "step"),
    ("0 */* * * *", "step"),
    ("0 5/* * * *", "step"),
    ("0 *-4 * * *", "not a number"),
    ("0 ** * * *", "not a number"),
    ("0 0 * * BUN", "unknown name"),
    ("0 0 * SUN JAN", "unknown name"),
    ("MON 0 * * *", "not a number"),
    ("0 0 * * FRI-TUE", "ends before it starts"),
    ("0 12-4 * * *", "ends before it starts"),
    ("0 */0 * * *", "step"),
    ("0 2/4-5 * * *", "step"),
    ("0 2/4/6 * * *", "step"),
    ("0 * * */FEB */TUE", "step"),
    ("60 * * * *", "outside 0-59"),
    ("0 24 * * *", "outside 0-23"),
    ("0 0 0 * *", "outside 1-31"),
    ("0 0 32 * *", "outside 1-31"),
    ("0 0 * 13 *", "outside 1-12"),
    ("0 0 * * 7", "use 0 for Sunday"),  # croniter accepts 7
    ("*/60 * * * *", "outside 0-59"),
    ("0 0 L * *", "not a number"),  # croniter accepts L
    ("0 0 ? * *", "not a number"),
    ("0 0 * * 5#2", "not a number"),  # croniter accepts #
    ("0 0 * * MON-FRI/0", "step"),
]


@pytest.mark.parametrize("expr", VALID)
def test_valid(expr: str) -> None:
    assert cron_problem(expr) is None
    parse_cron(expr)


@pytest.mark.parametrize(("expr", "fragment"), INVALID)
def test_invalid(expr: str, fragment: str) -> None:
    problem = cron_problem(expr)
    assert problem is not None and fragment in problem, problem
    with pytest.raises(AmoskysError, match="invalid cron"):
        cron_matches(expr, datetime(2024, 1, 1))


@pytest.mark.parametrize("expr", ["0 0 * * * *", "@hourly", "0 0 * * 7", "0 0 L * *"])
def test_rejects_what_croniter_accepts(expr: str) -> None:
    assert croniter.is_valid(expr)
    assert cron_problem(expr) is not None


def test_seed_schedule_fires_on_monday_six_utc() -> None:
    monday = datetime(2024, 1, 1, 6, 0)  # 1 January 2024 was a Monday
    assert cron_matches("0 6 * * 1", monday)
    assert cron_matches("0 6 * * 1", monday.replace(second=59))  # the whole minute
    assert not cron_matches("0 6 * * 1", monday.replace(minute=1))
    assert not cron_matches("0 6 * * 1", monday + timedelta(days=1))
    assert cron_matches("0 6 * * MON", monday)


def test_aware_datetimes_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert cron_matches("0 6 * * 1", datetime(2024, 1, 1, 7, 0, tzinfo=paris))
    assert not cron_matches("0 6 * * 1", datetime(2024, 1, 1, 6, 0, tzinfo=paris))


def test_steps_ranges_and_lists() -> None:
    at = datetime(2024, 3, 5, 0, 0)  # a Tuesday
    assert [m for m in range(60) if cron_matches("20/15 * * * *", at.replace(minute=m))] == [
        20,
        35,
        50,
    ]
    hours = [h for h in range(24) if cron_matches("0 2-10/4,23 * * *", at.replace(hour=h))]
    assert hours == [2, 6, 10, 23]
    assert cron_matches("0 0 * MAR TUE", at)
    assert not cron_matches("0 0 * FEB TUE", at)


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    expr = "0 0 13 * FRI"  # POSIX: the 13th, or any Friday
    assert cron_matches(expr, datetime(2024, 3, 13))  # a Wednesday
    assert cron_matches(expr, datetime(2024, 3, 15))  # a Friday
    assert not cron_matches(expr, datetime(2024, 3, 14))
    # With one day field '*', only the other one counts.
    assert not cron_matches("0 0 * * FRI", datetime(2024, 3, 13))
    assert not cron_matches("0 0 13 * *", datetime(2024, 3, 15))


def test_next_fire_seed() -> None:
    assert next_fire("0 6 * * 1", datetime(2024, 1, 1, 5, 59)) == datetime(2024, 1, 1, 6, 0)
    # Strictly after: from the firing minute itself, the next one is a week later.
    assert next_fire("0 6 * * 1", datetime(2024, 1, 1, 6, 0)) == datetime(2024, 1, 8, 6, 0)
    assert next_fire("0 6 * * 1", datetime(2024, 1, 1, 6, 0, 30)) == datetime(2024, 1, 8, 6, 0)


def test_next_fire_keeps_awareness() -> None:
    after = datetime(2024, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=-5)))  # 10:00 UTC
    fired = next_fire("*/15 * * * *", after)
    assert fired == datetime(2024, 1, 1, 10, 15, tzinfo=timezone.utc)
    assert fired.tzinfo is timezone.utc


def test_next_fire_leap_day_and_year_end() -> None:
    assert next_fire("0 0 29 2 *", datetime(2097, 1, 1)) == datetime(2104, 2, 29)
    assert next_fire("59 23 31 12 *", datetime(2024, 12, 31, 23, 59)) == datetime(
        2025, 12, 31, 23, 59
    )


def test_next_fire_for_a_date_that_never_exists() -> None:
    assert cron_problem("0 0 31 2 *") is None  # each field is in range
    with pytest.raises(AmoskysError, match="never fires"):
        next_fire("0 0 31 2 *", datetime(2024, 1, 1))


@pytest.mark.parametrize(
    "expr", ["0 6 * * 1", "*/7 3-9 * * *", "30 5,17 * * *", "0 0 1 */2 *", "5 4 * * SUN-2"]
)
def test_next_fire_agrees_with_croniter(expr: str) -> None:
    start = datetime(2024, 2, 27, 13, 37)
    itr = croniter(expr, start)
    ours = start
    for _ in range(20):
        ours = next_fire(expr, ours)
        assert ours == itr.get_next(datetime)
        assert cron_matches(expr, ours)
