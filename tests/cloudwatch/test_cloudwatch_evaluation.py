"""Alarm evaluation as a pure function (`cloudwatch/evaluation.py`): M of N, each
TreatMissingData, and CloudWatch's reason text, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.cloudwatch.evaluation import ALARM, INSUFFICIENT, OK, Rule, evaluate, window

NOW = datetime(2026, 12, 7, 10, 21, 30, tzinfo=UTC).timestamp()


def rule(
    m: int = 3, n: int = 3, missing: str = "missing", op: str = "GreaterThanThreshold"
) -> Rule:
    return Rule(op, 50.0, n, m, 60, missing, "Average")


def test_window_is_the_last_whole_periods_newest_first() -> None:
    starts = window(NOW, 60, 3)
    assert [datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in starts] == [
        "10:20",
        "10:19",
        "10:18",
    ]


def test_three_of_three_breaching_is_alarm_with_cloudwatch_words() -> None:
    starts = window(NOW, 60, 3)
    out = evaluate(rule(), starts, [95.0, 90.0, 91.0], OK, NOW)
    assert out is not None and out.state == ALARM
    assert out.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [95.0 (07/12/26 10:20:00), "
        "90.0 (07/12/26 10:19:00), 91.0 (07/12/26 10:18:00)] were greater than the threshold "
        "(50.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )
    assert out.data["recentDatapoints"] == [91.0, 90.0, 95.0]
    assert out.data["threshold"] == 50.0 and out.data["period"] == 60


def test_m_of_n() -> None:
    starts = window(NOW, 60, 5)
    two_of_five = [60.0, 10.0, 70.0, 10.0, 10.0]
    assert evaluate(rule(2, 5), starts, two_of_five, OK, NOW).state == ALARM  # type: ignore[union-attr]
    assert evaluate(rule(3, 5), starts, two_of_five, ALARM, NOW).state == OK  # type: ignore[union-attr]
    out = evaluate(rule(3, 5), starts, two_of_five, ALARM, NOW)
    assert out is not None
    assert out.reason.endswith("(minimum 3 datapoints for ALARM -> OK transition).")
    assert "3 out of the last 5 datapoints" in out.reason and "were not greater than" in out.reason


@pytest.mark.parametrize(
    ("missing", "values", "state", "expected"),
    [
        ("missing", [None, None, None], OK, INSUFFICIENT),
        ("ignore", [None, None, None], ALARM, None),  # keeps its state
        ("breaching", [None, None, None], OK, ALARM),
        ("notBreaching", [None, None, None], ALARM, OK),
        ("missing", [95.0, None, 95.0], OK, OK),  # 2 breaching of 2 present: not 3
        ("breaching", [95.0, None, 95.0], OK, ALARM),
        ("notBreaching", [95.0, None, 95.0], ALARM, OK),
        ("ignore", [10.0, None, None], ALARM, OK),
    ],
)
def test_treat_missing_data(
    missing: str, values: list[float | None], state: str, expected: str | None
) -> None:
    out = evaluate(rule(missing=missing), window(NOW, 60, 3), values, state, NOW)
    assert (out.state if out else None) == expected


def test_insufficient_data_reason() -> None:
    out = evaluate(rule(), window(NOW, 60, 3), [None, None, None], OK, NOW)
    assert out is not None and out.reason == "Insufficient Data: 3 datapoints were unknown."


def test_missing_treated_as_breaching_is_said() -> None:
    out = evaluate(rule(missing="breaching"), window(NOW, 60, 3), [95.0, None, None], OK, NOW)
    assert out is not None
    assert "[95.0 (07/12/26 10:20:00)] and 2 missing datapoints were treated as [Breaching]" in (
        out.reason
    )


@pytest.mark.parametrize(
    ("op", "value", "breaches"),
    [
        ("GreaterThanOrEqualToThreshold", 50.0, True),
        ("GreaterThanThreshold", 50.0, False),
        ("LessThanThreshold", 49.0, True),
        ("LessThanOrEqualToThreshold", 50.0, True),
        ("LessThanThreshold", 50.0, False),
    ],
)
def test_operators(op: str, value: float, breaches: bool) -> None:
    assert rule(op=op).breaches(value) is breaches


values_st = st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=1, max_size=10)


@given(
    values_st,
    st.integers(1, 10),
    st.sampled_from(["missing", "ignore", "breaching", "notBreaching"]),
)
def test_alarm_exactly_when_m_datapoints_breach(
    values: list[float | None], m: int, missing: str
) -> None:
    n = len(values)
    m = min(m, n)
    r = rule(m, n, missing)
    out = evaluate(r, window(NOW, 60, n), values, OK, NOW)
    breaching = sum(1 for v in values if v is not None and v > 50.0)
    if missing == "breaching":
        breaching += values.count(None)
    if out is None:
        assert missing == "ignore" and all(v is None for v in values)
    elif out.state == ALARM:
        assert breaching >= m
    else:
        assert breaching < m
        assert out.state == OK or (out.state == INSUFFICIENT and all(v is None for v in values))
