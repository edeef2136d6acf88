"""CloudWatch Logs actions (target prefix Logs_20140328, signing name `logs`).

Each handler parses its (already model-validated) parameters, applies CloudWatch Logs' own
rules (portside/logs/rules.py) and reads or writes the log store (`world.logs`). Log groups
are one namespace per Portside installation; ARNs carry the caller's region and account.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Any

import orjson

from portside.api.registry import Operations, ServiceSpec
from portside.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    ServerException,
    TooManyTagsException,
)
from portside.logs import rules, tokens
from portside.logs.patterns import compile_pattern
from portside.logs.store import Group, LogStore, Stream, Window
from portside.logs.tokens import Cursor, Position
from portside.ops.context import Op
from portside.wire.replies import drop_none, page

ACTIONS = Operations("CloudWatch Logs")
action = ACTIONS.action

# FilterLogEvents reads at most this many events per call; past it, it answers with what it
# found and a nextToken, as CloudWatch Logs does on a long search.
SCAN_BUDGET = 200_000


def _store(op: Op) -> LogStore:
    logs = op.world.logs
    if logs is None:
        raise ServerException("The log store is not configured.")
    return logs


def _now_ms(op: Op) -> int:
    return int(op.now() * 1000)


def _group_arn(op: Op, name: str) -> str:
    return f"arn:aws:logs:{op.region}:{op.account}:log-group:{name}"


def _name_from_arn(arn: str) -> str | None:
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "logs":
        return None
    kind, rest = parts[5], parts[6]
    name = rest[:-2] if rest.endswith(":*") else rest
    if kind != "log-group" or not name or ":" in name:
        return None
    return name


def _group_name(p: dict[str, Any]) -> str:
    """logGroupName or logGroupIdentifier (a name or an ARN): exactly one of them."""
    name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
    if (name is None) == (ident is None):
        raise InvalidParameterException(
            "Exactly one of logGroupName and logGroupIdentifier must be specified."
        )
    if name is not None:
        return str(name)
    ident = str(ident)
    if ident.startswith("arn:"):
        found = _name_from_arn(ident)
        if found is None:
            raise InvalidParameterException(f"Invalid log group identifier: {ident}")
        return found
    return ident


def _page_token(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def _read_page_token(token: str | None) -> Any:
    if token is None:
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidParameterException("The specified nextToken is invalid.") from None


# log groups ---------------------------------------------------------------------------------


@action("CreateLogGroup")
def create_log_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    # Refused rather than accepted and then not honoured.
    if p.get("kmsKeyId") is not None:
        raise InvalidParameterException("Portside does not support KMS-encrypted log groups.")
    if p.get("deletionProtectionEnabled"):
        raise InvalidParameterException("Portside does not support deletion protection yet.")
    log_class = p.get("logGroupClass", "STANDARD")
    _store(op).create_group(p["logGroupName"], _now_ms(op), p.get("tags"), log_class)
    return {}


@action("DeleteLogGroup")
def delete_log_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).delete_group(p["logGroupName"])
    return {}


def _describe_group(op: Op, group: Group, brief: bool) -> dict[str, Any]:
    arn = _group_arn(op, group.name)
    out: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "arn": arn + ":*",
    }
    if brief:
        # With logGroupNamePattern, CloudWatch Logs answers only these three.
        return out
    if group.retention is not None:
        out["retentionInDays"] = group.retention
    out.update(
        metricFilterCount=0,
        storedBytes=group.stored_bytes,
        logGroupClass=group.log_class,
        logGroupArn=arn,
    )
    return out


# DescribeLogGroups' logGroupClass filter: the two cheaper classes are listed together.
_CLASS_FILTER = {
    "STANDARD": ("STANDARD",),
    "INFREQUENT_ACCESS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
    "ESSENTIALS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
    "DELIVERY": ("DELIVERY",),
}


@action("DescribeLogGroups")
def describe_log_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise InvalidParameterException(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
        )
    idents = p.get("logGroupIdentifiers")
    if idents is not None and (prefix is not None or pattern is not None):
        raise InvalidParameterException(
            "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
        )
    limit = int(p.get("limit") or 50)
    after = _read_page_token(p.get("nextToken")) or ""
    if not isinstance(after, str):
        raise InvalidParameterException("The specified nextToken is invalid.")
    store = _store(op)
    if idents is not None:
        names = sorted({(_name_from_arn(i) or i) if i.startswith("arn:") else i for i in idents})
        groups = []
        for name in names:
            if name <= after:
                continue
            try:
                groups.append(store.group(name))
            except ResourceNotFoundException:
                continue
            if len(groups) > limit:
                break
    else:
        groups = store.groups(
            prefix=prefix,
            contains=pattern,
            after=after,
            limit=limit + 1,
            classes=_CLASS_FILTER.get(p.get("logGroupClass") or "", ()),
        )
    token = _page_token(groups[limit - 1].name) if len(groups) > limit else None
    return page(
        "logGroups", [_describe_group(op, g, pattern is not None) for g in groups[:limit]], token
    )


@action("PutRetentionPolicy")
def put_retention_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    days = int(p["retentionInDays"])
    rules.check_retention(days)
    _store(op).set_retention(p["logGroupName"], days)
    return {}


@action("DeleteRetentionPolicy")
def delete_retention_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).set_retention(p["logGroupName"], None)
    return {}


# tags ---------------------------------------------------------------------------------------

MAX_TAGS = 50


def _tag_target(arn: str) -> str:
    name = _name_from_arn(arn)
    if name is None:
        raise InvalidParameterException(f"Invalid resource ARN: {arn}")
    return name


def _add_tags(op: Op, name: str, tags: dict[str, str]) -> None:
    store = _store(op)
    current = store.group(name).tags
    if len({**current, **tags}) > MAX_TAGS:
        raise TooManyTagsException(f"A resource can have no more than {MAX_TAGS} tags.")
    store.update_tags(name, add=tags)


@action("TagResource")
def tag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _add_tags(op, _tag_target(p["resourceArn"]), p["tags"])
    return {}


@action("UntagResource")
def untag_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).update_tags(_tag_target(p["resourceArn"]), remove=p["tagKeys"])
    return {}


@action("ListTagsForResource")
def list_tags_for_resource(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"tags": _store(op).group(_tag_target(p["resourceArn"])).tags}


@action("TagLogGroup")
def tag_log_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _add_tags(op, p["logGroupName"], p["tags"])
    return {}


@action("UntagLogGroup")
def untag_log_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).update_tags(p["logGroupName"], remove=p["tags"])
    return {}


@action("ListTagsLogGroup")
def list_tags_log_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"tags": _store(op).group(p["logGroupName"]).tags}


# log streams --------------------------------------------------------------------------------


@action("CreateLogStream")
def create_log_stream(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).create_stream(p["logGroupName"], p["logStreamName"], _now_ms(op))
    return {}


@action("DeleteLogStream")
def delete_log_stream(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _store(op).delete_stream(p["logGroupName"], p["logStreamName"])
    return {}


def _describe_stream(op: Op, group: str, s: Stream) -> dict[str, Any]:
    return drop_none(
        {
            "logStreamName": s.name,
            "creationTime": s.created,
            "arn": f"{_group_arn(op, group)}:log-stream:{s.name}",
            # Always zero for streams since 2019, as the model documents.
            "storedBytes": 0,
            "firstEventTimestamp": s.first_ts,
            "lastEventTimestamp": s.last_ts,
            "lastIngestionTime": s.last_ingest,
        }
    )


@action("DescribeLogStreams")
def describe_log_streams(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = _group_name(p)
    by_last_event = p.get("orderBy", "LogStreamName") == "LastEventTime"
    prefix = p.get("logStreamNamePrefix")
    if by_last_event and prefix is not None:
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = int(p.get("limit") or 50)
    after = _read_page_token(p.get("nextToken"))
    if after is not None and not (
        isinstance(after, list)
        and len(after) == 2
        and isinstance(after[0], int)
        and isinstance(after[1], str)
    ):
        raise InvalidParameterException("The specified nextToken is invalid.")
    store = _store(op)
    group = store.group(name)
    found = store.streams(
        group.id,
        prefix=prefix,
        by_last_event=by_last_event,
        descending=bool(p.get("descending", False)),
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    last = found[limit - 1] if len(found) > limit else None
    token = _page_token([last.last_ts or 0, last.name]) if last is not None else None
    return page("logStreams", [_describe_stream(op, name, s) for s in found[:limit]], token)


# events -------------------------------------------------------------------------------------


@action("PutLogEvents")
def put_log_events(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    store = _store(op)
    group, stream = p["logGroupName"], p["logStreamName"]
    retention = store.group(group).retention
    store.stream(group, stream)
    events = [(int(e["timestamp"]), str(e["message"])) for e in p["logEvents"]]
    now = _now_ms(op)
    accepted = rules.check_batch(events, now, retention)
    kept = events[accepted.start : accepted.end]
    if kept:
        store.append(group, stream, kept, now)
    # The sequence token is ignored since 2023; a fresh one is still returned, as AWS does.
    out: dict[str, Any] = {"nextSequenceToken": f"{now:020d}{len(kept):08d}"}
    if accepted.rejected:
        out["rejectedLogEventsInfo"] = accepted.rejected
    return out


def _size(message: str) -> int:
    """A message's size as PutLogEvents counts it (UTF-8 bytes plus 26)."""
    return (len(message) if message.isascii() else len(message.encode())) + rules.EVENT_OVERHEAD


