"""The alarm operations: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DescribeAlarmHistory, SetAlarmState, DeleteAlarms, EnableAlarmActions, DisableAlarmActions.

DescribeAlarms lists by name (as CloudWatch does), 50 a page by default (MaxRecords up to
100), filtered by AlarmNames or AlarmNamePrefix, StateValue and ActionPrefix; Portside has
no composite alarms, so CompositeAlarms is always empty and AlarmTypes only selects whether
metric alarms are listed. SetAlarmState changes the state until the next evaluation says
otherwise, runs the state's actions and records it, as CloudWatch does. History is kept two
weeks, newest first by default, 100 items a page.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from portside.cloudwatch import alarm_config, rules, runtime
from portside.cloudwatch.alarm_records import alarm_arn, scope, shown
from portside.cloudwatch.errors import (
    ValidationError,
    alarm_not_found,
    bad_token,
    invalid_format,
)
from portside.cloudwatch.operations import action
from portside.cloudwatch.transitions import Transition, change, history_item, run_actions
from portside.ops.context import Op


def _where(op: Op) -> str:
    return scope(op.account, op.region)


@action("PutMetricAlarm")
def put_metric_alarm(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    alarm_config.check(p)
    rt = runtime.of(op)
    where, name, now = _where(op), p["AlarmName"], op.now()
    old = rt.alarms.get(where, name)
    doc = alarm_config.document(p, alarm_arn(op.region, op.account, name), old, now)
    verb = "created" if old is None else "updated"
    data: dict[str, Any] = {"version": "1.0", "type": "Create" if old is None else "Update"}
    data["createdAlarm" if old is None else "updatedAlarm"] = _config(doc)
    item = history_item(name, now, "ConfigurationUpdate", f'Alarm "{name}" {verb}', data)
    rt.alarms.save(where, doc, [item])
    return {}


def _config(doc: dict[str, Any]) -> dict[str, Any]:
    keep = ("AlarmName", "AlarmArn", "Namespace", "MetricName", "Threshold", "ComparisonOperator")
    return {k[0].lower() + k[1:]: doc[k] for k in keep if k in doc}


@action("DescribeAlarms")
def describe_alarms(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("ChildrenOfAlarmName") or p.get("ParentsOfAlarmName"):
        return {"MetricAlarms": [], "CompositeAlarms": []}
    names, prefix = p.get("AlarmNames"), p.get("AlarmNamePrefix")
    if names and prefix:
        raise ValidationError("AlarmNames and AlarmNamePrefix cannot be used together.")
    types = p.get("AlarmTypes") or ["MetricAlarm"]
    if "MetricAlarm" not in types:
        return {"MetricAlarms": [], "CompositeAlarms": []}
    limit = p.get("MaxRecords") or 50
    after = _name_token(p.get("NextToken"))
    rt = runtime.of(op)
    where = _where(op)
    source = (
        (a for a in rt.alarms.many(where, names) if a["AlarmName"] > after)
        if names
        else rt.alarms.scan(where, prefix or "", after)
    )
    found: list[dict[str, Any]] = []
    more = False
    for alarm in source:
        if not _wanted(alarm, p):
            continue
        if len(found) == limit:
            more = True
            break
        found.append(alarm)
    out: dict[str, Any] = {"MetricAlarms": [shown(a) for a in found], "CompositeAlarms": []}
    if more:
        out["NextToken"] = base64.urlsafe_b64encode(found[-1]["AlarmName"].encode()).decode()
    return out


def _wanted(alarm: dict[str, Any], p: dict[str, Any]) -> bool:
    if p.get("StateValue") and alarm["StateValue"] != p["StateValue"]:
        return False
    prefix = p.get("ActionPrefix")
    if prefix:
        arns = [a for k in alarm_config.ACTION_LISTS for a in alarm.get(k) or ()]
        return any(a.startswith(prefix) for a in arns)
    return True


def _name_token(token: str | None) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise bad_token() from None


@action("DescribeAlarmsForMetric")
def describe_alarms_for_metric(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    dims = rules.dimensions(p.get("Dimensions"))
    found = []
    for alarm in runtime.of(op).alarms.scan(_where(op)):
        if alarm.get("Namespace") != p["Namespace"] or alarm.get("MetricName") != p["MetricName"]:
            continue
        if p.get("Dimensions") is not None and rules.dimensions(alarm.get("Dimensions")) != dims:
            continue
        if any(p.get(k) is not None and alarm.get(k) != p[k]
               for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):  # fmt: skip
            continue
        found.append(shown(alarm))
    return {"MetricAlarms": found}


@action("DescribeAlarmHistory")
def describe_alarm_history(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    types = p.get("AlarmTypes") or ["MetricAlarm", "CompositeAlarm"]
    if "MetricAlarm" not in types:
        return {"AlarmHistoryItems": []}
    limit = p.get("MaxRecords") or 100
    descending = (p.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    after = int(_name_token(p.get("NextToken")) or 0) or None
    start = rules.epoch(p["StartDate"]) if p.get("StartDate") is not None else None
    end = rules.epoch(p["EndDate"]) if p.get("EndDate") is not None else None
    rows = runtime.of(op).alarms.history(
        _where(op),
        name=p.get("AlarmName"),
        kind=p.get("HistoryItemType"),
        start=start,
        end=end,
        descending=descending,
        after=after,
        limit=limit + 1,
    )
    out: dict[str, Any] = {"AlarmHistoryItems": [doc for _, doc in rows[:limit]]}
    if len(rows) > limit:
        out["NextToken"] = base64.urlsafe_b64encode(str(rows[limit - 1][0]).encode()).decode()
    return out


@action("SetAlarmState")
def set_alarm_state(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rt = runtime.of(op)
    where, name, now = _where(op), p["AlarmName"], op.now()
    alarm = rt.alarms.get(where, name)
    if alarm is None:
        raise alarm_not_found(name)
    data = p.get("StateReasonData")
    if data is not None:
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            raise invalid_format("StateReasonData is not valid JSON.") from None
    doc, item = change(alarm, p["StateValue"], p["StateReason"], data, now)
    rt.alarms.save(where, doc, [item])
    actions = run_actions(rt.actions, doc, alarm["StateValue"], now)
    if actions:
        rt.alarms.record(where, actions)
    if doc["StateValue"] != alarm["StateValue"]:
        rt.announce(
            Transition(
                op.account,
                op.region,
                doc,
                alarm["StateValue"],
                alarm.get("StateReason", ""),
                alarm.get("StateReasonData"),
                now,
            )
        )
    return {}


@action("DeleteAlarms")
def delete_alarms(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rt = runtime.of(op)
    where, names = _where(op), list(dict.fromkeys(p["AlarmNames"]))
    found = {a["AlarmName"] for a in rt.alarms.many(where, names)}
    lost = [n for n in names if n not in found]
    if lost:
        raise alarm_not_found(lost[0])
    rt.alarms.delete(where, names, [])
    return {}


def _set_actions(op: Op, names: list[str], enabled: bool) -> dict[str, Any]:
    rt = runtime.of(op)
    where, now = _where(op), op.now()
    for alarm in rt.alarms.many(where, names):
        if alarm.get("ActionsEnabled", True) != enabled:
            doc = dict(alarm, ActionsEnabled=enabled, AlarmConfigurationUpdatedTimestamp=now)
            rt.alarms.save(where, doc)
    return {}


@action("EnableAlarmActions")
def enable_alarm_actions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _set_actions(op, p["AlarmNames"], True)


@action("DisableAlarmActions")
def disable_alarm_actions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _set_actions(op, p["AlarmNames"], False)
