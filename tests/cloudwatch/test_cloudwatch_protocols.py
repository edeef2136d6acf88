"""The same calls in each protocol CloudWatch's model lists: boto3 over CBOR, JSON (botocore's
own choice, every response held to the model) and query; the AWS CLI v2 (query); and a raw
signed JSON request as newer SDKs send it, errors with their query codes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from signing import Wire

TARGET = "GraniteServiceVersion20100801"


@pytest.fixture(params=["cw", "cw_json", "cw_query"])
def any_client(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


def test_put_get_list_in_every_protocol(any_client: Any, namespace: str) -> None:
    base = int(time.time() // 60 * 60) - 300
    any_client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Req",
                "Dimensions": [{"Name": "Svc", "Value": "a"}],
                "Timestamp": datetime.fromtimestamp(base + 60 * i, UTC),
                "Value": float(i),
                "Unit": "Count",
            }
            for i in range(4)
        ],
    )
    stats = any_client.get_metric_statistics(
        Namespace=namespace,
        MetricName="Req",
        Dimensions=[{"Name": "Svc", "Value": "a"}],
        StartTime=datetime.fromtimestamp(base, UTC),
        EndTime=datetime.fromtimestamp(base + 300, UTC),
        Period=120,
        Statistics=["Sum"],
        ExtendedStatistics=["p50"],
    )
    points = sorted(stats["Datapoints"], key=lambda d: d["Timestamp"])
    assert [p["Sum"] for p in points] == [1.0, 5.0]
    assert points[1]["ExtendedStatistics"]["p50"] == 2.0 and points[1]["Unit"] == "Count"
    data = any_client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": "Req",
                        "Dimensions": [{"Name": "Svc", "Value": "a"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
            {"Id": "twice", "Expression": "m * 2"},
        ],
        StartTime=datetime.fromtimestamp(base, UTC),
        EndTime=datetime.fromtimestamp(base + 300, UTC),
    )
    m, twice = data["MetricDataResults"]
    assert m["Values"] == [3.0, 2.0, 1.0, 0.0] and m["Label"] == "Req"
    assert m["Timestamps"][0] == datetime.fromtimestamp(base + 180, UTC)
    assert twice["Values"] == [6.0, 4.0, 2.0, 0.0] and twice["StatusCode"] == "Complete"
    listed = any_client.list_metrics(Namespace=namespace)["Metrics"]
    assert listed == [
        {"Namespace": namespace, "MetricName": "Req", "Dimensions": [{"Name": "Svc", "Value": "a"}]}
    ]


def test_errors_carry_the_query_codes_in_every_protocol(any_client: Any) -> None:
    with pytest.raises(ClientError) as exc:
        any_client.put_metric_data(Namespace="AWS/X", MetricData=[{"MetricName": "m", "Value": 1}])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(any_client.exceptions.ResourceNotFound):
        any_client.set_alarm_state(AlarmName="nope-none", StateValue="OK", StateReason="x")


def test_raw_signed_json(server: ServerProcess, namespace: str) -> None:
    wire = Wire(server.endpoint)
    try:
        options: dict[str, Any] = {
            "target": f"{TARGET}.PutMetricData",
            "service": "monitoring",
            "content_type": "application/x-amz-json-1.0",
        }
        ok = wire.call(
            None,
            {
                "Namespace": namespace,
                "MetricData": [{"MetricName": "Raw", "Value": 5.5, "Timestamp": time.time() - 60}],
            },
            **options,
        )
        assert ok.status == 200, ok.raw
        options["target"] = f"{TARGET}.ListMetrics"
        listed = wire.call(None, {"Namespace": namespace}, **options)
        assert listed.body["Metrics"][0]["MetricName"] == "Raw"
        options["target"] = f"{TARGET}.PutMetricData"
        bad = wire.call(
            None,
            {"Namespace": "AWS/ECS", "MetricData": [{"MetricName": "Raw", "Value": 1}]},
            **options,
        )
        assert bad.status == 400
        assert bad.body["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
        assert bad.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
        assert orjson.loads(bad.raw)["message"] == (
            "The value AWS/ECS for parameter Namespace is invalid."
        )
    finally:
        wire.close()


def test_aws_cli_v2(server: ServerProcess, namespace: str) -> None:
    server.aws(
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        namespace,
        "--metric-name",
        "Cli",
        "--value",
        "42",
        "--unit",
        "Percent",
        "--dimensions",
        "Cluster=c1",
        v2=True,
    )
    listed = server.aws("cloudwatch", "list-metrics", "--namespace", namespace, v2=True)
    assert listed["Metrics"] == [
        {
            "Namespace": namespace,
            "MetricName": "Cli",
            "Dimensions": [{"Name": "Cluster", "Value": "c1"}],
        }
    ]
    now = int(time.time())
    stats = server.aws(
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        namespace,
        "--metric-name",
        "Cli",
        "--dimensions",
        "Name=Cluster,Value=c1",
        "--statistics",
        "Maximum",
        "--start-time",
        str(now - 600),
        "--end-time",
        str(now + 60),
        "--period",
        "60",
        v2=True,
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [42.0]
    assert stats["Datapoints"][0]["Unit"] == "Percent"
    server.aws(
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        f"{namespace}-cli",
        "--namespace",
        namespace,
        "--metric-name",
        "Cli",
        "--statistic",
        "Average",
        "--period",
        "60",
        "--evaluation-periods",
        "2",
        "--threshold",
        "90",
        "--comparison-operator",
        "GreaterThanThreshold",
        v2=True,
    )
    alarms = server.aws(
        "cloudwatch", "describe-alarms", "--alarm-names", f"{namespace}-cli", v2=True
    )["MetricAlarms"]
    assert alarms[0]["Threshold"] == 90.0 and alarms[0]["EvaluationPeriods"] == 2
    failed = server.aws(
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "x",
        "--value",
        "1",
        check=False,
        v2=True,
    )
    assert failed.returncode != 0 and "InvalidParameterValue" in failed.stderr
    server.aws("cloudwatch", "delete-alarms", "--alarm-names", f"{namespace}-cli", v2=True)


def test_gzipped_put_metric_data(any_client: Any, namespace: str) -> None:
    """Past 10 KB botocore gzips PutMetricData (its requestcompression trait)."""
    now = int(time.time())
    data = [
        {
            "MetricName": "Big",
            "Dimensions": [{"Name": "Task", "Value": f"task-{i:04d}"}],
            "Value": 1.0,
            "Timestamp": datetime.fromtimestamp(now - 60, UTC),
        }
        for i in range(400)
    ]
    any_client.put_metric_data(Namespace=namespace, MetricData=data)
    listed = any_client.list_metrics(Namespace=namespace, MetricName="Big")["Metrics"]
    assert len(listed) == 400
