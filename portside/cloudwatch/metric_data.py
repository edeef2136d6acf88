"""GetMetricData: MetricDataQueries answered (`queries.py`), paged by MaxDatapoints.

Each answered query is a MetricDataResult with its timestamps in ScanBy's order (newest
first by default). MaxDatapoints (default 100,800) bounds the datapoints of one answer: a
result cut short says PartialData and the NextToken resumes it (the token names the result
and how far into it the last page went, with a digest of the request, which must come again
unchanged). A result given whole says Complete.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from portside.cloudwatch import queries, rules, runtime
from portside.cloudwatch.alarm_records import scope
from portside.cloudwatch.errors import ValidationError, bad_token
from portside.cloudwatch.operations import action
from portside.ops.context import Op

MAX_DATAPOINTS = 100_800


@action("GetMetricData")
def get_metric_data(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    asked = p["MetricDataQueries"]
    queries.check(asked)
    start, end = rules.epoch(p["StartTime"]), rules.epoch(p["EndTime"])
    if start >= end:
        raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
    budget = p.get("MaxDatapoints") or MAX_DATAPOINTS
    if budget < 1:
        raise ValidationError("The parameter MaxDatapoints must be greater than 0.")
    descending = (p.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    digest = _digest(p)
    index, offset = _resume(p.get("NextToken"), digest)
    answers = queries.evaluate(
        runtime.of(op).metrics, scope(op.account, op.region), asked, start, end
    )
    results: list[dict[str, Any]] = []
    token = None
    for i, answer in enumerate(answers):
        if i < index:
            continue
        points = answer.points[::-1] if descending else answer.points
        skip = offset if i == index else 0
        take = points[skip : skip + budget]
        budget -= len(take)
        done = skip + len(take) >= len(points)
        results.append(
            {
                "Id": answer.id,
                "Label": answer.label,
                "Timestamps": [float(t) for t, _ in take],
                "Values": [v for _, v in take],
                "StatusCode": "Complete" if done else "PartialData",
            }
        )
        if not done:
            token = _token(i, skip + len(take), digest)
            break
        if budget <= 0 and i + 1 < len(answers):
            token = _token(i + 1, 0, digest)
            break
    out: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if token:
        out["NextToken"] = token
    return out


def _digest(p: dict[str, Any]) -> str:
    kept = {k: v for k, v in p.items() if k != "NextToken"}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _token(index: int, offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"{index}:{offset}:{digest}".encode()).decode()


def _resume(token: str | None, digest: str) -> tuple[int, int]:
    if not token:
        return 0, 0
    try:
        index, offset, given = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if given != digest:
            raise ValueError(token)
        return int(index), int(offset)
    except ValueError:
        raise bad_token() from None
