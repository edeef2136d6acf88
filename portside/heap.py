"""The server process's C heap: glibc's malloc, told to hand freed memory back to the system.

A long-running server that allocates and frees large transient blocks from several threads
(a reconcile pass reading a service's tasks, a page of the change feed, SQLite's page caches)
ratchets its RSS up under glibc's defaults: each thread may get an arena of its own (up to 8 per
core), and freed pages inside an arena stay mapped until something trims them. Two arenas and a
trim on every maintenance pass keep the RSS at what is really in use (the soak, bench/soak.py,
measures it). Elsewhere than glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger("portside.heap")

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to tune
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let malloc create at most `arenas` arenas from now on; whether it could be set."""
    libc = _glibc()
    if libc is None:
        return False
    done = bool(libc.mallopt(M_ARENA_MAX, arenas))
    if not done:
        log.warning("could not limit malloc arenas to %d", arenas)
    return done


def release() -> bool:
    """Return the heap's free pages to the system; whether any were returned."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
