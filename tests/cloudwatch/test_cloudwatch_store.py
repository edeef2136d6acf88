"""The metric store's aggregates (`store.py`, `values.py`): however datapoints arrive (one
by one, as Values with Counts, in any order and batching), a bucket's count, sum, minimum,
maximum and percentiles are those of all its values."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.cloudwatch import values
from portside.cloudwatch.buckets import from_points
from portside.cloudwatch.datapoints import samples
from portside.cloudwatch.store import MetricStore

T = 1_800_000_000
NOW = T + 120.0

value_st = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3))
datum_st = st.one_of(
    value_st.map(lambda v: {"MetricName": "m", "Value": v, "Timestamp": T}),
    st.lists(st.tuples(value_st, st.integers(1, 3)), min_size=1, max_size=5).map(
        lambda vc: {
            "MetricName": "m",
            "Values": [v for v, _ in vc],
            "Counts": [float(c) for _, c in vc],
            "Timestamp": T + 30,
        }
    ),
)


def expanded(data: list[dict[str, object]]) -> list[float]:
    out: list[float] = []
    for d in data:
        if "Value" in d:
            out.append(float(d["Value"]))  # type: ignore[arg-type]
        else:
            for v, c in zip(d["Values"], d["Counts"], strict=True):  # type: ignore[call-overload]
                out += [float(v)] * int(c)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(datum_st, min_size=1, max_size=30), st.integers(1, 5), st.sampled_from([50, 90, 100])
)
def test_a_bucket_is_the_aggregate_of_its_values(
    data: list[dict[str, object]], batch: int, p: int
) -> None:
    store = MetricStore(":memory:")
    try:
        for i in range(0, len(data), batch):
            store.put("a|r", samples("N", data[i : i + batch], NOW), int(NOW))
        sid = store.find("a|r", "N", "m", ())
        assert sid is not None
        [bucket] = from_points(store.points(sid, (60,), T, T + 60, None), T, 60)
        every = sorted(expanded(data))
        assert bucket.count == len(every)
        assert math.isclose(bucket.total, sum(every), rel_tol=1e-9, abs_tol=1e-6)
        assert (bucket.low, bucket.high) == (every[0], every[-1])
        rank = max(1, math.ceil(p / 100 * len(every)))
        assert bucket.stat(f"p{p}") == every[rank - 1]
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(3))
def test_folded_values_keep_percentiles_within_two_percent(seed: int) -> None:
    draw = random.Random(seed)
    given_values = [draw.lognormvariate(3, 2) for _ in range(5000)]
    pairs = values.of((v, 1.0) for v in given_values)
    assert len(pairs) < 1000  # folded into 2% bins
    exact = sorted(given_values)
    for p in (50.0, 90.0, 99.0):
        found = values.percentile(pairs, p)
        want = exact[max(1, math.ceil(p / 100 * len(exact))) - 1]
        assert found is not None and abs(found - want) <= 0.02 * want
