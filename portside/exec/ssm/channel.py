"""One end of a data channel, without I/O: what to send, and what received bytes mean.

The server's end sends output_stream_data and receives input_stream_data; the plugin's end the
other way round. Both acknowledge each stream data message they receive and resend their own
until acknowledged (sequencer.py). channel_closed, start_publication and pause_publication are
not sequenced: they are handed to the caller as they come.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from portside.exec.ssm import payloads
from portside.exec.ssm.message import (
    ACKNOWLEDGE,
    INPUT_STREAM_DATA,
    OUTPUT_STREAM_DATA,
    Message,
    MessageError,
    decode,
    encode,
)
from portside.exec.ssm.sequencer import Incoming, Outgoing


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Received:
    replies: list[bytes] = field(default_factory=list)  # acknowledgements to send back
    data: list[Message] = field(default_factory=list)  # the other side's stream, in order
    control: list[Message] = field(default_factory=list)  # channel_closed, publication


@dataclass
class DataChannel:
    sends: str  # OUTPUT_STREAM_DATA on the server, INPUT_STREAM_DATA in the plugin
    clock_ms: Callable[[], int] = wall_ms
    outgoing: Outgoing = field(default_factory=Outgoing)
    incoming: Incoming[Message] = field(default_factory=Incoming)

    @property
    def receives(self) -> str:
        return INPUT_STREAM_DATA if self.sends == OUTPUT_STREAM_DATA else OUTPUT_STREAM_DATA

    def data(self, payload_type: int, payload: bytes, now: float) -> bytes:
        """A stream data message, numbered and kept until acknowledged."""
        seq = self.outgoing.take_sequence()
        raw = encode(
            Message(
                self.sends,
                seq,
                payload,
                payload_type=int(payload_type),
                created_date=self.clock_ms(),
            )
        )
        self.outgoing.sent(seq, raw, now)
        return raw

    def receive(self, raw: bytes, now: float) -> Received:
        """What one received websocket message means; MessageError when it is none."""
        m = decode(raw)
        out = Received()
        if m.message_type == ACKNOWLEDGE:
            self.outgoing.acknowledged(payloads.acknowledged_sequence(m), now)
        elif m.message_type == self.receives:
            ack, ready = self.incoming.received(m.sequence_number, m)
            if ack:
                out.replies.append(encode(payloads.acknowledge(m, self.clock_ms())))
            out.data.extend(ready)
        elif m.message_type == self.sends:
            raise MessageError(f"{m.message_type} only goes the other way")
        else:
            out.control.append(m)
        return out

    def due(self, now: float) -> list[bytes]:
        return self.outgoing.due(now)

    @property
    def all_acknowledged(self) -> bool:
        return self.outgoing.waiting == 0
