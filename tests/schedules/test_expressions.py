"""Schedule expressions: parsing (AWS's faults and messages) and occurrences, in UTC and in
zones with DST changes. Pure: no server, no clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portside.errors import ValidationException
from portside.schedules.expressions import Expression, next_at_or_after, occurrences, parse, zone


def ts(text: str, tz: str = "UTC") -> int:
    """Epoch seconds of a wall-clock time in a zone."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone(tz)).timestamp())


def wall(epoch: int | None, tz: str = "UTC") -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, zone(tz)).strftime("%Y-%m-%dT%H:%M:%S%z")


def upcoming(expression: str, start: str, n: int, tz: str = "UTC", anchor: str = "") -> list[str]:
    """The next n occurrences at or after `start`, as wall-clock times with their offset."""
    expr: Expression = parse(expression)
    t = ts(start, tz)
    base = ts(anchor, tz) if anchor else t
    found = []
    for _ in range(n):
        nxt = next_at_or_after(expr, zone(tz), t, base)
        if nxt is None:
            break
        found.append(wall(nxt, tz) or "")
        t = nxt + 1
    return found


# -- invalid expressions: ValidationException with AWS's message ---------------------------

# Each of these was recorded against AWS (localstack's snapshot tests): the same message.
AWS_INVALID = [
    "cron(0 1 * * * *)",
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    "cron()",
    "rate(10 seconds)",
    "rate(10 years)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(-10 minutes)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "at(2021-12-31T23:59:59Z)",
    "at(2021-12-31)",
]
MORE_INVALID = [
    "cron(0 12 ? * ? *)",  # both day fields `?`
    "cron(0 12 1 * MON *)",  # both day fields given
    "cron(0 24 * * ? *)",
    "cron(0 12 32 * ? *)",
    "cron(0 12 ? 13 * *)",
    "cron(0 12 ? * 8 *)",
    "cron(0 12 ? * 2/2 *)",  # no `/` in day-of-week
    "cron(0 12 ? * 2#6 *)",
    "cron(0 12 * * ? 2200)",
    "cron(0 12 * * ? 1969)",
    "cron(0 12 * * ?)",  # five fields
    "cron(0 12 * * ? * *)",
    "cron(0 12 L,5 * ? *)",
    "cron(0 12 * * ? *",
    "rate(0 minutes)",
    "rate(99999999999999 days)",
    "rate(5 Minutes)",
    "at(2026-02-30T10:00:00)",
    "at(2026-01-01T24:00:00)",
    "every(5 minutes)",
    "",
]


@pytest.mark.parametrize("expression", AWS_INVALID + MORE_INVALID)
def test_invalid_expressions_are_validation_exceptions(expression: str) -> None:
    with pytest.raises(ValidationException) as err:
        parse(expression)
    assert err.value.message == f"Invalid Schedule Expression {expression}."


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(2 minute)",  # AWS accepts the unit's number either way (recorded)
        "rate(1 minutes)",
        "rate(12 hours)",
        "rate(3 days)",
        "at(2030-06-01T08:30:00)",
        "cron(0 12 * * ? *)",
        "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",  # accepted by AWS (localstack#13572)
        "cron(30-30 13-13 ? * 2,4,6 *)",
        "cron(1-31/30 1-1 ? * 1,7 *)",
        "cron(00 9 ? * mon-fri *)",
        "cron(0/15 * ? * MON-FRI 2026-2030)",
        "cron(0 10 L * ? *)",
        "cron(0 10 LW * ? *)",
        "cron(0 10 15W * ? *)",
        "cron(0 10 ? * 6L *)",
        "cron(0 10 ? * FRI#3 *)",
        "cron(0 22-2 ? * * *)",
    ],
)
def test_valid_expressions_parse(expression: str) -> None:
    parse(expression)


def test_unknown_time_zone_is_a_validation_exception() -> None:
    with pytest.raises(ValidationException):
        zone("Mars/Olympus_Mons")
    assert zone("Europe/Paris").key == "Europe/Paris"


# -- cron occurrences --------------------------------------------------------------------


