"""CloudWatch Logs' rules as pure functions: names, retention values, PutLogEvents batches.

Sources: the PutLogEvents API reference (batch limits; since 2023 the sequence token is
ignored and InvalidSequenceTokenException / DataAlreadyAcceptedException are never raised),
and the error texts clients report seeing, e.g. "Log events in a single PutLogEvents request
must be in chronological order." (dibog/cloudwatch-logback-appender#17) and "The batch of log
events in a single PutLogEvents request cannot span more than 24 hours." (maxbanton/cwh#96).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portside.errors import InvalidParameterException

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_PAST_MS = 14 * DAY_MS  # events older than this are "too old"
MAX_FUTURE_MS = 2 * HOUR_MS  # events further ahead than this are "too new"
MAX_SPAN_MS = DAY_MS
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes counted per event on top of its UTF-8 message
MAX_EVENT_BYTES = 1_048_576 - EVENT_OVERHEAD
RESPONSE_BYTES = 1_048_576  # GetLogEvents / FilterLogEvents answer at most this much

RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def event_size(message: str) -> int:
    return len(message.encode()) + EVENT_OVERHEAD


def check_retention(days: int) -> None:
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{allowed}]"
        )


def retention_cutoff(retention_days: int | None, now_ms: int) -> int | None:
    """Events with a timestamp before this are past the group's retention (None: kept forever)."""
    return None if retention_days is None else now_ms - retention_days * DAY_MS


@dataclass(frozen=True, slots=True)
class Accepted:
    """What PutLogEvents keeps of a batch: the slice [start, end) and the rejection info."""

    start: int
    end: int
    rejected: dict[str, int]


def check_batch(
    events: Sequence[tuple[int, str]], now_ms: int, retention_days: int | None
) -> Accepted:
    """Validate a PutLogEvents batch (already sorted by the caller's promise) and find which
    events are stored. Structural faults fail the whole call; too old, expired and too new
    events are rejected while the rest is kept, as CloudWatch Logs does."""
    total = 0
    previous: int | None = None
    for timestamp, message in events:
        size = event_size(message)
        if size - EVENT_OVERHEAD > MAX_EVENT_BYTES:
            raise InvalidParameterException(
                f"Log event too large: {size - EVENT_OVERHEAD} bytes exceeds the limit of "
                f"{MAX_EVENT_BYTES} bytes."
            )
        total += size
        if previous is not None and timestamp < previous:
            raise InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order."
            )
        previous = timestamp
    if total > MAX_BATCH_BYTES:
        raise InvalidParameterException(
            f"Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )
    too_old_before = now_ms - MAX_PAST_MS
    cutoff = retention_cutoff(retention_days, now_ms)
    too_new_after = now_ms + MAX_FUTURE_MS
    # The batch is chronological, so each rejected kind is a prefix or a suffix; both end
    # indexes are exclusive, as the model documents tooOldLogEventEndIndex.
    start = 0
    expired_end = too_old_end = None
    while start < len(events):
        timestamp = events[start][0]
        if cutoff is not None and timestamp < cutoff:
            expired_end = start + 1
        elif timestamp < too_old_before:
            too_old_end = start + 1
        else:
            break
        start += 1
    end = len(events)
    while end > start and events[end - 1][0] > too_new_after:
        end -= 1
    if end > start and events[end - 1][0] - events[start][0] > MAX_SPAN_MS:
        raise InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )
    rejected: dict[str, int] = {}
    if too_old_end is not None:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end is not None:
        rejected["expiredLogEventEndIndex"] = expired_end
    if end < len(events):
        rejected["tooNewLogEventStartIndex"] = end
    return Accepted(start, end, rejected)
