"""glibc's malloc, told at start-up how many arenas to keep, and asked to give freed memory back.

glibc gives each thread that meets a locked arena a new one, up to 8 per core; memory freed in one arena is
not reused by threads on another, so with I/O and render threads allocating and freeing large buffers RSS
wanders far above what is in use (measured in bench/RESULTS.md, "Memory"). ``--malloc-arenas`` caps them with
``mallopt(M_ARENA_MAX)`` before any thread starts (the cap applies to arenas created later; forked workers
inherit it); ``--malloc-trim-seconds`` calls ``malloc_trim(0)`` periodically. Elsewhere than glibc, neither
does anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas at ``count`` (0: leave them alone); whether the cap was set."""
    if count <= 0:
        return False
    libc = _libc()
    if libc is None:
        log.info("not glibc: --malloc-arenas does nothing here")
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give freed heap memory back to the system; whether any was."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
