"""The EventBridge event CloudWatch sends when an alarm changes state; pure.

"CloudWatch Alarm State Change" from `aws.cloudwatch` (CloudWatch User Guide, "Alarm events
and EventBridge"): `resources` is the alarm's ARN; `detail` has alarmName, state and
previousState (value, reason, reasonData, timestamp) and configuration (description and the
metrics as MetricDataQueries in camelCase; a single-metric alarm as one query `m1`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from portside.cloudwatch.transitions import Transition

DETAIL_TYPE = "CloudWatch Alarm State Change"
SOURCE = "aws.cloudwatch"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(ts * 1000) % 1000:03d}+0000"
    )


def envelope(t: Transition, event_id: str | None = None) -> dict[str, Any]:
    alarm = t.alarm
    state: dict[str, Any] = {
        "value": alarm["StateValue"],
        "reason": alarm.get("StateReason", ""),
        "timestamp": _stamp(t.at),
    }
    if alarm.get("StateReasonData"):
        state["reasonData"] = alarm["StateReasonData"]
    previous: dict[str, Any] = {"value": t.old_state, "reason": t.old_reason}
    if t.old_reason_data:
        previous["reasonData"] = t.old_reason_data
    configuration: dict[str, Any] = {"metrics": _metrics(alarm)}
    if alarm.get("AlarmDescription"):
        configuration["description"] = alarm["AlarmDescription"]
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": t.account,
        "time": _iso(t.at),
        "region": t.region,
        "resources": [alarm["AlarmArn"]],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": state,
            "previousState": previous,
            "configuration": configuration,
        },
    }


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    if alarm.get("Metrics"):
        return [_query(q) for q in alarm["Metrics"]]
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    return [
        {
            "id": "m1",
            "metricStat": {
                "metric": {
                    "namespace": alarm["Namespace"],
                    "name": alarm["MetricName"],
                    "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or ()},
                },
                "period": alarm["Period"],
                "stat": stat,
            },
            "returnData": True,
        }
    ]


def _query(q: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": q["Id"], "returnData": q.get("ReturnData", True)}
    if q.get("Expression"):
        out["expression"] = q["Expression"]
    if q.get("Label"):
        out["label"] = q["Label"]
    if q.get("MetricStat"):
        s = q["MetricStat"]
        m = s["Metric"]
        out["metricStat"] = {
            "metric": {
                "namespace": m.get("Namespace"),
                "name": m.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in m.get("Dimensions") or ()},
            },
            "period": s["Period"],
            "stat": s["Stat"],
        }
    return out
