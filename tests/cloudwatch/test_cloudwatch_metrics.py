"""PutMetricData, GetMetricStatistics, ListMetrics through boto3 (CBOR), as a user checks
them: what was put comes back, aggregated per period, and bad input gets CloudWatch's error."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _minute(offset: int = 0) -> datetime:
    now = int(time.time() // 60 * 60)
    return datetime.fromtimestamp(now + offset, UTC)


def test_put_and_get_statistics_per_period(cw: Any, namespace: str) -> None:
    base = _minute(-600)
    dims = [{"Name": "Service", "Value": "web"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": base,
                "Value": 10.0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": base,
                "Value": 30.0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": datetime.fromtimestamp(base.timestamp() + 60, UTC),
                "Values": [1.0, 2.0, 3.0],
                "Counts": [1, 1, 2],
                "Unit": "Milliseconds",
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=dims,
        StartTime=base,
        EndTime=_minute(),
        Period=60,
        Statistics=["Average", "Sum", "SampleCount", "Minimum", "Maximum"],
    )
    points = sorted(got["Datapoints"], key=lambda d: d["Timestamp"])
    assert got["Label"] == "Latency"
    assert [p["SampleCount"] for p in points] == [2.0, 4.0]
    assert points[0]["Average"] == 20.0 and points[0]["Unit"] == "Milliseconds"
    assert points[1]["Sum"] == 9.0 and points[1]["Minimum"] == 1.0 and points[1]["Maximum"] == 3.0
    assert points[0]["Timestamp"] == base


def test_percentiles_and_statistic_sets(cw: Any, namespace: str) -> None:
    base = _minute(-300)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Size", "Timestamp": base, "Values": [float(v) for v in range(1, 101)]},
            {
                "MetricName": "Size",
                "Timestamp": base,
                "StatisticValues": {"SampleCount": 2, "Sum": 10, "Minimum": 0.5, "Maximum": 9.5},
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Size",
        StartTime=base,
        EndTime=_minute(),
        Period=300,
        ExtendedStatistics=["p50", "p99", "p100", "p0.0"],
    )
    [point] = got["Datapoints"]
    ext = point["ExtendedStatistics"]
    assert ext["p50"] == 50.0 and ext["p99"] == 99.0 and ext["p100"] == 100.0
    assert ext["p0.0"] == 1.0


def test_high_resolution_reads_seconds(cw: Any, namespace: str) -> None:
    base = _minute(-120)
    data = [
        {
            "MetricName": "Hits",
            "Timestamp": datetime.fromtimestamp(base.timestamp() + s, UTC),
            "Value": float(s),
            "StorageResolution": 1,
        }
        for s in range(0, 20)
    ]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    end = datetime.fromtimestamp(base.timestamp() + 20, UTC)
    fine = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Hits",
        StartTime=base,
        EndTime=end,
        Period=10,
        Statistics=["Sum"],
    )
    assert sorted(p["Sum"] for p in fine["Datapoints"]) == [45.0, 145.0]
    minute = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Hits",
        StartTime=base,
        EndTime=_minute(),
        Period=60,
        Statistics=["SampleCount"],
    )
    assert [p["SampleCount"] for p in minute["Datapoints"]] == [20.0]


def test_list_metrics_filters(cw: Any, namespace: str) -> None:
    for svc in ("a", "b"):
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "CPU",
                    "Dimensions": [
                        {"Name": "Service", "Value": svc},
                        {"Name": "Cluster", "Value": "c1"},
                    ],
                    "Value": 1.0,
                },
                {
                    "MetricName": "Memory",
                    "Dimensions": [{"Name": "Service", "Value": svc}],
                    "Value": 1.0,
                },
            ],
        )
    every = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert len(every) == 4
    cpu = cw.list_metrics(Namespace=namespace, MetricName="CPU")["Metrics"]
    assert {m["Dimensions"][1]["Value"] for m in cpu} == {"a", "b"}
    filtered = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Service", "Value": "a"}])[
        "Metrics"
    ]
    assert sorted(m["MetricName"] for m in filtered) == ["CPU", "Memory"]
    by_name = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Cluster"}])["Metrics"]
    assert len(by_name) == 2
    recent = cw.list_metrics(Namespace=namespace, RecentlyActive="PT3H")["Metrics"]
    assert len(recent) == 4


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.mark.parametrize(
    ("datum", "code", "text"),
    [
        (
            {
                "MetricName": "m",
                "Value": 1.0,
                "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
            },
            "InvalidParameterCombination",
            "mutually exclusive",
        ),
        (
            {"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]},
            "InvalidParameterValue",
            "must be of the same size",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Timestamp": datetime(2020, 1, 1, tzinfo=UTC)},
            "InvalidParameterValue",
            "two weeks in the past",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "StorageResolution": 5},
            "InvalidParameterValue",
            "StorageResolution is invalid",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "a", "Value": "1"}] * 31},
            "ValidationError",
            "30",
        ),
    ],
)
def test_bad_datapoints(
    cw: Any, namespace: str, datum: dict[str, Any], code: str, text: str
) -> None:
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace=namespace, MetricData=[datum])
    got_code, message = _error(exc)
    assert got_code == code and text in message


def test_reserved_namespace(cw: Any) -> None:
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="AWS/ECS", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert _error(exc) == (
        "InvalidParameterValue",
        "The value AWS/ECS for parameter Namespace is invalid.",
    )


def test_statistics_limits(cw: Any, namespace: str) -> None:
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="m",
            StartTime=_minute(-86400 * 2),
            EndTime=_minute(),
            Period=60,
            Statistics=["Average"],
        )
    code, message = _error(exc)
    assert code == "InvalidParameterCombination"
    assert "You have requested up to 2,880 datapoints, which exceeds the limit of 1,440" in message
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="m",
            StartTime=_minute(-600),
            EndTime=_minute(),
            Period=45,
            Statistics=["Average"],
        )
    assert _error(exc)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="m",
            StartTime=_minute(-600),
            EndTime=_minute(),
            Period=60,
        )
    assert _error(exc)[0] == "InvalidParameterCombination"
