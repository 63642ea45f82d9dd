"""``on.schedule`` cron strings, read the way GitHub reads them.

GitHub documents POSIX cron with five space-separated fields, all in UTC::

    minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12 or JAN-DEC)
    day-of-week (0-6 or SUN-SAT)

Accepted in a field: ``*``, a number, a name (month and day-of-week fields only,
case-insensitive), a range ``a-b`` (``a <= b``), a step ``x/n`` where ``x`` is ``*``, a number
(meaning ``x-max``) or a range and ``n`` is a number from 1 up to the field's maximum, and
comma-separated lists of those. Leading zeros are fine.

Rejected, although other cron dialects (and ``croniter``) accept them: fewer or more than five
fields (no seconds or years), the ``@yearly``/``@monthly``/``@weekly``/``@daily``/``@hourly``/
``@reboot`` macros (GitHub's documentation says it does not support them), ``7`` for Sunday
(the documented range is 0-6), and ``?``, ``L``, ``W``, ``#``, ``H``.

GitHub runs schedules at most every 5 minutes; a shorter interval is not an error here.

Day matching follows POSIX: when both the day-of-month and the day-of-week field are written
as something other than a bare ``*``, a day matches if either matches; otherwise both must.
Naive datetimes are taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache

from amoskys.errors import AmoskysError

__all__ = ["CronSchedule", "cron_matches", "cron_problem", "next_fire", "parse_cron"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    _Field("day of week", 0, 6, {name: i for i, name in enumerate(_DAYS)}),
)

#: How far ahead :func:`next_fire` looks: 29 February recurs within 8 years (2096 → 2104).
_SEARCH_DAYS = 366 * 9


class _CronError(ValueError):
    pass


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression: the allowed values of each field."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday
    day_or: bool  # both day fields restricted: either may match

    def day_matches(self, when: datetime) -> bool:
        """Whether the date of ``when`` is one the schedule can fire on."""
        if when.month not in self.months:
            return False
        dom = when.day in self.days_of_month
        dow = (when.isoweekday() % 7) in self.days_of_week
        return (dom or dow) if self.day_or else (dom and dow)

    def matches(self, when: datetime) -> bool:
        """Whether the schedule fires in the minute ``when`` falls in (UTC)."""
        when = _utc(when)
        return when.minute in self.minutes and when.hour in self.hours and self.day_matches(when)


def _number(text: str, field: _Field, *, allow_name: bool = True) -> int:
    if allow_name and text.lower() in field.names:
        return field.names[text.lower()]
    if not text.isdigit() or not text.isascii():
        if field.names and text.isalpha():
            choices = ", ".join(name.upper() for name in field.names)
            raise _CronError(f"{field.name}: unknown name {text!r} (expected one of {choices})")
        raise _CronError(f"{field.name}: {text!r} is not a number")
    value = int(text)
    if not field.low <= value <= field.high:
        hint = " (use 0 for Sunday)" if field.name == "day of week" and value == 7 else ""
        raise _CronError(f"{field.name}: {value} is outside {field.low}-{field.high}{hint}")
    return value


def _range(text: str, field: _Field) -> tuple[int, int]:
    """``*``, a value, or ``a-b`` → (first, last)."""
    if text == "*":
        return field.low, field.high
    if "-" in text:
        start, _, end = text.partition("-")
        if not start or not end or "-" in end:
            raise _CronError(f"{field.name}: {text!r} is not a range like 1-5")
        first, last = _number(start, field), _number(end, field)
        if last < first:
            raise _CronError(f"{field.name}: range {text!r} ends before it starts")
        return first, last
    value = _number(text, field)
    return value, value


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if item == "":
            raise _CronError(f"{field.name}: empty item in list {text!r}")
        base, slash, step_text = item.partition("/")
        if slash:
            if not base or not step_text or "/" in step_text:
                raise _CronError(f"{field.name}: {item!r} is not a step like */5 or 1-30/5")
            step = _number(step_text, field, allow_name=False) if step_text.isdigit() else -1
            if step <= 0:
                raise _CronError(
                    f"{field.name}: step in {item!r} must be a number from 1 to {field.high}"
                )
            first, last = _range(base, field)
            if base != "*" and "-" not in base:
                last = field.high  # 'n/step' means 'n-max/step'
            values.update(range(first, last + 1, step))
        else:
            first, last = _range(base, field)
            values.update(range(first, last + 1))
    return frozenset(values)


def _parse(expr: str) -> CronSchedule:
    text = expr.strip()
    if text.startswith("@"):
        raise _CronError(
            f"GitHub does not support macros such as {text.split()[0]!r}; "
            "write the five fields instead (e.g. '0 0 * * *' for daily)"
        )
    parts = text.split()
    if len(parts) != 5:
        raise _CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
            + ("; GitHub has no seconds or years field" if len(parts) > 5 else "")
        )
    sets = [_parse_field(part, field) for part, field in zip(parts, _FIELDS)]
    return CronSchedule(
        expression=expr,
        minutes=sets[0],
        hours=sets[1],
        days_of_month=sets[2],
        months=sets[3],
        days_of_week=sets[4],
        day_or=parts[2] != "*" and parts[4] != "*",
    )


@lru_cache(maxsize=256)
def parse_cron(expr: str) -> CronSchedule:
    """Parse a cron expression; :class:`AmoskysError` if GitHub would not accept it."""
    try:
        return _parse(expr)
    except _CronError as exc:
        raise AmoskysError(
            f"invalid cron {expr!r}: {exc}",
            hint="GitHub reads five fields: minute hour day-of-month month day-of-week (UTC)",
        ) from None


def cron_problem(expr: str) -> str | None:
    """What is wrong with a ``schedule`` cron string, or None when GitHub accepts it."""
    try:
        _parse(expr)
    except _CronError as exc:
        return str(exc)
    return None


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when
    return when.astimezone(timezone.utc).replace(tzinfo=None)


def cron_matches(expr: str, when: datetime) -> bool:
    """Whether ``expr`` fires in the minute ``when`` falls in (UTC; naive means UTC)."""
    return parse_cron(expr).matches(when)


def next_fire(expr: str, after: datetime) -> datetime:
    """The first minute strictly after ``after`` at which ``expr`` fires.

    The result is naive UTC for a naive ``after`` and aware UTC for an aware one. Raises
    :class:`AmoskysError` for a schedule that never fires (such as ``0 0 31 2 *``).
    """
    schedule = parse_cron(expr)
    start = _utc(after).replace(second=0, microsecond=0) + timedelta(minutes=1)
    hours = sorted(schedule.hours)
    minutes = sorted(schedule.minutes)
    day = datetime.combine(start.date(), time())
    for _ in range(_SEARCH_DAYS):
        if schedule.day_matches(day):
            for hour in hours:
                for minute in minutes:
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        if after.tzinfo is not None:
                            return candidate.replace(tzinfo=timezone.utc)
                        return candidate
        day += timedelta(days=1)
    raise AmoskysError(f"cron {expr!r} never fires", hint="check the day and month fields")
