"""Metric math (`cloudwatch/expressions.py`): arithmetic, the reducers, FILL and METRICS()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.cloudwatch.expressions import Context, ExpressionError, Series, evaluate, parse

GRID = [0, 60, 120, 180]
M1 = Series("CPU", {0: 10.0, 60: 20.0, 180: 40.0})
M2 = Series("Memory", {0: 1.0, 60: 2.0, 120: 3.0})


def run(text: str) -> object:
    ctx = Context({"m1": M1, "m2": M2, "k": Series("k", {0: 0.0})}, ["m1", "m2"], GRID)
    return evaluate(parse(text), ctx)


def points(value: object) -> dict[int, float]:
    assert isinstance(value, Series)
    return value.points


def test_arithmetic_on_series_and_scalars() -> None:
    assert points(run("m1 + m2")) == {0: 11.0, 60: 22.0}  # timestamps both have
    assert points(run("m1 * 2 + 1")) == {0: 21.0, 60: 41.0, 180: 81.0}
    assert points(run("(m1 - m2) / m2")) == {0: 9.0, 60: 9.0}
    assert points(run("-m1 ^ 2"))[60] == -400.0
    assert points(run("m1 / k")) == {}  # division by zero: no datapoint


def test_reducers_over_arrays_and_series() -> None:
    assert points(run("SUM([m1, m2])")) == {0: 11.0, 60: 22.0, 120: 3.0, 180: 40.0}
    assert points(run("AVG(METRICS())"))[0] == 5.5
    assert points(run("MAX(METRICS())"))[120] == 3.0
    assert run("MIN(m1)") == 10.0  # one series: a scalar
    assert run("AVG(m1)") == pytest.approx(70.0 / 3)


def test_metrics_filter() -> None:
    found = run("METRICS('2')")
    assert isinstance(found, list) and [s.label for s in found] == ["Memory"]


def test_fill() -> None:
    assert points(run("FILL(m1, 0)")) == {0: 10.0, 60: 20.0, 120: 0.0, 180: 40.0}
    assert points(run("FILL(m1, REPEAT)"))[120] == 20.0
    assert points(run("FILL(m1, LINEAR)"))[120] == 30.0
    assert points(run("FILL(m2, LINEAR)"))[180] == 3.0  # past the end: the last value


@pytest.mark.parametrize("text", ["m1 +", "FOO(m1)", "m1 m2", "(m1", "m9", "m1 $ 2"])
def test_bad_expressions(text: str) -> None:
    with pytest.raises(ExpressionError):
        run(text)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_scalar_arithmetic_matches_python(a: float, b: float) -> None:
    ctx = Context({}, [], GRID)
    assert evaluate(parse(f"({a!r}) + ({b!r}) * 2 - -1"), ctx) == pytest.approx(a + b * 2 + 1)
