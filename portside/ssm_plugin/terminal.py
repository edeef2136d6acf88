"""The local terminal during a session: raw mode, its size, the signals that become keystrokes.

In raw mode Ctrl-C, Ctrl-\\ and Ctrl-Z reach the remote terminal as bytes, which is where the
command that should get them runs. Without a terminal (stdin piped), the signals a user sends
the plugin are turned into the same bytes, as AWS's plugin does, so they interrupt the remote
command and not the session. With no terminal to measure, the size is AWS's fallback, 100
rows by 300 columns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Callable, Iterator
from types import FrameType

FALLBACK_SIZE = (100, 300)
SIGNAL_BYTES = {signal.SIGINT: b"\x03", signal.SIGQUIT: b"\x1c", signal.SIGTSTP: b"\x1a"}


def size() -> tuple[int, int]:
    """(rows, cols) of the terminal on stdout (or stdin)."""
    for stream in (sys.stdout, sys.stdin):
        with contextlib.suppress(OSError, ValueError):
            got = os.get_terminal_size(stream.fileno())
            if got.lines > 0 and got.columns > 0:
                return got.lines, got.columns
    return FALLBACK_SIZE


@contextlib.contextmanager
def raw(fd: int) -> Iterator[None]:
    """Raw mode on `fd` when it is a terminal, restored on the way out."""
    saved = None
    with contextlib.suppress(termios.error, OSError):
        if os.isatty(fd):
            saved = termios.tcgetattr(fd)
            tty.setraw(fd)
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def signals(send: Callable[[bytes], None], resized: Callable[[], None]) -> Iterator[None]:
    """SIGWINCH -> `resized`; SIGINT, SIGQUIT, SIGTSTP -> their byte to `send`."""

    def on_winch(signum: int, frame: FrameType | None) -> None:
        resized()

    def on_key(signum: int, frame: FrameType | None) -> None:
        send(SIGNAL_BYTES[signal.Signals(signum)])

    previous = {signal.SIGWINCH: signal.signal(signal.SIGWINCH, on_winch)}
    for sig in SIGNAL_BYTES:
        previous[sig] = signal.signal(sig, on_key)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
