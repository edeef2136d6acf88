"""An alarm changing state, wherever the change comes from (the evaluator, SetAlarmState):
the document updated, the StateUpdate history item, the new state's actions run through the
action registry (each recorded as an Action history item), and the listeners told (the
EventBridge "CloudWatch Alarm State Change" event, `alarm_events.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from portside.cloudwatch.actions import ActionRegistry, AlarmAction
from portside.cloudwatch.alarm_records import shown

log = logging.getLogger("portside.cloudwatch")

ACTIONS_FOR = {
    "OK": "OKActions",
    "ALARM": "AlarmActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change as listeners see it: the alarm after it, and what it was before."""

    account: str
    region: str
    alarm: dict[str, Any]
    old_state: str
    old_reason: str
    old_reason_data: str | None
    at: float


def change(
    doc: dict[str, Any], state: str, reason: str, reason_data: str | None, now: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The alarm in its new state, and the StateUpdate history item saying so."""
    old = {"stateValue": doc["StateValue"], "stateReason": doc.get("StateReason", "")}
    new_doc = dict(doc)
    new_doc.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
    if state != doc["StateValue"]:
        new_doc["StateTransitionedTimestamp"] = now
    if reason_data is None:
        new_doc.pop("StateReasonData", None)
    else:
        new_doc["StateReasonData"] = reason_data
    new: dict[str, Any] = {"stateValue": state, "stateReason": reason}
    if reason_data is not None:
        new["stateReasonData"] = orjson.loads(reason_data)
    item = history_item(
        doc["AlarmName"],
        now,
        "StateUpdate",
        f"Alarm updated from {doc['StateValue']} to {state}",
        {"version": "1.0", "oldState": old, "newState": new},
    )
    return new_doc, item


def history_item(
    name: str, at: float, kind: str, summary: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": at,
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": orjson.dumps(data).decode(),
    }


def run_actions(
    registry: ActionRegistry, doc: dict[str, Any], old_state: str, now: float
) -> list[dict[str, Any]]:
    """Run the actions of the alarm's (new) state when its actions are enabled; one Action
    history item each."""
    if not doc.get("ActionsEnabled", True) or doc["StateValue"] == old_state:
        return []
    items = []
    for arn in doc.get(ACTIONS_FOR[doc["StateValue"]]) or ():
        action = AlarmAction(arn, shown(doc), old_state, doc["StateValue"], doc["StateReason"], now)
        failure = registry.dispatch(action)
        if failure is None:
            summary = f"Successfully executed action {arn}"
            data: dict[str, Any] = {"actionState": "Succeeded"}
        else:
            log.warning("alarm %s: %s", doc["AlarmName"], failure)
            summary, data = failure, {"actionState": "Failed", "error": failure}
        data.update(stateUpdateTimestamp=int(now * 1000), notificationResource=arn)
        items.append(history_item(doc["AlarmName"], now, "Action", summary, data))
    return items
