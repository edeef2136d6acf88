"""PutMetricData and ListMetrics, and `publish`, the path other parts of Portside take to put
datapoints (ECS's AWS/ECS metrics, Container Insights): the same checks, minus the rule that
keeps callers out of `AWS/` namespaces.

ListMetrics shows a metric for two weeks after its last datapoint (CloudWatch's rule), 500
a page; RecentlyActive=PT3H narrows that to three hours. A Dimensions filter keeps metrics
that have each named dimension (with that value, when one is given).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from portside.cloudwatch import datapoints, rules, runtime
from portside.cloudwatch.alarm_records import scope
from portside.cloudwatch.errors import bad_token
from portside.cloudwatch.operations import action
from portside.cloudwatch.store import Series
from portside.ops.context import Op

PAGE = 500
RECENT = {"PT3H": 3 * 3600}


@action("PutMetricData")
def put_metric_data(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    rules.check_namespace(p["Namespace"], publishing=True)
    data = list(p.get("MetricData") or ())
    for entity in p.get("EntityMetricData") or ():
        data += entity.get("MetricData") or ()
    publish(op, p["Namespace"], data)
    return {}


def publish(op: Op, namespace: str, data: Iterable[Mapping[str, Any]]) -> int:
    """Store `data` (PutMetricData's MetricDatum shape) under `namespace` for the op's account
    and region; returns the number of rows written. Raises CloudWatch's errors."""
    now = op.now()
    samples = datapoints.samples(namespace, data, now)
    if not samples:
        return 0
    store = runtime.of(op).metrics
    return store.put(scope(op.account, op.region), samples, int(now))


@action("ListMetrics")
def list_metrics(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("Namespace") is not None:
        rules.check_namespace(p["Namespace"], publishing=False)
    after = _token(p.get("NextToken"))
    window = RECENT.get(p.get("RecentlyActive") or "", rules.TWO_WEEKS)
    filters = [(f["Name"], f.get("Value")) for f in p.get("Dimensions") or ()]
    store = runtime.of(op).metrics
    found: list[Series] = []
    more = False
    while len(found) <= PAGE:
        batch = store.list_series(
            scope(op.account, op.region),
            namespace=p.get("Namespace"),
            name=p.get("MetricName"),
            since=int(op.now() - window),
            after=after,
            limit=2000,
        )
        if not batch:
            break
        for s in batch:
            after = s.id
            if _matches(s, filters):
                found.append(s)
                if len(found) > PAGE:
                    break
        if len(batch) < 2000:
            break
    if len(found) > PAGE:
        found, more = found[:PAGE], True
    out: dict[str, Any] = {
        "Metrics": [
            {
                "Namespace": s.namespace,
                "MetricName": s.name,
                "Dimensions": rules.dimension_list(s.dims),
            }
            for s in found
        ]
    }
    if more:
        out["NextToken"] = base64.urlsafe_b64encode(str(found[-1].id).encode()).decode()
    return out


def _matches(series: Series, filters: list[tuple[str, str | None]]) -> bool:
    have = dict(series.dims)
    return all(n in have and (v is None or have[n] == v) for n, v in filters)


def _token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise bad_token() from None
