"""glibc's malloc, told at start-up how many arenas to keep and where large blocks go, and asked to give
freed memory back.

glibc gives each thread that meets a locked arena a new one, up to 8 per core; memory freed in one arena is
not reused by threads on another, so with I/O and render threads allocating and freeing large buffers RSS
wanders far above what is in use (measured in bench/RESULTS.md, "Memory"). ``--malloc-arenas`` caps them with
``mallopt(M_ARENA_MAX)``. glibc also raises its mmap threshold each time a mapped block is freed (up to 32 MB),
so that originals, S3 bodies and decoded frames of a few MB end up inside the heaps, where the holes they leave
are rarely given back; ``--malloc-mmap-threshold-kb`` fixes the threshold (which stops the raising): larger
blocks are mapped on their own and unmapped when freed. Both are set before any thread starts (they apply to
what is allocated later; forked workers inherit them). ``--malloc-trim-seconds`` calls ``malloc_trim(0)``
periodically. Elsewhere than glibc, none of them does anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
M_MMAP_THRESHOLD = -3


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
    return _mallopt(M_ARENA_MAX, count, "--malloc-arenas")


def fix_mmap_threshold(kib: int) -> bool:
    """Map blocks of ``kib`` KiB and more on their own, at a threshold glibc no longer raises (0: leave glibc's
    dynamic one); whether it was set."""
    return _mallopt(M_MMAP_THRESHOLD, kib * 1024, "--malloc-mmap-threshold-kb")


def _mallopt(param: int, value: int, flag: str) -> bool:
    if value <= 0:
        return False
    libc = _libc()
    if libc is None:
        log.info("not glibc: %s does nothing here", flag)
        return False
    return bool(libc.mallopt(param, value))


def trim() -> bool:
    """Give freed heap memory back to the system; whether any was."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
