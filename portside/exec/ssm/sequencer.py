"""Ordering and resending on a data channel, pure (the caller passes the time).

Each side numbers its stream data messages from 0 and keeps each one until the other side
acknowledges it, sending it again when no acknowledgement came within the retransmission
timeout: the plugin drops a message it is not ready for (before its handshake completes)
without acknowledging it, and counts on the resend. The receiving side acknowledges every
message, hands them on in sequence order, holds early ones until the gap fills and drops the
ones it has already handed on (a resend whose acknowledgement crossed it).

The timeout follows the plugin's: a smoothed round trip time plus four times its variation,
at least 10 ms more than the round trip, at most 1 s.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

INITIAL_RTO = 0.2
MAX_RTO = 1.0
MIN_EXTRA = 0.01
BUFFER_CAPACITY = 10000
RESEND_LIMIT = 8


@dataclass
class _Pending:
    data: bytes
    first_sent: float
    last_sent: float
    resent: int = 0


@dataclass
class Outgoing:
    """Sent stream data waiting for its acknowledgement."""

    next_sequence: int = 0
    rto: float = INITIAL_RTO
    _rtt: float = 0.1
    _rttvar: float = 0.0
    _pending: OrderedDict[int, _Pending] = field(default_factory=OrderedDict)

    def take_sequence(self) -> int:
        seq = self.next_sequence
        self.next_sequence += 1
        return seq

    def sent(self, sequence: int, data: bytes, now: float) -> None:
        if len(self._pending) >= BUFFER_CAPACITY:
            self._pending.popitem(last=False)
        self._pending[sequence] = _Pending(data, now, now)

    def acknowledged(self, sequence: int, now: float) -> bool:
        """Forget an acknowledged message; False when it was not waiting (a repeat)."""
        pending = self._pending.pop(sequence, None)
        if pending is None:
            return False
        if pending.resent == 0:  # a resent message's round trip says nothing (Karn)
            self._measure(now - pending.first_sent)
        return True

    def due(self, now: float, limit: int = RESEND_LIMIT) -> list[bytes]:
        """The messages to send again now, oldest first and at most `limit` (a receiver holds
        and acknowledges what comes after a gap, so the oldest are the ones missing); each
        counts as sent now."""
        out: list[bytes] = []
        for pending in self._pending.values():
            if len(out) >= limit:
                break
            if now - pending.last_sent >= self.rto:
                pending.last_sent = now
                pending.resent += 1
                out.append(pending.data)
        return out

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def oldest_resends(self) -> int:
        """How many times the oldest waiting message was sent again."""
        return next(iter(self._pending.values())).resent if self._pending else 0

    def _measure(self, rtt: float) -> None:
        self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._rtt - rtt)
        self._rtt = 0.875 * self._rtt + 0.125 * rtt
        self.rto = min(MAX_RTO, self._rtt + max(MIN_EXTRA, 4 * self._rttvar))


@dataclass
class Incoming(Generic[T]):
    """Received stream data, handed on in sequence order."""

    expected: int = 0
    _early: dict[int, T] = field(default_factory=dict)

    def received(self, sequence: int, item: T) -> tuple[bool, list[T]]:
        """(acknowledge it?, the items now in order). A message already handed on is
        acknowledged again and dropped; an early one is held, unless the buffer is full (then
        it is neither kept nor acknowledged, and its resend comes back later)."""
        if sequence < self.expected:
            return True, []
        if sequence > self.expected:
            if sequence not in self._early and len(self._early) >= BUFFER_CAPACITY:
                return False, []
            self._early[sequence] = item
            return True, []
        ready = [item]
        self.expected += 1
        while self.expected in self._early:
            ready.append(self._early.pop(self.expected))
            self.expected += 1
        return True, ready