def test_ranges_lists_and_steps() -> None:
    assert upcoming("cron(0/20 8-9,17 * * ? *)", "2026-05-04T08:05:00", 5) == [
        "2026-05-04T08:20:00+0000",
        "2026-05-04T08:40:00+0000",
        "2026-05-04T09:00:00+0000",
        "2026-05-04T09:20:00+0000",
        "2026-05-04T09:40:00+0000",
    ]
    assert upcoming("cron(0/20 8-9,17 * * ? *)", "2026-05-04T09:41:00", 2) == [
        "2026-05-04T17:00:00+0000",
        "2026-05-04T17:20:00+0000",
    ]


def test_at_or_after_includes_the_instant_itself() -> None:
    assert upcoming("cron(30 6 * * ? *)", "2026-05-04T06:30:00", 1) == ["2026-05-04T06:30:00+0000"]


def test_weekdays_by_name_and_wrapping_ranges() -> None:
    # 2026-05-08 is a Friday: FRI-MON wraps over the weekend.
    got = upcoming("cron(0 9 ? * FRI-MON *)", "2026-05-06T00:00:00", 5)
    assert [g[:10] for g in got] == [
        "2026-05-08",
        "2026-05-09",
        "2026-05-10",
        "2026-05-11",
        "2026-05-15",
    ]
    # Hours 22-2 wrap over midnight.
    got = upcoming("cron(0 22-2 * * ? *)", "2026-05-06T12:00:00", 6)
    assert [g[11:13] for g in got] == ["22", "23", "00", "01", "02", "22"]


def test_day_of_week_one_is_sunday() -> None:
    # 2026-05-10 is a Sunday.
    assert upcoming("cron(0 9 ? * 1 *)", "2026-05-06T00:00:00", 1) == ["2026-05-10T09:00:00+0000"]


def test_last_day_of_month_l() -> None:
    got = upcoming("cron(0 12 L * ? *)", "2026-01-15T00:00:00", 3)
    assert got == [
        "2026-01-31T12:00:00+0000",
        "2026-02-28T12:00:00+0000",
        "2026-03-31T12:00:00+0000",
    ]
    # 2028 is a leap year.
    assert upcoming("cron(0 12 L 2 ? 2028)", "2026-01-01T00:00:00", 1) == [
        "2028-02-29T12:00:00+0000"
    ]


def test_nearest_weekday_w_stays_in_the_month() -> None:
    # 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday July 31.
    assert upcoming("cron(0 12 1W * ? *)", "2026-07-05T00:00:00", 1) == ["2026-08-03T12:00:00+0000"]
    # 2026-05-31 is a Sunday: 31W is Friday the 29th.
    assert upcoming("cron(0 12 31W 5 ? *)", "2026-05-01T00:00:00", 1) == [
        "2026-05-29T12:00:00+0000"
    ]
    # 2026-03-15 is a Sunday: 15W is Monday the 16th.
    assert upcoming("cron(0 12 15W 3 ? *)", "2026-03-01T00:00:00", 1) == [
        "2026-03-16T12:00:00+0000"
    ]
    # LW: the last weekday; 2026-05-31 is a Sunday.
    assert upcoming("cron(0 12 LW 5 ? *)", "2026-05-01T00:00:00", 1) == ["2026-05-29T12:00:00+0000"]


def test_nth_weekday_hash_and_last_weekday_l() -> None:
    # The third Friday (6#3) of each month; 2026-05-15 and 2026-06-19.
    assert upcoming("cron(0 10 ? * 6#3 *)", "2026-05-01T00:00:00", 2) == [
        "2026-05-15T10:00:00+0000",
        "2026-06-19T10:00:00+0000",
    ]
    # The last Monday (2L, MONL): 2026-05-25.
    assert upcoming("cron(0 10 ? * 2L *)", "2026-05-01T00:00:00", 1) == ["2026-05-25T10:00:00+0000"]
    # A fifth Monday that a month does not have is skipped: July 2026 has four.
    assert upcoming("cron(0 10 ? 7,8 MON#5 *)", "2026-07-01T00:00:00", 1) == [
        "2026-08-31T10:00:00+0000"
    ]


def test_day_of_month_or_day_of_week_whichever_is_given() -> None:
    # Day-of-month given: every 13th, whatever the weekday.
    assert upcoming("cron(0 0 13 * ? *)", "2026-01-01T00:00:00", 2) == [
        "2026-01-13T00:00:00+0000",
        "2026-02-13T00:00:00+0000",
    ]
    # Day-of-week given: Fridays, whatever the date.
    got = upcoming("cron(0 0 ? * FRI *)", "2026-02-01T00:00:00", 2)
    assert got == ["2026-02-06T00:00:00+0000", "2026-02-13T00:00:00+0000"]