def _window(p: dict[str, Any], cursor: Cursor | None, from_head: bool) -> Window:
    """The events a Get/FilterLogEvents request reads: on from its token's cursor, else from
    the head or the tail as startFromHead says (`from_head` when it does not), within
    startTime and endTime."""
    forward = cursor.forward if cursor else bool(p.get("startFromHead", from_head))
    after = cursor.position if cursor else None
    return Window(forward, after, p.get("startTime"), p.get("endTime"))


@action("GetLogEvents")
def get_log_events(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    store = _store(op)
    stream = store.stream(_group_name(p), p["logStreamName"])
    token = p.get("nextToken")
    cursor = tokens.parse(token) if token is not None else None
    window = _window(p, cursor, from_head=False)
    rows = store.read_rows(stream.id, window, int(p.get("limit") or 10_000))
    # One pass in reading order (nearest the cursor first), stopping at 1 MB: the hot loop of
    # the API, so it builds the wire dicts directly.
    events: list[dict[str, Any]] = []
    total = 0
    nearest = farthest = None
    overhead = rules.EVENT_OVERHEAD
    with contextlib.closing(rows):
        for timestamp, seq, ingestion, message in rows:
            total += (len(message) if message.isascii() else len(message.encode())) + overhead
            if total > rules.RESPONSE_BYTES:
                break
            if nearest is None:
                nearest = (timestamp, seq)
            farthest = (timestamp, seq)
            events.append({"timestamp": timestamp, "message": message, "ingestionTime": ingestion})
    if nearest is None or farthest is None:
        # Nothing here: the tokens stay where the caller was, so a caller polling forward
        # sees the same token back and knows it reached the end.
        first = last = cursor.position if cursor else tokens.START
    elif window.forward:
        first, last = Position(*nearest), Position(*farthest)
    else:
        events.reverse()
        first, last = Position(*farthest), Position(*nearest)
    return {
        "events": events,
        "nextForwardToken": Cursor(True, last).token(),
        "nextBackwardToken": Cursor(False, first).token(),
    }


@action("FilterLogEvents")
def filter_log_events(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    store = _store(op)
    group = store.group(_group_name(p))
    names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameterException(
            "logStreamNames and logStreamNamePrefix are mutually exclusive."
        )
    match = compile_pattern(p.get("filterPattern"))
    token = p.get("nextToken")
    cursor = tokens.parse_filter_token(token) if token is not None else None
    window = _window(p, cursor, from_head=True)
    limit = int(p.get("limit") or 10_000)
    streams = store.stream_ids(group.id, names, prefix)
    names_by_id = {s.id: s.name for s in streams}
    scan = store.scan(list(names_by_id), window)
    found: list[dict[str, Any]] = []
    size = 0
    last: Position | None = None
    more = False
    with contextlib.closing(scan):
        for scanned, event in enumerate(scan, 1):
            if len(found) >= limit or scanned > SCAN_BUDGET:
                more = True
                break
            if match is None or match(event.message):
                size += _size(event.message)
                if size > rules.RESPONSE_BYTES and found:
                    more = True
                    break
                found.append(
                    {
                        "logStreamName": names_by_id[event.stream_id],
                        "timestamp": event.timestamp,
                        "message": event.message,
                        "ingestionTime": event.ingestion,
                        "eventId": f"{event.timestamp:016d}{event.seq:020d}",
                    }
                )
            last = event.position
    out: dict[str, Any] = {"events": found, "searchedLogStreams": []}
    if more and last is not None:
        out["nextToken"] = tokens.filter_token(Cursor(window.forward, last))
    return out


# PutLogEvents takes 1,048,576 bytes of events (messages plus 26 bytes each); the JSON
# envelope around 10,000 events, and escaping, add to that.
SERVICE = ServiceSpec(
    "logs",
    ACTIONS,
    signing_name="logs",
    body_limit=3 * 1024 * 1024,
    heavy_reads=frozenset({"GetLogEvents", "FilterLogEvents"}),
)
