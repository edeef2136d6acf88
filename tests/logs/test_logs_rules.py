"""PutLogEvents batch rules, retention values and GetLogEvents tokens (pure)."""

from __future__ import annotations

import pytest

from portside.errors import InvalidParameterException
from portside.logs import rules, tokens
from portside.logs.tokens import Cursor, Position

NOW = 1_800_000_000_000
DAY = rules.DAY_MS


def test_a_good_batch_is_kept_whole() -> None:
    got = rules.check_batch([(NOW - 5, "a"), (NOW, "b")], NOW, None)
    assert (got.start, got.end, got.rejected) == (0, 2, {})


def test_old_new_and_expired_events_are_rejected_not_failed() -> None:
    events = [
        (NOW - 20 * DAY, "expired"),
        (NOW - 15 * DAY, "too old"),
        (NOW - 10, "ok"),
        (NOW + rules.MAX_FUTURE_MS + 1, "too new"),
    ]
    got = rules.check_batch(events, NOW, retention_days=14 + 5)
    assert events[got.start : got.end] == [(NOW - 10, "ok")]
    assert got.rejected == {
        "expiredLogEventEndIndex": 1,
        "tooOldLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 3,
    }


def test_retention_shorter_than_fourteen_days_expires_first() -> None:
    got = rules.check_batch([(NOW - 2 * DAY, "x"), (NOW, "y")], NOW, retention_days=1)
    assert got.rejected == {"expiredLogEventEndIndex": 1}
    assert (got.start, got.end) == (1, 2)


def test_exactly_two_hours_ahead_is_accepted() -> None:
    got = rules.check_batch([(NOW + rules.MAX_FUTURE_MS, "x")], NOW, None)
    assert got.rejected == {}


def test_batch_must_be_chronological() -> None:
    with pytest.raises(InvalidParameterException, match="chronological order"):
        rules.check_batch([(NOW, "b"), (NOW - 1, "a")], NOW, None)


def test_batch_may_not_span_more_than_a_day() -> None:
    with pytest.raises(InvalidParameterException, match="24 hours"):
        rules.check_batch([(NOW - DAY - 1, "a"), (NOW, "b")], NOW, None)
    # The span counts accepted events only: a rejected too-old event does not count.
    got = rules.check_batch([(NOW - 15 * DAY, "a"), (NOW, "b")], NOW, None)
    assert got.rejected == {"tooOldLogEventEndIndex": 1}


def test_batch_size_counts_26_bytes_per_event() -> None:
    fits = [(NOW, "x" * (1000 - 26))] * 1048
    rules.check_batch(fits, NOW, None)
    with pytest.raises(InvalidParameterException, match="Upload too large"):
        rules.check_batch([*fits, (NOW, "x" * 600)], NOW, None)


def test_retention_values() -> None:
    for days in rules.RETENTION_DAYS:
        rules.check_retention(days)
    for days in (0, 2, 4000):
        with pytest.raises(InvalidParameterException, match="retentionInDays"):
            rules.check_retention(days)


def test_tokens_round_trip_and_reject_garbage() -> None:
    for cursor in (Cursor(True, Position(NOW, 42)), Cursor(False, tokens.START)):
        assert tokens.parse(cursor.token()) == cursor
        assert tokens.parse_filter_token(tokens.filter_token(cursor)) == cursor
    for bad in ("", "f/", "x/123", "f/12ab", "F", "b/" + "1" * 35):
        with pytest.raises(InvalidParameterException):
            tokens.parse(bad)
