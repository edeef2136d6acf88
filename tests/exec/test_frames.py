"""The exec stream's frame codec (portside/exec/frames.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.exec import frames


@given(st.sampled_from(sorted(frames.CHANNELS)), st.binary(max_size=2048))
def test_every_frame_decodes_to_what_was_encoded(channel: int, payload: bytes) -> None:
    frame = frames.decode(frames.encode(channel, payload))
    assert (frame.channel, frame.payload) == (channel, payload)


def test_the_channel_is_the_first_byte() -> None:
    assert frames.encode(frames.STDOUT, b"hi") == b"\x01hi"
    assert frames.encode(frames.STDIN_EOF) == b"\x06"


def test_json_channels_carry_objects() -> None:
    assert frames.decode(frames.resize(40, 120)).json() == {"rows": 40, "cols": 120}
    assert frames.decode(frames.exit_code(3)).json() == {"exitCode": 3}
    assert frames.decode(frames.exit_error("no")).json() == {"error": "no"}


@pytest.mark.parametrize(
    "message, why",
    [
        (b"", "empty"),
        (b"\x09data", "unknown channel 9"),
        ("\x01text", "text messages"),
    ],
)
def test_what_is_not_a_frame_is_refused(message: bytes | str, why: str) -> None:
    with pytest.raises(frames.FrameError, match=why):
        frames.decode(message)


def test_a_json_channel_with_a_bad_payload_is_refused() -> None:
    with pytest.raises(frames.FrameError, match="not JSON"):
        frames.decode(b"\x04{oops").json()
    with pytest.raises(frames.FrameError, match="not a JSON object"):
        frames.decode(b"\x04[1]").json()
    with pytest.raises(frames.FrameError, match="does not carry JSON"):
        frames.encode_json(frames.STDOUT, {})


@pytest.mark.parametrize(
    "value, size",
    [
        ({"rows": 24, "cols": 80}, (24, 80)),
        ({"rows": 0, "cols": 80}, None),
        ({"rows": "24", "cols": 80}, None),
        ({"rows": 24}, None),
        ({"rows": 10**6, "cols": 80}, None),
    ],
)
def test_window_sizes_are_taken_only_when_sane(value: dict[str, object], size: object) -> None:
    assert frames.window(value) == size


@pytest.mark.parametrize(
    "endpoint, url",
    [
        ("http://10.0.0.5:4810", "ws://10.0.0.5:4810/_portside/exec/v1/ecs-execute-command-a"),
        ("https://ps.example.com", "wss://ps.example.com/_portside/exec/v1/ecs-execute-command-a"),
    ],
)
def test_the_cli_opens_the_stream_on_the_endpoint_it_called(endpoint: str, url: str) -> None:
    from portside.cli.exec import stream_url

    returned = "ws://127.0.0.1:4810/_portside/exec/v1/ecs-execute-command-a"
    assert stream_url(returned, endpoint) == url
