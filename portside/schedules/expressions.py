"""EventBridge Scheduler's schedule expressions: parse them, find their occurrences.

    at(yyyy-mm-ddThh:mm:ss)          once, at that wall-clock time in the schedule's zone
    rate(value unit)                 every value minute(s) | hour(s) | day(s), from an anchor
    cron(min hour dom month dow year)

Cron follows EventBridge's table: minutes 0-59 and hours 0-23 (`, - * /`), day-of-month 1-31
(`, - * ? / L W`), month 1-12 or JAN-DEC (`, - * /`), day-of-week 1-7 or SUN-SAT, 1 is Sunday
(`, - * ? L #`), year 1970-2199 (`, - * /`). Exactly one of day-of-month and day-of-week is
`?`. Names are case-insensitive; a range may wrap (FRI-MON, 22-2), as in Quartz.

Time zones, as the Scheduler documents them: cron times are wall-clock times in the zone; a
time that does not exist (the hour skipped in spring) is skipped, a time that happens twice
(the hour repeated in autumn) runs once, at its first occurrence. A rate is a fixed duration
("days represents a 24-hour duration"), so it ignores the zone.

Every fault is ValidationException "Invalid Schedule Expression <expression>." (AWS's text,
recorded by localstack's snapshot tests against AWS). AWS accepts `rate(2 minute)` and
`rate(1 minutes)`: the unit's number is not checked.

Times are epoch seconds (int). Nothing here reads a clock.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portside.errors import ValidationException

YEARS = (1970, 2199)
# A longer rate could never fire twice before the last year cron knows (ours; AWS's bound is
# not documented), and its times would not fit the store's 64-bit integers.
MAX_RATE = 230 * 366 * 86400
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    name: n
    for n, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {name: n for n, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


class _Bad(Exception):
    """Inside the parser: the expression is not valid (the caller words the error)."""


@dataclass(frozen=True, slots=True)
class At:
    wall: datetime  # naive: a wall-clock time in the schedule's zone


@dataclass(frozen=True, slots=True)
class Rate:
    seconds: int


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    """Which days of a month: `days` (a set), or `last` (L), or the weekday nearest to
    `nearest` (nW), or the last weekday (LW). `any` for `*` and `?`."""

    any: bool = False
    days: frozenset[int] = frozenset()
    last: bool = False
    nearest: int | None = None
    last_weekday: bool = False

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        if self.last:
            return day.day == length
        if self.last_weekday:
            return day.day == _nearest_weekday(day.year, day.month, length, length)
        if self.nearest is not None:
            if self.nearest > length:
                return False
            return day.day == _nearest_weekday(day.year, day.month, self.nearest, length)
        return day.day in self.days


@dataclass(frozen=True, slots=True)
class DayOfWeek:
    """Which days of the week (1 = Sunday): `days`, or the `last` given weekday of the month
    (5L), or the `nth` given weekday (6#3). `any` for `*` and `?`."""

    any: bool = False
    days: frozenset[int] = frozenset()
    last: int | None = None
    nth: tuple[int, int] | None = None  # (weekday, n)

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        weekday = day.isoweekday() % 7 + 1  # Monday=1 -> 2, Sunday=7 -> 1
        if self.last is not None:
            length = calendar.monthrange(day.year, day.month)[1]
            return weekday == self.last and day.day + 7 > length
        if self.nth is not None:
            wanted, n = self.nth
            return weekday == wanted and (day.day - 1) // 7 + 1 == n
        return weekday in self.days


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonth
    months: frozenset[int]
    day_of_week: DayOfWeek
    years: frozenset[int]

    def matches(self, day: date) -> bool:
        return (
            day.year in self.years
            and day.month in self.months
            and self.day_of_month.matches(day)
            and self.day_of_week.matches(day)
        )


Expression = At | Rate | Cron


def invalid(expression: str) -> ValidationException:
    return ValidationException(f"Invalid Schedule Expression {expression}.")


def zone(name: str) -> ZoneInfo:
    """The zone a ScheduleExpressionTimezone names (an IANA name), or ValidationException."""
    try:
        if name.strip() != name or not name or name.startswith(("/", ".")):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Wording ours: no sample of AWS's message was found.
        raise ValidationException(f"Invalid time zone {name}.") from None


def parse(expression: str) -> Expression:
    """The parsed expression, or ValidationException with AWS's message."""
    try:
        if m := _RATE.fullmatch(expression):
            seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]
            if not 0 < seconds <= MAX_RATE:
                raise _Bad
            return Rate(seconds)
        if m := _AT.fullmatch(expression):
            year, month, day, hour, minute, second = (int(g) for g in m.groups())
            if not YEARS[0] <= year <= YEARS[1]:
                raise _Bad
            return At(datetime(year, month, day, hour, minute, second))
        if m := _CRON.fullmatch(expression):
            return _cron(m.group(1))
    except (_Bad, ValueError):
        pass
    raise invalid(expression)


# -- cron parsing ----------------------------------------------------------------------------


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    if not text.isdigit() or not text.isascii():
        raise _Bad
    value = int(text)
    if not low <= value <= high:
        raise _Bad
    return value


