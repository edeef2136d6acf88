"""Positions in the log store as opaque tokens.

A position is (timestamp, seq): events are ordered by timestamp, then by the store's global
sequence number. A token names a position and a direction, never an offset, so following one
costs an index seek however deep into the stream it points.

GetLogEvents tokens look like AWS's: `f/` or `b/` then digits. FilterLogEvents tokens are
opaque text; they carry the direction too.
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.errors import InvalidParameterException

_TS_DIGITS = 16
_SEQ_DIGITS = 20


@dataclass(frozen=True, slots=True, order=True)
class Position:
    timestamp: int
    seq: int


START = Position(0, 0)  # before every event: stored timestamps are >= 0, seqs >= 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """Read forward from after `position`, or backward from before it."""

    forward: bool
    position: Position

    def token(self) -> str:
        p = self.position
        return f"{'f' if self.forward else 'b'}/{p.timestamp:0{_TS_DIGITS}d}{p.seq:0{_SEQ_DIGITS}d}"


def parse(token: str) -> Cursor:
    """The cursor a GetLogEvents token names; InvalidParameterException if it is not ours."""
    kind, _, digits = token.partition("/")
    if kind not in ("f", "b") or len(digits) != _TS_DIGITS + _SEQ_DIGITS or not digits.isdigit():
        raise InvalidParameterException("The specified nextToken is invalid.")
    return Cursor(kind == "f", Position(int(digits[:_TS_DIGITS]), int(digits[_TS_DIGITS:])))


def filter_token(cursor: Cursor) -> str:
    """FilterLogEvents' nextToken: the same cursor, spelled differently from GetLogEvents'."""
    return "F" + cursor.token().replace("/", "")


def parse_filter_token(token: str) -> Cursor:
    if len(token) < 2 or token[0] != "F" or token[1] not in "fb":
        raise InvalidParameterException("The specified nextToken is invalid.")
    return parse(f"{token[1]}/{token[2:]}")