def test_the_year_field() -> None:
    assert upcoming("cron(0 0 1 1 ? 2028,2030)", "2026-06-01T00:00:00", 3) == [
        "2028-01-01T00:00:00+0000",
        "2030-01-01T00:00:00+0000",
    ]
    # No occurrence left: none, not an error.
    assert upcoming("cron(0 0 1 1 ? 2020)", "2026-06-01T00:00:00", 1) == []
    assert upcoming("cron(0 0 30 2 ? *)", "2026-06-01T00:00:00", 1) == []


# -- time zones and DST --------------------------------------------------------------------


def test_cron_in_a_zone_is_wall_clock_time() -> None:
    got = upcoming("cron(0 9 * * ? *)", "2026-01-10T00:00:00", 1, tz="Europe/Paris")
    assert got == ["2026-01-10T09:00:00+0100"]
    got = upcoming("cron(0 9 * * ? *)", "2026-07-10T00:00:00", 1, tz="Europe/Paris")
    assert got == ["2026-07-10T09:00:00+0200"]


def test_spring_forward_skips_the_missing_time() -> None:
    # Europe/Paris jumps from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day.
    got = upcoming("cron(30 2 * * ? *)", "2026-03-28T00:00:00", 3, tz="Europe/Paris")
    assert got == [
        "2026-03-28T02:30:00+0100",
        "2026-03-30T02:30:00+0200",
        "2026-03-31T02:30:00+0200",
    ]


def test_fall_back_runs_a_repeated_time_once() -> None:
    # New York repeats 01:00-01:59 on 2026-11-01: every minute of hour 1 runs once only.
    got = upcoming("cron(58/1 1 * * ? *)", "2026-11-01T00:00:00", 3, tz="America/New_York")
    assert got == [
        "2026-11-01T01:58:00-0400",
        "2026-11-01T01:59:00-0400",
        "2026-11-02T01:58:00-0500",
    ]


def test_utc_cron_ignores_dst() -> None:
    got = upcoming("cron(30 2 * * ? *)", "2026-03-28T00:00:00", 3)
    assert [g[:10] for g in got] == ["2026-03-28", "2026-03-29", "2026-03-30"]


def test_rate_counts_fixed_durations_from_its_anchor() -> None:
    # A day is 24 hours, DST or not: across Paris' spring change the wall time moves.
    got = upcoming(
        "rate(1 day)", "2026-03-28T09:00:00", 3, tz="Europe/Paris", anchor="2026-03-28T09:00:00"
    )
    assert got == [
        "2026-03-28T09:00:00+0100",
        "2026-03-29T10:00:00+0200",
        "2026-03-30T10:00:00+0200",
    ]
    # From an anchor in the past: the next multiple.
    expr = parse("rate(5 minutes)")
    anchor = ts("2026-05-04T10:00:00")
    assert wall(next_at_or_after(expr, zone("UTC"), ts("2026-05-04T10:07:00"), anchor)) == (
        "2026-05-04T10:10:00+0000"
    )
    assert wall(next_at_or_after(expr, zone("UTC"), ts("2026-05-04T10:10:00"), anchor)) == (
        "2026-05-04T10:10:00+0000"
    )


def test_at_is_once_in_its_zone() -> None:
    expr = parse("at(2026-07-14T22:00:00)")
    tz = zone("Europe/Paris")
    when = next_at_or_after(expr, tz, ts("2026-07-01T00:00:00"), 0)
    assert wall(when, "UTC") == "2026-07-14T20:00:00+0000"
    assert when is not None
    assert next_at_or_after(expr, tz, when + 1, 0) is None
    assert list(occurrences(expr, tz, 0, 0, 2**40)) == [when]


def test_occurrences_between_two_times() -> None:
    expr = parse("cron(0 * * * ? *)")
    start = ts("2026-05-04T10:00:00")
    got = list(occurrences(expr, zone("UTC"), start, start, start + 3 * 3600))
    assert got == [start, start + 3600, start + 7200, start + 10800]


def test_epoch_is_utc_whatever_the_machine_zone() -> None:
    assert ts("2026-01-01T00:00:00") == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