def _values(
    text: str, low: int, high: int, names: dict[str, int] | None = None, steps: bool = True
) -> frozenset[int]:
    """A field of values, ranges, steps and `*`, comma-separated."""
    found: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        if slash and not steps:
            raise _Bad
        step = _number(step_text, 1, high - low + 1) if slash else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
        else:
            start = _number(base, low, high, names)
            end = high if slash else start
        span = end - start if end >= start else end - start + (high - low + 1)
        found.update(low + (start - low + k) % (high - low + 1) for k in range(0, span + 1, step))
    return frozenset(found)


def _day_of_month(text: str) -> DayOfMonth:
    if text in ("*", "?"):
        return DayOfMonth(any=True)
    upper = text.upper()
    if upper == "L":
        return DayOfMonth(last=True)
    if upper == "LW":
        return DayOfMonth(last_weekday=True)
    if upper.endswith("W"):
        return DayOfMonth(nearest=_number(upper[:-1], 1, 31))
    return DayOfMonth(days=_values(text, 1, 31))


def _day_of_week(text: str) -> DayOfWeek:
    if text in ("*", "?"):
        return DayOfWeek(any=True)
    upper = text.upper()
    if upper == "L":
        return DayOfWeek(days=frozenset({7}))  # Quartz: L alone is the week's last day
    if upper.endswith("L"):
        return DayOfWeek(last=_number(upper[:-1], 1, 7, _DAYS))
    if "#" in upper:
        day, _, n = upper.partition("#")
        return DayOfWeek(nth=(_number(day, 1, 7, _DAYS), _number(n, 1, 5)))
    return DayOfWeek(days=_values(text, 1, 7, _DAYS, steps=False))


def _cron(inner: str) -> Cron:
    fields = inner.split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise _Bad
    minute, hour, dom, month, dow, year = fields
    # One of the two day fields must be `?`, the other must not be (EventBridge's rule).
    if (dom == "?") == (dow == "?"):
        raise _Bad
    for field_text in (minute, hour, month, year):
        if "?" in field_text:
            raise _Bad
    return Cron(
        minutes=tuple(sorted(_values(minute, 0, 59))),
        hours=tuple(sorted(_values(hour, 0, 23))),
        day_of_month=_day_of_month(dom),
        months=_values(month, 1, 12, _MONTHS),
        day_of_week=_day_of_week(dow),
        years=_values(year, *YEARS),
    )


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """The weekday (Mon-Fri) nearest to `day`, never leaving the month (Quartz's W)."""
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, or Monday after when the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before when the month's last day
        return day + 1 if day < length else day - 2
    return day


# -- occurrences -----------------------------------------------------------------------------


def to_epoch(wall: datetime, tz: ZoneInfo) -> int | None:
    """Epoch seconds of a wall-clock time in `tz`: its first occurrence when the time happens
    twice, None when it does not exist (skipped by a DST change)."""
    aware = wall.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != wall:
        return None
    return int(aware.timestamp())


def next_at_or_after(expr: Expression, tz: ZoneInfo, not_before: int, anchor: int) -> int | None:
    """The first occurrence at or after `not_before` (epoch seconds); None when there is
    none. A rate counts from `anchor` (its StartDate, else when the schedule was made)."""
    if isinstance(expr, Rate):
        if not_before <= anchor:
            return anchor
        periods = -((anchor - not_before) // expr.seconds)  # ceiling division
        return anchor + periods * expr.seconds
    if isinstance(expr, At):
        when = to_epoch(expr.wall, tz)
        if when is None:  # a skipped wall time: the first instant after the gap
            when = int((expr.wall.replace(tzinfo=tz).astimezone(UTC)).timestamp())
        return when if when >= not_before else None
    return _next_cron(expr, tz, not_before)


def _days_from(start: date, cron: Cron) -> Iterator[date]:
    """Dates from `start` on that can match the year and month fields, in order."""
    day = start
    while day.year <= YEARS[1]:
        if day.year not in cron.years:
            day = date(day.year + 1, 1, 1)
            continue
        if day.month not in cron.months:
            day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
            continue
        yield day
        day += timedelta(days=1)


def _next_cron(cron: Cron, tz: ZoneInfo, not_before: int) -> int | None:
    local = datetime.fromtimestamp(not_before, tz).replace(tzinfo=None)
    # Wall-clock times more than 2 h before `not_before`'s own are earlier whatever the DST
    # change between them (no zone shifts by more): skip them.
    earliest = local - timedelta(hours=2)
    for day in _days_from(max(earliest.date(), date(YEARS[0], 1, 1)), cron):
        if not (cron.day_of_month.matches(day) and cron.day_of_week.matches(day)):
            continue
        first_hour = earliest.hour if day == earliest.date() else 0
        for hour in cron.hours:
            if hour < first_hour:
                continue
            for minute in cron.minutes:
                when = to_epoch(datetime(day.year, day.month, day.day, hour, minute), tz)
                if when is not None and when >= not_before:
                    return when
    return None


def occurrences(
    expr: Expression, tz: ZoneInfo, not_before: int, anchor: int, until: int
) -> Iterator[int]:
    """Every occurrence from `not_before` to `until`, both included, in order."""
    when = next_at_or_after(expr, tz, not_before, anchor)
    while when is not None and when <= until:
        yield when
        if isinstance(expr, At):
            return
        when = next_at_or_after(expr, tz, when + 1, anchor)
