"""An alarm's next state from its datapoints; pure.

`evaluate(rule, values, state, now)` takes the alarm's rule, the statistic's value for each of
the last EvaluationPeriods whole periods (newest first; None where no data came) and the
current state, and says the new state with CloudWatch's reason text and reason data, or None
when the alarm keeps its state (TreatMissingData `ignore` with no data).

M of N: with M = DatapointsToAlarm (default N = EvaluationPeriods), the alarm goes to ALARM
when at least M of the N datapoints breach, and to OK otherwise. Missing datapoints count as
TreatMissingData says: `breaching` and `notBreaching` fill them in; `missing` (the default)
and `ignore` leave them out, and when all N are missing the alarm goes to INSUFFICIENT_DATA
(`missing`) or stays as it is (`ignore`).

The reason is worded as CloudWatch words it, the datapoints newest first with their period's
start as dd/mm/yy HH:MM:SS (UTC):

    Threshold Crossed: 3 out of the last 3 datapoints [95.0 (07/12/26 10:20:00), 90.0
    (07/12/26 10:19:00), 91.0 (07/12/26 10:18:00)] were greater than the threshold (50.0)
    (minimum 3 datapoints for OK -> ALARM transition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
OPERATORS = tuple(_WORDS)


@dataclass(frozen=True, slots=True)
class Rule:
    comparison: str
    threshold: float
    periods: int  # N: EvaluationPeriods
    to_alarm: int  # M: DatapointsToAlarm
    period: int  # seconds
    missing: str = "missing"
    statistic: str = "Average"

    @classmethod
    def of(cls, alarm: dict[str, Any], period: int) -> Rule:
        n = int(alarm["EvaluationPeriods"])
        return cls(
            comparison=alarm["ComparisonOperator"],
            threshold=float(alarm.get("Threshold", 0.0)),
            periods=n,
            to_alarm=int(alarm.get("DatapointsToAlarm") or n),
            period=period,
            missing=alarm.get("TreatMissingData") or "missing",
            statistic=alarm.get("Statistic") or alarm.get("ExtendedStatistic") or "",
        )

    def breaches(self, value: float) -> bool:
        t = self.threshold
        return {
            "GreaterThanThreshold": value > t,
            "GreaterThanOrEqualToThreshold": value >= t,
            "LessThanThreshold": value < t,
            "LessThanOrEqualToThreshold": value <= t,
        }[self.comparison]


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    reason: str
    data: dict[str, Any]


def window(now: float, period: int, periods: int) -> list[int]:
    """The starts of the last `periods` whole periods before `now`, newest first."""
    end = int(now // period * period)
    return [end - period * (i + 1) for i in range(periods)]


def evaluate(
    rule: Rule, starts: Sequence[int], values: Sequence[float | None], state: str, now: float
) -> Outcome | None:
    present = [(t, v) for t, v in zip(starts, values, strict=True) if v is not None]
    missing = len(values) - len(present)
    data = _data(rule, starts, values, now)
    if not present and rule.missing in ("missing", "ignore"):
        if rule.missing == "ignore":
            return None
        return Outcome(INSUFFICIENT, _unknown(missing), data)
    fill = {"breaching": True, "notBreaching": False}.get(rule.missing)
    breaching = sum(1 for _, v in present if rule.breaches(v))
    counted = len(present)
    if fill is not None:
        counted += missing
        breaching += missing if fill else 0
    word = _WORDS[rule.comparison]
    listed = ", ".join(f"{v!r} ({_when(t)})" for t, v in present)
    treated = (
        f" and {missing} missing datapoint{'s' if missing != 1 else ''} "
        f"{'were' if missing != 1 else 'was'} treated as "
        f"[{'Breaching' if fill else 'NonBreaching'}]"
        if fill is not None and missing
        else ""
    )
    if breaching >= rule.to_alarm:
        need = rule.to_alarm
        verb = "was" if breaching == 1 else "were"
        text = (
            f"Threshold Crossed: {breaching} out of the last {counted} datapoints [{listed}]"
            f"{treated} {verb} {word} the threshold ({rule.threshold!r}) "
            f"(minimum {need} datapoint{'s' if need != 1 else ''} for {state} -> ALARM "
            "transition)."
        )
        return Outcome(ALARM, text, data)
    calm = counted - breaching
    need = rule.periods - rule.to_alarm + 1
    verb = "was" if calm == 1 else "were"
    text = (
        f"Threshold Crossed: {calm} out of the last {counted} datapoints [{listed}]{treated} "
        f"{verb} not {word} the threshold ({rule.threshold!r}) "
        f"(minimum {need} datapoint{'s' if need != 1 else ''} for {state} -> OK transition)."
    )
    return Outcome(OK, text, data)


def _unknown(missing: int) -> str:
    return f"Insufficient Data: {missing} datapoint{'s were' if missing != 1 else ' was'} unknown."


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d/%m/%y %H:%M:%S")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(ts * 1000) % 1000:03d}+0000"
    )


def _data(
    rule: Rule, starts: Sequence[int], values: Sequence[float | None], now: float
) -> dict[str, Any]:
    """StateReasonData as CloudWatch writes it for a threshold alarm."""
    present = [(t, v) for t, v in zip(starts, values, strict=True) if v is not None]
    return {
        "version": "1.0",
        "queryDate": iso(now),
        "startDate": iso(starts[-1]) if starts else iso(now),
        "statistic": rule.statistic,
        "period": rule.period,
        "recentDatapoints": [v for _, v in reversed(present)],
        "threshold": rule.threshold,
        "evaluatedDatapoints": [{"timestamp": iso(t), "value": v} for t, v in present],
    }
