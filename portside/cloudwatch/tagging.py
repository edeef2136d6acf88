"""TagResource, UntagResource and ListTagsForResource on alarms (by ARN). Up to 50 tags; a
key given again takes the new value; an ARN that is not an alarm of the caller's account and
region is ResourceNotFoundException."""

from __future__ import annotations

from typing import Any

from portside.cloudwatch import runtime
from portside.cloudwatch.alarm_records import scope
from portside.cloudwatch.errors import ValidationError, resource_not_found
from portside.cloudwatch.operations import action
from portside.ops.context import Op

MAX_TAGS = 50


def _alarm(op: Op, arn: str) -> tuple[str, dict[str, Any]]:
    prefix = f"arn:aws:cloudwatch:{op.region}:{op.account}:alarm:"
    where = scope(op.account, op.region)
    alarm = runtime.of(op).alarms.get(where, arn[len(prefix) :]) if arn.startswith(prefix) else None
    if alarm is None:
        raise resource_not_found(arn)
    return where, alarm


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where, alarm = _alarm(op, p["ResourceARN"])
    tags = {t["Key"]: t["Value"] for t in alarm.get("_Tags") or ()}
    tags.update({t["Key"]: t["Value"] for t in p["Tags"]})
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A resource may have at most {MAX_TAGS} tags.")
    alarm["_Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    runtime.of(op).alarms.save(where, alarm)
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    where, alarm = _alarm(op, p["ResourceARN"])
    gone = set(p["TagKeys"])
    alarm["_Tags"] = [t for t in alarm.get("_Tags") or () if t["Key"] not in gone]
    runtime.of(op).alarms.save(where, alarm)
    return {}


@action("ListTagsForResource")
def list_tags_for_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _, alarm = _alarm(op, p["ResourceARN"])
    return {"Tags": list(alarm.get("_Tags") or [])}
